package framing

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// lengthConfig is a Length-mode Config with the host settings' defaults:
// body offset = length offset + field size, package_max_length 2 MiB.
func lengthConfig(code string, lengthOffset int) Config {
	_, size, _ := LengthCode(code)
	return Config{Mode: Length, LengthType: code, LengthOffset: lengthOffset, BodyOffset: lengthOffset + size, Max: 2 << 20}
}

// eofConfig is an EOF-mode Config (the settings default delimiter is CRLF).
func eofConfig(eof string, split bool, max int) Config {
	return Config{Mode: EOF, EOF: []byte(eof), Split: split, Max: max}
}

// encodeLength writes n as pack code code would hold it.
func encodeLength(code string, n int64) []byte {
	switch code {
	case "c", "C":
		return []byte{byte(n)}
	case "s", "S", "v":
		return binary.LittleEndian.AppendUint16(nil, uint16(n))
	case "n":
		return binary.BigEndian.AppendUint16(nil, uint16(n))
	case "l", "L", "V":
		return binary.LittleEndian.AppendUint32(nil, uint32(n))
	case "N":
		return binary.BigEndian.AppendUint32(nil, uint32(n))
	}
	panic("unknown code " + code)
}

var packCodes = []struct {
	code   string
	size   int
	signed bool
}{
	{"c", 1, true}, {"C", 1, false},
	{"s", 2, true}, {"S", 2, false}, {"n", 2, false}, {"v", 2, false},
	{"l", 4, true}, {"L", 4, false}, {"N", 4, false}, {"V", 4, false},
}

func TestLengthCode(t *testing.T) {
	for _, pc := range packCodes {
		signed, size, ok := LengthCode(pc.code)
		if !ok || signed != pc.signed || size != pc.size {
			t.Errorf("LengthCode(%q) = %v, %d, %v; want %v, %d, true", pc.code, signed, size, ok, pc.signed, pc.size)
		}
	}
	for _, code := range []string{"", "x", "NN", "q", "J", "P", "n "} {
		if signed, size, ok := LengthCode(code); ok || signed || size != 0 {
			t.Errorf("LengthCode(%q) = %v, %d, %v; want false, 0, false", code, signed, size, ok)
		}
	}
}

func TestFramerEveryPackCode(t *testing.T) {
	for _, pc := range packCodes {
		t.Run(pc.code, func(t *testing.T) {
			f := New(lengthConfig(pc.code, 0))
			if f.LengthSize() != pc.size || f.BodyOffset() != pc.size || f.Signed() != pc.signed {
				t.Fatalf("size %d body offset %d signed %v, want %d, %d, %v",
					f.LengthSize(), f.BodyOffset(), f.Signed(), pc.size, pc.size, pc.signed)
			}
			for _, n := range []int64{0, 1, 5, 100} {
				pkg := append(encodeLength(pc.code, n), bytes.Repeat([]byte{'x'}, int(n))...)
				// Coalesced with the start of the next package.
				buf := append(append([]byte(nil), pkg...), encodeLength(pc.code, 3)...)
				got, err := f.Next(buf)
				if err != nil || got != len(pkg) {
					t.Errorf("length %d: Next = %d, %v; want %d", n, got, err, len(pkg))
				}
				// Every strict prefix is a partial package.
				for i := 0; i < len(pkg); i++ {
					if got, err := f.Next(pkg[:i]); got != 0 || err != nil {
						t.Errorf("length %d, %d of %d bytes: Next = %d, %v; want 0 (need more)", n, i, len(pkg), got, err)
					}
				}
			}
		})
	}
}

