package host

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/imscript/imscript/script"
)

// framerFor builds a framer from a server declaration, as the host does.
func framerFor(t *testing.T, m script.Map) *framer {
	t.Helper()
	st, err := ParseSettings(m)
	if err != nil {
		t.Fatalf("ParseSettings(%v): %v", m, err)
	}
	return newFramer(st)
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

func TestFramerEveryPackCode(t *testing.T) {
	for _, pc := range packCodes {
		t.Run(pc.code, func(t *testing.T) {
			f := framerFor(t, script.Map{"open_length_check": true, "package_length_type": pc.code})
			if f.lenSize != pc.size || f.bodyOffset != pc.size {
				t.Fatalf("size %d body offset %d, want %d and %d", f.lenSize, f.bodyOffset, pc.size, pc.size)
			}
			for _, n := range []int64{0, 1, 5, 100} {
				pkg := append(encodeLength(pc.code, n), bytes.Repeat([]byte{'x'}, int(n))...)
				// Coalesced with the start of the next package.
				buf := append(append([]byte(nil), pkg...), encodeLength(pc.code, 3)...)
				got, err := f.next(buf)
				if err != nil || got != len(pkg) {
					t.Errorf("length %d: next = %d, %v; want %d", n, got, err, len(pkg))
				}
				// Every strict prefix is a partial package.
				for i := 0; i < len(pkg); i++ {
					if got, err := f.next(pkg[:i]); got != 0 || err != nil {
						t.Errorf("length %d, %d of %d bytes: next = %d, %v; want 0 (need more)", n, i, len(pkg), got, err)
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
		f := framerFor(t, script.Map{"open_length_check": true, "package_length_type": tc.code})
		buf := append(append([]byte(nil), tc.header...), make([]byte, 600)...)
		want := len(tc.header) + 258
		if got, err := f.next(buf); got != want || err != nil {
			t.Errorf("%s: next = %d, %v; want %d", tc.code, got, err, want)
		}
	}
}

func TestFramerSignedCodes(t *testing.T) {
	for _, pc := range packCodes {
		f := framerFor(t, script.Map{"open_length_check": true, "package_length_type": pc.code, "package_max_length": int64(1 << 30)})
		// All bits set: -1 for signed codes, the largest value otherwise.
		header := bytes.Repeat([]byte{0xff}, pc.size)
		got, err := f.next(header)
		if pc.signed {
			if err == nil || !strings.Contains(err.Error(), "negative package length -1") {
				t.Errorf("%s: next = %d, %v; want a negative length error", pc.code, got, err)
			}
			continue
		}
		// Unsigned: a long package (4-byte codes: longer than any limit).
		if got != 0 || (err != nil && !errors.Is(err, errPackageTooLarge)) {
			t.Errorf("%s: next = %d, %v; want 0 or errPackageTooLarge", pc.code, got, err)
		}
	}
	// An unsigned byte of 200 is 200, not -56.
	f := framerFor(t, script.Map{"open_length_check": true, "package_length_type": "C"})
	buf := append([]byte{200}, make([]byte, 200)...)
	if got, err := f.next(buf); got != 201 || err != nil {
		t.Errorf("C 200: next = %d, %v; want 201", got, err)
	}
}

func TestFramerOffsets(t *testing.T) {
	// Two bytes of something else, then a 2-byte big-endian length; the body
	// follows the length (the default body offset).
	f := framerFor(t, script.Map{"open_length_check": true, "package_length_type": "n", "package_length_offset": int64(2)})
	if f.bodyOffset != 4 {
		t.Fatalf("default body offset %d, want 4", f.bodyOffset)
	}
	pkg := []byte{'A', 'B', 0, 3, 'x', 'y', 'z'}
	if got, err := f.next(append(pkg, 'N')); got != 7 || err != nil {
		t.Errorf("next = %d, %v; want 7", got, err)
	}
	for i := 0; i < len(pkg); i++ {
		if got, _ := f.next(pkg[:i]); got != 0 {
			t.Errorf("%d bytes: next = %d, want 0", i, got)
		}
	}

	// A header longer than offset+size: the body starts at 6.
	f = framerFor(t, script.Map{"open_length_check": true, "package_length_type": "n",
		"package_length_offset": int64(2), "package_body_offset": int64(6)})
	pkg = []byte{'A', 'B', 0, 3, 'C', 'D', 'x', 'y', 'z'}
	if got, err := f.next(append(pkg, pkg...)); got != 9 || err != nil {
		t.Errorf("body offset 6: next = %d, %v; want 9", got, err)
	}
	if got, _ := f.next(pkg[:8]); got != 0 {
		t.Errorf("body offset 6, 8 bytes: next = %d, want 0", got)
	}

	// Body offset 0: the length counts the whole package, header included.
	f = framerFor(t, script.Map{"open_length_check": true, "package_length_type": "N", "package_body_offset": int64(0)})
	whole := append(encodeLength("N", 7), 'a', 'b', 'c')
	if got, err := f.next(append(whole, 0)); got != 7 || err != nil {
		t.Errorf("body offset 0: next = %d, %v; want 7", got, err)
	}
	// A length shorter than its own header still takes the header.
	short := encodeLength("N", 1)
	if got, err := f.next(append(short, 'x')); got != 4 || err != nil {
		t.Errorf("body offset 0, length 1: next = %d, %v; want 4", got, err)
	}
}

func TestFramerMaxLength(t *testing.T) {
	f := framerFor(t, script.Map{"open_length_check": true, "package_length_type": "N", "package_max_length": int64(100)})
	// 4 + 96 = 100 is allowed.
	if got, err := f.next(append(encodeLength("N", 96), make([]byte, 96)...)); got != 100 || err != nil {
		t.Errorf("100 bytes: next = %d, %v; want 100", got, err)
	}
	// 4 + 97 is refused as soon as the header arrives, before the body.
	for _, buf := range [][]byte{encodeLength("N", 97), append(encodeLength("N", 97), make([]byte, 97)...)} {
		_, err := f.next(buf)
		if !errors.Is(err, errPackageTooLarge) {
			t.Errorf("%d bytes buffered: err = %v, want errPackageTooLarge", len(buf), err)
		}
	}
	// A huge announced length is refused too (no overflow).
	if _, err := f.next([]byte{0xff, 0xff, 0xff, 0xff}); !errors.Is(err, errPackageTooLarge) {
		t.Errorf("4 GiB announced: err = %v, want errPackageTooLarge", err)
	}
}

func TestFramerEOF(t *testing.T) {
	check := func(f *framer, buf string, want int) {
		t.Helper()
		got, err := f.next([]byte(buf))
		if err != nil || got != want {
			t.Errorf("next(%q) = %d, %v; want %d", buf, got, err, want)
		}
	}
	// open_eof_check without split: everything up to the last delimiter
	// (Swoole hands over what has arrived, possibly several packages).
	f := framerFor(t, script.Map{"open_eof_check": true})
	check(f, "a\r\nb\r\nc", 6)
	check(f, "abc", 0)
	check(f, "abc\r", 0)
	check(f, "abc\r\n", 5)

	// open_eof_split: exactly one package per call.
	f = framerFor(t, script.Map{"open_eof_split": true, "package_eof": "||"})
	if !f.split || f.mode != frameEOF {
		t.Fatal("open_eof_split did not turn on delimiter framing")
	}
	check(f, "a||b||c", 3)
	check(f, "||", 2)
	check(f, "ab|", 0)
	check(f, "ab||", 4)

	// A delimiter of one byte, binary.
	f = framerFor(t, script.Map{"open_eof_split": true, "package_eof": "\x00"})
	check(f, "x\x00y\x00", 2)
}

func TestFramerEOFMaxLength(t *testing.T) {
	for _, split := range []bool{false, true} {
		f := framerFor(t, script.Map{"open_eof_check": true, "open_eof_split": split, "package_eof": "\n", "package_max_length": int64(10)})
		// No delimiter within the limit: an error in both modes.
		if _, err := f.next(bytes.Repeat([]byte{'a'}, 11)); !errors.Is(err, errPackageTooLarge) {
			t.Errorf("split=%v, 11 bytes without a delimiter: err = %v, want errPackageTooLarge", split, err)
		}
		// Up to the limit without a delimiter: wait for more.
		if got, err := f.next(bytes.Repeat([]byte{'a'}, 10)); got != 0 || err != nil {
			t.Errorf("split=%v, 10 bytes without a delimiter: next = %d, %v; want 0", split, got, err)
		}
	}
	// In split mode, one package longer than the limit is an error.
	f := framerFor(t, script.Map{"open_eof_split": true, "package_eof": "\n", "package_max_length": int64(10)})
	if _, err := f.next([]byte("0123456789\n")); !errors.Is(err, errPackageTooLarge) {
		t.Errorf("11-byte package: err = %v, want errPackageTooLarge", err)
	}
	if got, err := f.next([]byte("012345678\n")); got != 10 || err != nil {
		t.Errorf("10-byte package: next = %d, %v; want 10", got, err)
	}
}

func TestFramerRaw(t *testing.T) {
	f := framerFor(t, script.Map{})
	if f.mode != frameRaw {
		t.Fatalf("mode %d, want raw", f.mode)
	}
	for _, n := range []int{1, 7, 70000} {
		if got, err := f.next(make([]byte, n)); got != n || err != nil {
			t.Errorf("raw %d bytes: next = %d, %v", n, got, err)
		}
	}
}
