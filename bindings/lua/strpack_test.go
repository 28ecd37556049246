package lua_test

import (
	"fmt"
	"strings"
	"testing"
)

// strpackCases check string.pack / unpack / packsize against Lua 5.3's
// behaviour: the examples of "Programming in Lua" (4th edition, the
// chapter on string.pack) and the assertions of Lua 5.3's test suite
// (testes/tpack.lua), rewritten for Lua 5.1 syntax (no integer division,
// bitwise operators or math.maxinteger), plus what is ours: the exactness
// rule for integers beyond 2^53.
//
// Each code is the body of a function; want is what it returns, shown as
// show() below prints it ("a", 1, true, ...), or "error: <part of the
// message>".
var strpackCases = []struct{ name, code, want string }{
	// Programming in Lua.
	{"pil-i4", `return #string.pack("i4", 100)`, `4`},
	{"pil-iii", `local s = string.pack("iii", 3, -27, 450); return #s, string.unpack("iii", s)`, `12, 3, -27, 450, 13`},
	{"pil-z-loop", `
		local s = "hello\0Lua\0world\0"
		local out, i = {}, 1
		while i <= #s do
			local res
			res, i = string.unpack("z", s, i)
			out[#out + 1] = res
		end
		return table.concat(out, " "), i`, `"hello Lua world", 17`},
	{"pil-s1", `return string.pack("s1", "hello")`, `"\x05hello"`},
	{"pil-I4-big", `return string.pack(">I4", 1000000)`, `"\x00\x0fB@"`},
	{"pil-i2-little", `return string.pack("<i2 i2", 500, 24)`, `"\xf4\x01\x18\x00"`},
	{"pil-i7", `return string.unpack("i7", string.pack("i7", 2^54))`, `18014398509481984, 8`},
	{"pil-i7-neg", `return string.unpack("i7", string.pack("i7", -2^54))`, `-18014398509481984, 8`},
	{"pil-i7-overflow", `return string.pack("i7", 2^55)`, `error: bad argument #2 to 'pack' (integer overflow)`},
	{"pil-i12", `return string.unpack("i12", string.pack("i12", 2^61))`, `2305843009213693952, 13`},
	{"pil-i12-not-fit", `return string.unpack("i12", ("a"):rep(12))`, `error: 12-byte integer does not fit into Lua Integer`},

	// tpack.lua: sizes.
	{"sizes", `local p = string.packsize
		return p("b"), p("h"), p("i"), p("l"), p("T"), p("j"), p("f"), p("d"), p("n"), p("!xXi16")`,
		`1, 2, 4, 8, 8, 8, 4, 8, 8, 8`},
	{"endianness", `return string.pack("i2", 1) == "\1\0", string.pack("f", 24) == string.pack("<f", 24)`, `true, true`},
	{"minimum-B", `return (string.unpack("B", string.pack("B", 0xff)))`, `255`},
	{"minimum-b", `return (string.unpack("b", string.pack("b", 0x7f))), (string.unpack("b", string.pack("b", -0x80)))`, `127, -128`},
	{"minimum-H", `return (string.unpack("H", string.pack("H", 0xffff)))`, `65535`},
	{"minimum-h", `return (string.unpack("h", string.pack("h", 0x7fff))), (string.unpack("h", string.pack("h", -0x8000)))`, `32767, -32768`},
	{"minimum-L", `return (string.unpack("L", string.pack("L", 0xffffffff)))`, `4294967295`},
	{"minimum-l", `return (string.unpack("l", string.pack("l", 0x7fffffff))), (string.unpack("l", string.pack("l", -0x80000000)))`, `2147483647, -2147483648`},
	{"every-size", `
		for i = 1, 16 do
			local s = string.rep("\255", i)
			assert(string.pack("i" .. i, -1) == s, "pack i" .. i)
			assert(string.packsize("i" .. i) == #s)
			assert(string.unpack("i" .. i, s) == -1, "unpack i" .. i)
			s = "\170" .. string.rep("\0", i - 1)
			assert(string.pack("<I" .. i, 0xAA) == s)
			assert(string.unpack("<I" .. i, s) == 0xAA)
			assert(string.pack(">I" .. i, 0xAA) == s:reverse())
			assert(string.unpack(">I" .. i, s:reverse()) == 0xAA)
		end
		return "ok"`, `"ok"`},
	{"wide-extension", `
		local n = 0x0007060504030201
		local s = string.pack("<j", n)
		assert(string.unpack("<j", s) == n)
		assert(string.unpack("<i9", s .. "\0") == n)
		for i = 9, 16 do
			local s = string.pack("<j", -n)
			assert(string.unpack("<j", s) == -n)
			assert(string.unpack("<i" .. i, s .. ("\255"):rep(i - 8)) == -n)
			assert(string.unpack(">i" .. i, ("\255"):rep(i - 8) .. s:reverse()) == -n)
			assert(string.unpack("<I" .. i, s .. ("\0"):rep(i - 8)) == -n)
			assert(not pcall(string.unpack, "<I" .. i, ("\0"):rep(i - 1) .. "\1"))
			assert(not pcall(string.unpack, ">i" .. i, "\1" .. ("\0"):rep(i - 1)))
		end
		return "ok"`, `"ok"`},
	{"wide-overflow", `return string.unpack(">i9", "\1" .. ("\0"):rep(8))`, `error: 9-byte integer does not fit into Lua Integer`},
	{"byte-order", `
		local lstr = "\1\2\3\4\5\6\7\0"
		local n = 0x0007060504030201
		for i = 1, 8 do
			local m = n % 2^(i * 8)
			local s = lstr:sub(1, i)
			assert(string.pack("<i" .. i, m) == s, i)
			assert(string.pack(">i" .. i, m) == s:reverse(), i)
			assert(string.unpack(">i" .. i, s:reverse()) == m, i)
		end
		return "ok"`, `"ok"`},
	{"sign-extension", `
		local u = 0xf0
		for i = 1, 6 do -- 7: 0xf0ffffffffffff is beyond 2^53 (see "beyond-2^53-unsigned")
			assert(string.unpack("<i" .. i, "\240" .. ("\255"):rep(i - 1)) == -16)
			assert(string.unpack(">I" .. i, "\240" .. ("\255"):rep(i - 1)) == u)
			u = u * 256 + 0xff
		end
		return "ok"`, `"ok"`},
	{"mixed-endianness", `
		local a, b = string.unpack("<i2 >i2", "\10\0\0\20")
		return string.pack(">i2 <i2", 10, 20), a, b, string.pack("=i4", 2001) == string.pack("i4", 2001)`,
		`"\x00\x0a\x14\x00", 10, 20, true`},

	// tpack.lua: invalid formats.
	{"i0", `return string.pack("i0", 0)`, `error: integral size (0) out of limits [1,16]`},
	{"i17", `return string.pack("i17", 0)`, `error: integral size (17) out of limits [1,16]`},
	{"!17", `return string.pack("!17", 0)`, `error: out of limits`},
	{"Xi17", `return string.pack("Xi17")`, `error: (17) out of limits [1,16]`},
	{"bad-option", `return string.pack("i3r", 0)`, `error: invalid format option 'r'`},
	{"i16-not-fit", `return string.unpack("i16", string.rep("\3", 16))`, `error: 16-byte integer`},
	{"align-not-power-of-2", `return string.pack("!4i3", 0)`, `error: format asks for alignment not power of 2`},
	{"c-missing-size", `return string.pack("c", "")`, `error: missing size for format option 'c'`},
	{"packsize-s", `return string.packsize("s")`, `error: bad argument #1 to 'packsize' (variable-length format)`},
	{"packsize-z", `return string.packsize("z")`, `error: variable-length format`},
	{"size-overflow", `return string.packsize("c1" .. string.rep("0", 40))`, `error: invalid format`},
	{"too-large", `return string.packsize(string.rep("c268435456", 8))`, `error: format result too large`},
	{"largest", `return string.packsize(string.rep("c268435456", 7) .. "c268435455")`, `2147483647`},
	{"pack-overflow", `
		for i = 1, 6 do -- 7: 2^56 - 1 is not a float64
			local umax = 2^(i * 8) - 1
			local max = (umax - 1) / 2
			local min = -max - 1
			assert(not pcall(string.pack, "<I" .. i, -1))
			assert(not pcall(string.pack, "<I" .. i, min))
			assert(not pcall(string.pack, ">I" .. i, umax + 1))
			assert(not pcall(string.pack, ">i" .. i, umax))
			assert(not pcall(string.pack, ">i" .. i, max + 1))
			assert(not pcall(string.pack, "<i" .. i, min - 1))
			assert(string.unpack(">i" .. i, string.pack(">i" .. i, max)) == max)
			assert(string.unpack("<i" .. i, string.pack("<i" .. i, min)) == min)
			assert(string.unpack(">I" .. i, string.pack(">I" .. i, umax)) == umax)
		end
		return "ok"`, `"ok"`},
	{"unsigned-overflow", `return string.pack("I2", 65536)`, `error: bad argument #2 to 'pack' (unsigned overflow)`},
	{"unsigned-negative", `return string.pack("B", -1)`, `error: unsigned overflow`},
	{"J-of-minus-1", `return string.unpack("<J", string.pack("<j", -1))`, `-1, 9`},

	// Integers and float64 numbers: exact up to 2^53, and beyond only what
	// a float holds exactly; never a silently different number.
	{"2^53", `return string.unpack("<j", string.pack("<j", 2^53))`, `9007199254740992, 9`},
	{"-2^53", `return string.unpack(">j", string.pack(">j", -2^53))`, `-9007199254740992, 9`},
	{"2^53-1-J", `return string.unpack("J", string.pack("J", 2^53 - 1))`, `9007199254740991, 9`},
	{"2^53-bytes", `return string.pack("<j", 2^53)`, `"\x00\x00\x00\x00\x00\x00 \x00"`},
	{"2^53+1", `return string.unpack("<j", "\1\0\0\0\0\0\32\0")`, `error: 8-byte integer 9007199254740993 is not exact as a Lua number`},
	{"round-trip", `
		math.randomseed(7)
		for _ = 1, 2000 do
			local bits = math.random(1, 53)
			local n = math.floor(math.random() * 2^bits)
			if math.random(2) == 1 then n = -n end
			for _, f in ipairs{"<j", ">j", "=i8", "<i7", ">i7", "<i16", ">I9", "!8 x j"} do
				if n >= 0 or f:find("[ij]") then
					local got, pos = string.unpack(f, string.pack(f, n))
					assert(got == n, f .. " " .. string.format("%.0f", n))
				end
			end
		end
		for _, n in ipairs{2^60, -2^60, 2^62 + 2^10, -2^63, 2^53 * 3} do -- beyond 2^53, exact floats
			assert(string.unpack("<j", string.pack("<j", n)) == n)
		end
		return "ok"`, `"ok"`},
	{"beyond-2^53-unsigned", `return string.unpack(">I7", "\240" .. ("\255"):rep(6))`, `error: 7-byte integer 67835469387268095 is not exact`},
	{"max-int64", `return string.unpack("<j", "\255\255\255\255\255\255\255\127")`, `error: 9223372036854775807 is not exact`},
	{"2^62-exact", `return string.unpack("<j", "\0\0\0\0\0\0\0\64")`, `4611686018427387904, 9`},
	{"min-int64", `return string.unpack("<j", string.pack("<j", -2^63))`, `-9223372036854775808, 9`},
	{"2^63", `return string.pack("j", 2^63)`, `error: bad argument #2 to 'pack' (number has no integer representation)`},
	{"fraction", `return string.pack("i4", 1.5)`, `error: number has no integer representation`},
	{"nan", `return string.pack("i4", 0/0)`, `error: number has no integer representation`},
	{"numeric-string", `return string.pack("<i4", "10")`, `"\x0a\x00\x00\x00"`},
	{"no-value", `return string.pack("i4")`, `error: bad argument #2`},

	// tpack.lua: floats.
	{"floats", `
		for _, n in ipairs{0, -1.1, 1.9, 1/0, -1/0, 1e20, -1e20, 0.1, 2000.7} do
			assert(string.unpack("n", string.pack("n", n)) == n)
			assert(string.unpack("<n", string.pack("<n", n)) == n)
			assert(string.unpack(">n", string.pack(">n", n)) == n)
			assert(string.pack("<f", n) == string.pack(">f", n):reverse())
			assert(string.pack(">d", n) == string.pack("<d", n):reverse())
		end
		for _, n in ipairs{0, -1.5, 1/0, -1/0, 1e10, -1e9, 0.5, 2000.25} do
			assert(string.unpack("<f", string.pack("<f", n)) == n)
			assert(string.unpack(">f", string.pack(">f", n)) == n)
			assert(string.unpack("<d", string.pack("<d", n)) == n)
			assert(string.unpack(">d", string.pack(">d", n)) == n)
		end
		return "ok"`, `"ok"`},
	{"float-bytes", `return string.pack("<f", 1), string.pack(">d", -2)`, `"\x00\x00\x80?", "\xc0\x00\x00\x00\x00\x00\x00\x00"`},
	{"float-rounds", `return (string.unpack("f", string.pack("f", 0.1)))`, `0.10000000149011612`},

	// tpack.lua: strings.
	{"strings", `
		local s = string.rep("abc", 1000)
		assert(string.pack("zB", s, 247) == s .. "\0\247")
		local s1, b = string.unpack("zB", s .. "\0\249")
		assert(b == 249 and s1 == s)
		s1 = string.pack("s", s)
		assert(string.unpack("s", s1) == s)
		assert(not pcall(string.pack, "s1", s))
		for i = 2, 16 do
			local s1 = string.pack("s" .. i, s)
			assert(string.unpack("s" .. i, s1) == s and #s1 == #s + i)
		end
		return "ok"`, `"ok"`},
	{"s1-too-long", `return string.pack("s1", string.rep("x", 256))`, `error: string length does not fit in given size`},
	{"z-zeros", `return string.pack("z", "alo\0")`, `error: bad argument #2 to 'pack' (string contains zeros)`},
	{"z-unfinished", `return string.unpack("zc10000000", "alo")`, `error: unfinished string`},
	{"s-too-short", `local x = string.pack("s", "alo"); return string.unpack("s", x:sub(1, -2))`, `error: bad argument #2 to 'unpack' (data string too short)`},
	{"c-too-short", `return string.unpack("c5", "abcd")`, `error: data string too short`},
	{"s100", `return string.pack("s100", "alo")`, `error: out of limits`},
	{"s2-bytes", `return string.pack(">s2", "hi")`, `"\x00\x02hi"`},
	{"c0", `return string.pack("c0", ""), string.packsize("c0"), string.unpack("c0", "")`, `"", 0, "", 1`},
	{"c3", `return string.pack("<! c3", "abc"), string.packsize("<! c3"), string.pack(">!4 c6", "abcdef"), string.pack("c3", "123")`,
		`"abc", 3, "abcdef", "123"`},
	{"c-padded", `return string.pack("c8", "123456"), string.pack("c88", "") == string.rep("\0", 88), string.pack("c188", "ab") == "ab" .. string.rep("\0", 186)`,
		`"123456\x00\x00", true, true`},
	{"z-c3", `return string.unpack("!4 z c3", "abcdefghi\0xyz")`, `"abcdefghi", "xyz", 14`},
	{"c-longer", `return string.pack("c3", "1234")`, `error: string longer than given size`},
	{"number-as-string", `return string.pack("z", 12)`, `"12\x00"`},

	// tpack.lua: several options.
	{"sequence", `
		local f = "<b h b f d f n i"
		local x = string.pack(f, 1, 2, 3, 4, 5, 6, 7, 8)
		assert(#x == string.packsize(f))
		local a, b, c, d, e, g, h, i = string.unpack(f, x)
		return a, b, c, d, e, g, h, i`, `1, 2, 3, 4, 5, 6, 7, 8`},

	// tpack.lua: alignment.
	{"no-alignment-by-default", `return string.pack(" < i1 i2 ", 2, 3)`, `"\x02\x03\x00"`},
	{"align-8", `
		local f = ">!8 b Xh i4 i8 c1 Xi8"
		local x = string.pack(f, -12, 100, 200, "\236")
		assert(#x == string.packsize(f))
		assert(x == "\244" .. "\0\0\0" .. "\0\0\0\100" .. "\0\0\0\0\0\0\0\200" .. "\236" .. "\0\0\0\0\0\0\0")
		local a, b, c, d, pos = string.unpack(">!8 c1 Xh i4 i8 b Xi8 XI XH", x)
		return a, b, c, d, pos - 1 == #x`, `"\xf4", 100, 200, -20, true`},
	{"align-4", `
		local x = string.pack(">!4 c3 c4 c2 z i4 c5 c2 Xi4", "abc", "abcd", "xz", "hello", 5, "world", "xy")
		assert(x == "abcabcdxzhello\0\0\0\0\0\5worldxy\0")
		local a, b, c, d, e, f, g, pos = string.unpack(">!4 c3 c4 c2 z i4 c5 c2 Xh Xi4", x)
		return a, b, c, d, e, f, g, (pos - 1) % 4`, `"abc", "abcd", "xz", "hello", 5, "world", "xy", 0`},
	{"align-1", `
		local x = string.pack(" b b Xd b Xb x", 1, 2, 3)
		local a, b, c, pos = string.unpack("bbXdb", x)
		return x, string.packsize(" b b Xd b Xb x"), a, b, c, pos`, `"\x01\x02\x03\x00", 4, 1, 2, 3, 4`},
	{"only-alignment", `
		local d = "0123456701234567"
		return string.packsize("!8 xXi8"), string.unpack("!8 xXi8", d),
			string.packsize("!8 xXi2"), string.unpack("!8 xXi2", d),
			string.packsize("!2 xXi2"), string.unpack("!2 xXi2", d),
			string.packsize("!2 xXi8"), string.unpack("!2 xXi8", d),
			string.packsize("!16 xXi16"), string.unpack("!16 xXi16", d)`,
		`8, 9, 2, 3, 2, 3, 2, 3, 16, 17`},
	{"X-last", `return string.pack("X")`, `error: invalid next option for option 'X'`},
	{"XX", `return string.unpack("XXi", "")`, `error: invalid next option`},
	{"X-space", `return string.unpack("X i", "")`, `error: invalid next option`},
	{"Xc1", `return string.pack("Xc1")`, `error: invalid next option`},
	{"align-s4", `return string.pack("!4 b s4", 1, "ab")`, `"\x01\x00\x00\x00\x02\x00\x00\x00ab"`},

	// tpack.lua: the initial position.
	{"positions", `
		local x = string.pack("i4i4i4i4", 1, 2, 3, 4)
		for pos = 1, 16, 4 do
			local i, p = string.unpack("i4", x, pos)
			assert(i == (pos - 1) / 4 + 1 and p == pos + 4)
		end
		for pos = 0, 12 do -- rounded up to a multiple of 4
			local i, p = string.unpack("!4 i4", x, pos + 1)
			assert(i == math.floor((pos + 3) / 4) + 1 and p == i * 4 + 1, pos)
		end
		for i = 1, #x + 1 do
			assert(string.unpack("c0", x, i) == "")
		end
		local a, p1 = string.unpack("!4 i4", x, -4)
		local b, p2 = string.unpack("!4 i4", x, -7)
		local c, p3 = string.unpack("!4 i4", x, -#x)
		return a, p1, b, p2, c, p3`, `4, 17, 4, 17, 1, 5`},
	{"position-0", `return string.unpack("c0", string.rep("x", 16), 0)`, `error: bad argument #3 to 'unpack' (initial position out of string)`},
	{"position-past-end", `return string.unpack("c0", string.rep("x", 16), 18)`, `error: initial position out of string`},
	{"position-before-start", `return string.unpack("c0", string.rep("x", 16), -17)`, `error: initial position out of string`},
	{"position-fraction", `return string.unpack("b", "x", 1.5)`, `error: number has no integer representation`},

	// Strings' methods and table.unpack.
	{"method-syntax", `local f = "<i2"; return f:pack(258), f:unpack("\2\1"), f:packsize()`, `"\x02\x01", 258, 2`},
	{"table.unpack", `return table.unpack({1, 2, 3})`, `1, 2, 3`},
	{"table.unpack-range", `return table.unpack({"a", "b", "c", "d"}, 2, 3)`, `"b", "c"`},
	{"table.unpack-is-unpack", `return table.unpack == unpack`, `true`},
}

