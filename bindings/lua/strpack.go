package lua

import (
	"encoding/binary"
	"math"
	"strings"

	lua "github.com/imscript/imscript/bindings/lua/internal/gopherlua"
)

// Lua 5.3's string.pack, string.unpack and string.packsize, and
// table.unpack, for gopher-lua (a Lua 5.1). The formats are Lua 5.3's
// (lstrlib.c), with the sizes of a 64-bit Lua 5.3: h = 2 bytes, i = 4,
// l, j, T and the default of s = 8, f = 4, d and n = 8, native alignment
// (!) 8, native endianness the machine's.
//
// Lua 5.3 has 64-bit integers; gopher-lua's numbers are float64s, which
// hold every integer up to 2^53 in magnitude exactly and, beyond, only
// some (multiples of ever larger powers of two). So:
//   - pack takes a number with an integral value from -2^63 to 2^63
//     (exclusive), else "number has no integer representation", as Lua 5.3
//     says of a float. A value beyond 2^53 is packed as the float it is:
//     an integer literal beyond 2^53 was rounded when the script was
//     parsed.
//   - unpack returns an integer exactly or raises an error: a value the
//     float64 cannot hold exactly (e.g. 2^53 + 1 from a "j") is an error
//     that says so, never a silently different number. Read such fields
//     as bytes ("c8") or in halves ("I4I4").
//   - As in Lua 5.3, unsigned 8-byte fields (J, I8, L, T) read as signed:
//     ("J"):unpack(("\255"):rep(8)) is -1.

// installStrPack adds string.pack, string.unpack, string.packsize and
// table.unpack to L (strings' methods too: fmt:unpack(data)).
func installStrPack(L *lua.LState) {
	if st, ok := L.GetGlobal("string").(*lua.LTable); ok {
		st.RawSetString("pack", L.NewFunction(strPack))
		st.RawSetString("unpack", L.NewFunction(strUnpack))
		st.RawSetString("packsize", L.NewFunction(strPackSize))
	}
	if tt, ok := L.GetGlobal("table").(*lua.LTable); ok {
		if un := L.GetGlobal("unpack"); un != lua.LNil && tt.RawGetString("unpack") == lua.LNil {
			tt.RawSetString("unpack", un)
		}
	}
}

// The sizes of Lua 5.3 on a 64-bit machine.
const (
	packIntSize   = 4  // i, I
	packLongSize  = 8  // l, L, j, J, T, s
	packMaxInt    = 16 // largest i[n]
	packMaxAlign  = 8  // !
	packMaxSize   = math.MaxInt32
	packLuaIntLen = 8 // bytes of a Lua 5.3 integer
)

var nativeLittle = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

type packKind uint8

const (
	kInt       packKind = iota // signed integer
	kUint                      // unsigned integer
	kFloat                     // f, d, n
	kChar                      // c[n]: fixed-size string
	kString                    // s[n]: length-prefixed string
	kZstr                      // z: zero-terminated string
	kPadding                   // x
	kPaddAlign                 // X
	kNop                       // spaces, endianness, !
)

// packFormat is a format string being read, with its state (Lua's Header).
type packFormat struct {
	L        *lua.LState
	fname    string
	f        string
	i        int
	little   bool
	maxAlign int
}

func newPackFormat(L *lua.LState, fname, f string) *packFormat {
	return &packFormat{L: L, fname: fname, f: f, little: nativeLittle, maxAlign: 1}
}

func (p *packFormat) more() bool { return p.i < len(p.f) }