func TestFramerByteOrder(t *testing.T) {
	// 0x0102 = 258; read in the wrong order it would be 513 (2 bytes) or
	// more than the buffer holds (4 bytes).
	for _, tc := range []struct {
		code   string
		header []byte
	}{
		{"n", []byte{0x01, 0x02}},
		{"v", []byte{0x02, 0x01}},
		{"S", []byte{0x02, 0x01}},
		{"s", []byte{0x02, 0x01}},
		{"N", []byte{0, 0, 0x01, 0x02}},
		{"V", []byte{0x02, 0x01, 0, 0}},
		{"L", []byte{0x02, 0x01, 0, 0}},
		{"l", []byte{0x02, 0x01, 0, 0}},
	} {
		f := New(lengthConfig(tc.code, 0))
		buf := append(append([]byte(nil), tc.header...), make([]byte, 600)...)
		want := len(tc.header) + 258
		if got, err := f.Next(buf); got != want || err != nil {
			t.Errorf("%s: Next = %d, %v; want %d", tc.code, got, err, want)
		}
	}
}

func TestFramerSignedCodes(t *testing.T) {
	for _, pc := range packCodes {
		c := lengthConfig(pc.code, 0)
		c.Max = 1 << 30
		f := New(c)
		// All bits set: -1 for signed codes, the largest value otherwise.
		header := bytes.Repeat([]byte{0xff}, pc.size)
		got, err := f.Next(header)
		if pc.signed {
			if err == nil || !strings.Contains(err.Error(), "negative package length -1") || errors.Is(err, ErrTooLarge) {
				t.Errorf("%s: Next = %d, %v; want a negative length error", pc.code, got, err)
			}
			continue
		}
		// Unsigned: a long package (4-byte codes: longer than any limit).
		if got != 0 || (err != nil && !errors.Is(err, ErrTooLarge)) {
			t.Errorf("%s: Next = %d, %v; want 0 or ErrTooLarge", pc.code, got, err)
		}
	}
	// An unsigned byte of 200 is 200, not -56.
	f := New(lengthConfig("C", 0))
	buf := append([]byte{200}, make([]byte, 200)...)
	if got, err := f.Next(buf); got != 201 || err != nil {
		t.Errorf("C 200: Next = %d, %v; want 201", got, err)
	}
}

func TestFramerOffsets(t *testing.T) {
	// Two bytes of something else, then a 2-byte big-endian length; the body
	// follows the length (the default body offset).
	f := New(lengthConfig("n", 2))
	if f.BodyOffset() != 4 || f.LengthOffset() != 2 {
		t.Fatalf("length offset %d body offset %d, want 2 and 4", f.LengthOffset(), f.BodyOffset())
	}
	pkg := []byte{'A', 'B', 0, 3, 'x', 'y', 'z'}
	if got, err := f.Next(append(pkg, 'N')); got != 7 || err != nil {
		t.Errorf("Next = %d, %v; want 7", got, err)
	}
	for i := 0; i < len(pkg); i++ {
		if got, _ := f.Next(pkg[:i]); got != 0 {
			t.Errorf("%d bytes: Next = %d, want 0", i, got)
		}
	}

	// A header longer than offset+size: the body starts at 6.
	c := lengthConfig("n", 2)
	c.BodyOffset = 6
	f = New(c)
	pkg = []byte{'A', 'B', 0, 3, 'C', 'D', 'x', 'y', 'z'}
	if got, err := f.Next(append(pkg, pkg...)); got != 9 || err != nil {
		t.Errorf("body offset 6: Next = %d, %v; want 9", got, err)
	}
	if got, _ := f.Next(pkg[:8]); got != 0 {
		t.Errorf("body offset 6, 8 bytes: Next = %d, want 0", got)
	}

	// Body offset 0: the length counts the whole package, header included.
	c = lengthConfig("N", 0)
	c.BodyOffset = 0
	f = New(c)
	whole := append(encodeLength("N", 7), 'a', 'b', 'c')
	if got, err := f.Next(append(whole, 0)); got != 7 || err != nil {
		t.Errorf("body offset 0: Next = %d, %v; want 7", got, err)
	}
	// A length shorter than its own header still takes the header.
	short := encodeLength("N", 1)
	if got, err := f.Next(append(short, 'x')); got != 4 || err != nil {
		t.Errorf("body offset 0, length 1: Next = %d, %v; want 4", got, err)
	}
}