// strpackHarness prints "CASE <i>\t<result>" for each case body.
const strpackHarness = `
local function show1(v)
	if type(v) == "string" then
		return '"' .. v:gsub(".", function(c)
			local b = c:byte()
			if b < 32 or b > 126 or c == '"' or c == "\\" then
				return string.format("\\x%02x", b)
			end
		end) .. '"'
	elseif type(v) == "number" then
		if v ~= v then return "nan" elseif v == 1/0 then return "inf" elseif v == -1/0 then return "-inf" end
		if v == math.floor(v) then return string.format("%.0f", v) end
		return string.format("%.17g", v)
	end
	return tostring(v)
end
local function show(ok, ...)
	if not ok then
		local msg = tostring((...)):gsub("\n.*", "")
		return "error: " .. msg
	end
	local out = {}
	for i = 1, select("#", ...) do
		out[i] = show1((select(i, ...)))
	end
	return table.concat(out, ", ")
end
`

func TestStringPack(t *testing.T) {
	var src strings.Builder
	src.WriteString(strpackHarness)
	for i, tc := range strpackCases {
		fmt.Fprintf(&src, "print(\"CASE %d\\t\" .. show(pcall(function()\n%s\nend)))\n", i, tc.code)
	}
	src.WriteString("print(\"DONE\")\n")
	out, logs := run(t, 1, src.String(), "DONE", nil)
	got := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if id, res, ok := strings.Cut(line, "\t"); ok && strings.HasPrefix(id, "CASE ") {
			got[strings.TrimPrefix(id, "CASE ")] = res
		}
	}
	if len(got) != len(strpackCases) {
		t.Fatalf("%d results for %d cases; stdout:\n%s\nlog:\n%s", len(got), len(strpackCases), out, logs)
	}
	for i, tc := range strpackCases {
		res := got[fmt.Sprint(i)]
		if want, isErr := strings.CutPrefix(tc.want, "error: "); isErr {
			if !strings.HasPrefix(res, "error: ") || !strings.Contains(res, want) {
				t.Errorf("%s: got %s, want an error containing %q", tc.name, res, want)
			}
			continue
		}
		if res != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, res, tc.want)
		}
	}
}