func (p *packFormat) argError(arg int, msg string) {
	p.L.RaiseError("bad argument #%d to '%s' (%s)", arg, p.fname, msg)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// num reads an optional size (def without one). Like Lua, it stops
// reading digits before the number could overflow: the digits left are
// then read as (invalid) options.
func (p *packFormat) num(def int) int {
	if !p.more() || !isDigit(p.f[p.i]) {
		return def
	}
	a := 0
	for p.more() && isDigit(p.f[p.i]) && a <= (packMaxSize-9)/10 {
		a = a*10 + int(p.f[p.i]-'0')
		p.i++
	}
	return a
}

func (p *packFormat) numLimit(def int) int {
	sz := p.num(def)
	if sz > packMaxInt || sz <= 0 {
		p.L.RaiseError("integral size (%d) out of limits [1,%d]", sz, packMaxInt)
	}
	return sz
}

// option reads one option: its kind and size.
func (p *packFormat) option() (packKind, int) {
	c := p.f[p.i]
	p.i++
	switch c {
	case 'b':
		return kInt, 1
	case 'B':
		return kUint, 1
	case 'h':
		return kInt, 2
	case 'H':
		return kUint, 2
	case 'l', 'j':
		return kInt, packLongSize
	case 'L', 'J', 'T':
		return kUint, packLongSize
	case 'f':
		return kFloat, 4
	case 'd', 'n':
		return kFloat, 8
	case 'i':
		return kInt, p.numLimit(packIntSize)
	case 'I':
		return kUint, p.numLimit(packIntSize)
	case 's':
		return kString, p.numLimit(packLongSize)
	case 'c':
		n := p.num(-1)
		if n == -1 {
			p.L.RaiseError("missing size for format option 'c'")
		}
		return kChar, n
	case 'z':
		return kZstr, 0
	case 'x':
		return kPadding, 1
	case 'X':
		return kPaddAlign, 0
	case ' ':
	case '<':
		p.little = true
	case '>':
		p.little = false
	case '=':
		p.little = nativeLittle
	case '!':
		p.maxAlign = p.numLimit(packMaxAlign)
	default:
		p.L.RaiseError("invalid format option '%c'", c)
	}
	return kNop, 0
}

// details reads the next option and the padding that aligns it at
// offset total.
func (p *packFormat) details(total int) (kind packKind, size, pad int) {
	kind, size = p.option()
	align := size
	if kind == kPaddAlign {
		if !p.more() {
			p.argError(1, "invalid next option for option 'X'")
		}
		var next packKind
		next, align = p.option()
		if next == kChar || align == 0 {
			p.argError(1, "invalid next option for option 'X'")
		}
	}
	if align <= 1 || kind == kChar {
		return kind, size, 0
	}
	if align > p.maxAlign {
		align = p.maxAlign
	}
	if align&(align-1) != 0 {
		p.argError(1, "format asks for alignment not power of 2")
	}
	return kind, size, (align - total&(align-1)) & (align - 1)
}

// checkInteger reads argument arg as an integer: a number (or a numeric
// string) with an integral value in [-2^63, 2^63).
func checkInteger(p *packFormat, arg int) int64 {
	f := float64(p.L.CheckNumber(arg))
	if f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
		p.argError(arg, "number has no integer representation")
	}
	return int64(f)
}

func appendInt(b []byte, n uint64, little bool, size int, neg bool) []byte {
	start := len(b)
	b = append(b, make([]byte, size)...)
	buf := b[start:]
	for i := 0; i < size; i++ {
		byt := byte(n)
		if i >= 8 {
			byt = 0
			if neg {
				byt = 0xff // sign extension
			}
		}
		if little {
			buf[i] = byt
		} else {
			buf[size-1-i] = byt
		}
		n >>= 8
	}
	return b
}

func strPack(L *lua.LState) int {
	p := newPackFormat(L, "pack", L.CheckString(1))
	var b []byte
	arg := 1
	total := 0
	for p.more() {
		kind, size, pad := p.details(total)
		total += pad + size
		b = append(b, make([]byte, pad)...)
		arg++
		switch kind {
		case kInt:
			n := checkInteger(p, arg)
			if size < packLuaIntLen {
				lim := int64(1) << (size*8 - 1)
				if n < -lim || n >= lim {
					p.argError(arg, "integer overflow")
				}
			}
			b = appendInt(b, uint64(n), p.little, size, n < 0)
		case kUint:
			n := checkInteger(p, arg)
			if size < packLuaIntLen && uint64(n) >= uint64(1)<<(size*8) {
				p.argError(arg, "unsigned overflow")
			}
			b = appendInt(b, uint64(n), p.little, size, false)
		case kFloat:
			x := float64(L.CheckNumber(arg))
			if size == 4 {
				b = appendInt(b, uint64(math.Float32bits(float32(x))), p.little, 4, false)
			} else {
				b = appendInt(b, math.Float64bits(x), p.little, 8, false)
			}
		case kChar:
			s := L.CheckString(arg)
			if len(s) > size {
				p.argError(arg, "string longer than given size")
			}
			b = append(b, s...)
			b = append(b, make([]byte, size-len(s))...)
		case kString:
			s := L.CheckString(arg)
			if size < packLuaIntLen && uint64(len(s)) >= uint64(1)<<(size*8) {
				p.argError(arg, "string length does not fit in given size")
			}
			b = appendInt(b, uint64(len(s)), p.little, size, false)
			b = append(b, s...)
			total += len(s)
		case kZstr:
			s := L.CheckString(arg)
			if strings.IndexByte(s, 0) >= 0 {
				p.argError(arg, "string contains zeros")
			}
			b = append(b, s...)
			b = append(b, 0)
			total += len(s) + 1
		case kPadding:
			b = append(b, 0)
			arg--
		case kPaddAlign, kNop:
			arg--
		}
	}
	L.Push(lua.LString(b))
	return 1
}