func TestFramerMaxLength(t *testing.T) {
	c := lengthConfig("N", 0)
	c.Max = 100
	f := New(c)
	// 4 + 96 = 100 is allowed.
	if got, err := f.Next(append(encodeLength("N", 96), make([]byte, 96)...)); got != 100 || err != nil {
		t.Errorf("100 bytes: Next = %d, %v; want 100", got, err)
	}
	// 4 + 97 is refused as soon as the header arrives, before the body.
	for _, buf := range [][]byte{encodeLength("N", 97), append(encodeLength("N", 97), make([]byte, 97)...)} {
		_, err := f.Next(buf)
		if !errors.Is(err, ErrTooLarge) {
			t.Errorf("%d bytes buffered: err = %v, want ErrTooLarge", len(buf), err)
		}
		if err != nil && err.Error() != "package exceeds package_max_length: 101 > 100 bytes" {
			t.Errorf("error text %q", err)
		}
	}
	// A huge announced length is refused too (no overflow).
	if _, err := f.Next([]byte{0xff, 0xff, 0xff, 0xff}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("4 GiB announced: err = %v, want ErrTooLarge", err)
	}
}

func TestFramerEOF(t *testing.T) {
	check := func(f *Framer, buf string, want int) {
		t.Helper()
		got, err := f.Next([]byte(buf))
		if err != nil || got != want {
			t.Errorf("Next(%q) = %d, %v; want %d", buf, got, err, want)
		}
	}
	// open_eof_check without split: everything up to the last delimiter
	// (Swoole hands over what has arrived, possibly several packages).
	f := New(eofConfig("\r\n", false, 2<<20))
	check(f, "a\r\nb\r\nc", 6)
	check(f, "abc", 0)
	check(f, "abc\r", 0)
	check(f, "abc\r\n", 5)
	check(f, "", 0)

	// open_eof_split: exactly one package per call.
	f = New(eofConfig("||", true, 2<<20))
	if !f.Split() || f.Mode() != EOF {
		t.Fatal("Split did not turn on delimiter framing")
	}
	check(f, "a||b||c", 3)
	check(f, "||", 2)
	check(f, "ab|", 0)
	check(f, "ab||", 4)

	// A delimiter of one byte, binary.
	f = New(eofConfig("\x00", true, 2<<20))
	check(f, "x\x00y\x00", 2)
}

func TestFramerEOFMaxLength(t *testing.T) {
	for _, split := range []bool{false, true} {
		f := New(eofConfig("\n", split, 10))
		// No delimiter within the limit: an error in both modes.
		_, err := f.Next(bytes.Repeat([]byte{'a'}, 11))
		if !errors.Is(err, ErrTooLarge) {
			t.Errorf("split=%v, 11 bytes without a delimiter: err = %v, want ErrTooLarge", split, err)
		} else if err.Error() != "package exceeds package_max_length: no package_eof within 10 bytes" {
			t.Errorf("error text %q", err)
		}
		// Up to the limit without a delimiter: wait for more.
		if got, err := f.Next(bytes.Repeat([]byte{'a'}, 10)); got != 0 || err != nil {
			t.Errorf("split=%v, 10 bytes without a delimiter: Next = %d, %v; want 0", split, got, err)
		}
	}
	// In split mode, one package longer than the limit is an error.
	f := New(eofConfig("\n", true, 10))
	if _, err := f.Next([]byte("0123456789\n")); !errors.Is(err, ErrTooLarge) {
		t.Errorf("11-byte package: err = %v, want ErrTooLarge", err)
	}
	if got, err := f.Next([]byte("012345678\n")); got != 10 || err != nil {
		t.Errorf("10-byte package: Next = %d, %v; want 10", got, err)
	}
	// Without split, several packages up to the last delimiter count
	// together against the limit.
	f = New(eofConfig("\n", false, 10))
	if _, err := f.Next([]byte("01234\n6789\n")); !errors.Is(err, ErrTooLarge) {
		t.Errorf("two packages of 11 bytes: err = %v, want ErrTooLarge", err)
	}
}

