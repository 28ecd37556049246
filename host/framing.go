package host

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// framer splits a TCP byte stream into packages as Swoole's
// open_length_check / open_eof_check do. It is stateless: next looks at the
// buffered bytes and says how long the first complete package is.
type framer struct {
	mode       frameMode
	lenCode    string
	lenSize    int
	signed     bool
	lenOffset  int
	bodyOffset int
	eof        []byte
	split      bool
	max        int
}

type frameMode uint8

const (
	frameRaw frameMode = iota
	frameLength
	frameEOF
)

var errPackageTooLarge = errors.New("package exceeds package_max_length")

func newFramer(s *Settings) *framer {
	f := &framer{max: s.PackageMaxLength}
	switch {
	case s.OpenLengthCheck:
		f.mode = frameLength
		f.lenCode = s.PackageLengthType
		f.lenSize, f.signed = lengthSize(s.PackageLengthType)
		f.lenOffset = s.PackageLengthOffset
		f.bodyOffset = s.PackageBodyOffset
	case s.OpenEOFCheck:
		f.mode = frameEOF
		f.eof = []byte(s.PackageEOF)
		f.split = s.OpenEOFSplit
	}
	return f
}

// lengthCode reports the size of a pack code's field.
func lengthCode(code string) (signed bool, size int, ok bool) {
	switch code {
	case "c":
		return true, 1, true
	case "C":
		return false, 1, true
	case "s":
		return true, 2, true
	case "S", "n", "v":
		return false, 2, true
	case "l":
		return true, 4, true
	case "L", "N", "V":
		return false, 4, true
	}
	return false, 0, false
}

func lengthSize(code string) (int, bool) {
	signed, size, _ := lengthCode(code)
	return size, signed
}

// decodeLength reads a length field (s/S/l/L use little-endian, the machine
// order of every platform we run on).
func (f *framer) decodeLength(b []byte) int64 {
	switch f.lenCode {
	case "c":
		return int64(int8(b[0]))
	case "C":
		return int64(b[0])
	case "s":
		return int64(int16(binary.LittleEndian.Uint16(b)))
	case "S", "v":
		return int64(binary.LittleEndian.Uint16(b))
	case "n":
		return int64(binary.BigEndian.Uint16(b))
	case "l":
		return int64(int32(binary.LittleEndian.Uint32(b)))
	case "L", "V":
		return int64(binary.LittleEndian.Uint32(b))
	case "N":
		return int64(binary.BigEndian.Uint32(b))
	}
	return -1
}

// next returns the length of the first complete package in buf, 0 when more
// bytes are needed, or an error when the stream is bad (the connection is
// then closed). In raw mode every buffered byte is one package.
func (f *framer) next(buf []byte) (int, error) {
	switch f.mode {
	case frameLength:
		need := f.lenOffset + f.lenSize
		if len(buf) < need {
			return 0, nil
		}
		n := f.decodeLength(buf[f.lenOffset:need])
		if n < 0 {
			return 0, fmt.Errorf("negative package length %d", n)
		}
		total := int64(f.bodyOffset) + n
		if total > int64(f.max) {
			return 0, fmt.Errorf("%w: %d > %d bytes", errPackageTooLarge, total, f.max)
		}
		if total < int64(need) {
			total = int64(need)
		}
		if int64(len(buf)) < total {
			return 0, nil
		}
		return int(total), nil
	case frameEOF:
		var i int
		if f.split {
			i = bytes.Index(buf, f.eof)
		} else {
			i = bytes.LastIndex(buf, f.eof)
		}
		if i < 0 {
			if len(buf) > f.max {
				return 0, fmt.Errorf("%w: no package_eof within %d bytes", errPackageTooLarge, f.max)
			}
			return 0, nil
		}
		n := i + len(f.eof)
		if n > f.max {
			return 0, fmt.Errorf("%w: %d > %d bytes", errPackageTooLarge, n, f.max)
		}
		return n, nil
	}
	return len(buf), nil
}