func strPackSize(L *lua.LState) int {
	p := newPackFormat(L, "packsize", L.CheckString(1))
	total := 0
	for p.more() {
		kind, size, pad := p.details(total)
		size += pad
		if total > packMaxSize-size {
			p.argError(1, "format result too large")
		}
		total += size
		if kind == kString || kind == kZstr {
			p.argError(1, "variable-length format")
		}
	}
	L.Push(lua.LNumber(total))
	return 1
}

// readInt reads an integer field as Lua 5.3 does (lua_Integer semantics:
// an unsigned 8-byte field may come out negative). A field wider than 8
// bytes must be a sign (or zero) extension of its low 8 bytes.
func readInt(p *packFormat, s string, size int, signed bool) int64 {
	at := func(i int) byte {
		if p.little {
			return s[i]
		}
		return s[size-1-i]
	}
	var res uint64
	limit := min(size, packLuaIntLen)
	for i := limit - 1; i >= 0; i-- {
		res = res<<8 | uint64(at(i))
	}
	if size < packLuaIntLen {
		if signed {
			mask := uint64(1) << (size*8 - 1)
			res = (res ^ mask) - mask
		}
	} else if size > packLuaIntLen {
		var ext byte
		if signed && int64(res) < 0 {
			ext = 0xff
		}
		for i := limit; i < size; i++ {
			if at(i) != ext {
				p.L.RaiseError("%d-byte integer does not fit into Lua Integer", size)
			}
		}
	}
	return int64(res)
}

// exactNumber is n as a Lua number, or an error when a float64 cannot hold
// it exactly.
func exactNumber(p *packFormat, n int64, size int) lua.LNumber {
	f := float64(n)
	if f >= 1<<63 || int64(f) != n {
		p.L.RaiseError("%d-byte integer %d is not exact as a Lua number (numbers hold integers exactly up to 2^53): unpack it as bytes (c%d) or in parts", size, n, size)
	}
	return lua.LNumber(f)
}

func strUnpack(L *lua.LState) int {
	p := newPackFormat(L, "unpack", L.CheckString(1))
	data := L.CheckString(2)
	ld := len(data)
	init := int64(1)
	if L.Get(3) != lua.LNil {
		init = checkInteger(p, 3)
	}
	// Lua 5.3's posrelat: a negative position counts from the end.
	switch {
	case init < 0 && -init > int64(ld):
		init = 0
	case init < 0:
		init = int64(ld) + init + 1
	}
	if init-1 < 0 || init-1 > int64(ld) {
		p.argError(3, "initial position out of string")
	}
	pos := int(init - 1)
	n := 0
	for p.more() {
		kind, size, pad := p.details(pos)
		if pad+size > ld-pos {
			p.argError(2, "data string too short")
		}
		pos += pad
		n++
		switch kind {
		case kInt, kUint:
			v := readInt(p, data[pos:pos+size], size, kind == kInt)
			L.Push(exactNumber(p, v, size))
		case kFloat:
			if size == 4 {
				L.Push(lua.LNumber(math.Float32frombits(uint32(readInt(p, data[pos:pos+4], 4, false)))))
			} else {
				L.Push(lua.LNumber(math.Float64frombits(uint64(readInt(p, data[pos:pos+8], 8, false)))))
			}
		case kChar:
			L.Push(lua.LString(data[pos : pos+size]))
		case kString:
			l := uint64(readInt(p, data[pos:pos+size], size, false))
			if l > uint64(ld-pos-size) {
				p.argError(2, "data string too short")
			}
			L.Push(lua.LString(data[pos+size : pos+size+int(l)]))
			pos += int(l)
		case kZstr:
			e := strings.IndexByte(data[pos:], 0)
			if e < 0 {
				p.argError(2, "unfinished string for format 'z'")
			}
			L.Push(lua.LString(data[pos : pos+e]))
			pos += e + 1
		default: // padding, alignment, nop
			n--
		}
		pos += size
	}
	L.Push(lua.LNumber(pos + 1))
	return n + 1
}