func TestFramerRaw(t *testing.T) {
	f := New(Config{Max: 10})
	if f.Mode() != Raw {
		t.Fatalf("mode %v, want raw", f.Mode())
	}
	for _, n := range []int{0, 1, 7, 70000} {
		if got, err := f.Next(make([]byte, n)); got != n || err != nil {
			t.Errorf("raw %d bytes: Next = %d, %v", n, got, err)
		}
	}
}

func TestFramerConfigCopied(t *testing.T) {
	eof := []byte("\r\n")
	f := New(Config{Mode: EOF, EOF: eof, Split: true, Max: 100})
	eof[0] = 'x' // the caller's slice no longer matters
	if got, _ := f.Next([]byte("ab\r\n")); got != 4 {
		t.Fatalf("Next after the caller changed its EOF = %d, want 4", got)
	}
	got := f.Config()
	got.EOF[0] = 'y'
	if f.Config().EOF[0] != '\r' || f.Max() != 100 || !f.Split() {
		t.Fatalf("Config() = %+v", f.Config())
	}
}

func TestConfigValidate(t *testing.T) {
	good := []Config{
		{},
		lengthConfig("N", 0),
		{Mode: Length, LengthType: "c", LengthOffset: 3, BodyOffset: 0, Max: 1},
		eofConfig("\r\n", false, 1),
	}
	for _, c := range good {
		if err := c.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v", c, err)
		}
	}
	bad := []Config{
		{Mode: Length, LengthType: "x", Max: 10},
		{Mode: Length, LengthType: "N", LengthOffset: -1, Max: 10},
		{Mode: Length, LengthType: "N", BodyOffset: -1, Max: 10},
		{Mode: Length, LengthType: "N", Max: 0},
		{Mode: EOF, Max: 10},
		{Mode: EOF, EOF: []byte("\n"), Max: 0},
		{Mode: 7, Max: 10},
	}
	for _, c := range bad {
		if err := c.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want an error", c)
		}
	}
	// What an unchecked unknown code does: every package is refused.
	f := New(Config{Mode: Length, LengthType: "x", Max: 10})
	if _, err := f.Next([]byte("abc")); err == nil || !strings.Contains(err.Error(), "negative package length -1") {
		t.Errorf("unknown code: err = %v", err)
	}
}

func BenchmarkFramerNext(b *testing.B) {
	stream := func(pkg []byte, n int) []byte { return bytes.Repeat(pkg, n) }
	for _, bc := range []struct {
		name string
		c    Config
		buf  []byte
	}{
		{"length", lengthConfig("N", 0), stream(append(encodeLength("N", 60), make([]byte, 60)...), 64)},
		{"eof_split", eofConfig("\r\n", true, 2<<20), stream([]byte(strings.Repeat("x", 62)+"\r\n"), 64)},
		{"eof", eofConfig("\r\n", false, 2<<20), stream([]byte(strings.Repeat("x", 62)+"\r\n"), 64)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			f := New(bc.c)
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.buf)))
			for b.Loop() {
				buf := bc.buf
				for len(buf) > 0 {
					n, err := f.Next(buf)
					if err != nil || n == 0 {
						b.Fatalf("Next = %d, %v", n, err)
					}
					buf = buf[n:]
				}
			}
		})
	}
}

func TestModeString(t *testing.T) {
	for m, want := range map[Mode]string{Raw: "raw", Length: "length", EOF: "eof", 9: "Mode(9)"} {
		if got := m.String(); got != want {
			t.Errorf("Mode(%d).String() = %q, want %q", uint8(m), got, want)
		}
	}
}
