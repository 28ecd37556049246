// Package framing splits a TCP byte stream into packages as Swoole's
// open_length_check / open_eof_check do. It is pure and stateless: a Framer
// looks at buffered bytes and says how long the first complete package is.
package framing

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// Mode is how a stream is cut into packages.
type Mode uint8

const (
	// Raw hands over every buffered byte as one package.
	Raw Mode = iota
	// Length reads a length field in a fixed header (open_length_check).
	Length
	// EOF cuts at a delimiter (open_eof_check, open_eof_split).
	EOF
)

func (m Mode) String() string {
	switch m {
	case Raw:
		return "raw"
	case Length:
		return "length"
	case EOF:
		return "eof"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// ErrTooLarge is wrapped by the error Next returns for a package longer than
// Config.Max.
var ErrTooLarge = errors.New("package exceeds package_max_length")

// Config is what a Framer frames by. It carries no defaults of its own: the
// caller fills every field the mode uses (the host's settings default
// LengthType to "N", EOF to "\r\n" and BodyOffset to LengthOffset plus the
// length field's size).
type Config struct {
	Mode Mode

	// Length mode (package_length_type, package_length_offset,
	// package_body_offset): LengthType is a pack code LengthCode accepts;
	// the field sits at LengthOffset and counts the bytes from BodyOffset.
	LengthType   string
	LengthOffset int
	BodyOffset   int

	// EOF mode (package_eof, open_eof_split): EOF is the delimiter (not
	// empty). With Split a package ends at the first delimiter; without it
	// at the last buffered one (possibly several packages at once).
	EOF   []byte
	Split bool

	// Max is package_max_length: the longest package in Length and EOF
	// modes (Raw ignores it).
	Max int
}

// Validate reports a Config a Framer cannot work with: an unknown pack
// code, negative offsets, an empty delimiter, a Max below 1 or an unknown
// mode. New does not call it; a Framer built from an invalid Config
// refuses (Length mode: every package is a negative length) or waits
// forever (EOF mode with an empty delimiter).
func (c Config) Validate() error {
	switch c.Mode {
	case Raw:
		return nil
	case Length:
		if _, _, ok := LengthCode(c.LengthType); !ok {
			return fmt.Errorf("package_length_type %q is not one of c C s S n v l L N V", c.LengthType)
		}
		if c.LengthOffset < 0 || c.BodyOffset < 0 {
			return fmt.Errorf("negative package offset (length %d, body %d)", c.LengthOffset, c.BodyOffset)
		}
	case EOF:
		if len(c.EOF) == 0 {
			return errors.New("empty package_eof")
		}
	default:
		return fmt.Errorf("unknown framing mode %d", uint8(c.Mode))
	}
	if c.Max < 1 {
		return fmt.Errorf("package_max_length %d is below 1", c.Max)
	}
	return nil
}

// Framer frames a stream by one Config. It holds no per-stream state, so
// one Framer serves any number of connections at once.
type Framer struct {
	c       Config
	lenSize int
	signed  bool
}

// New returns a Framer for c (c.EOF is copied).
func New(c Config) *Framer {
	c.EOF = bytes.Clone(c.EOF)
	f := &Framer{c: c}
	f.signed, f.lenSize, _ = LengthCode(c.LengthType)
	return f
}

// Config returns the configuration f was built from (with its own copy of
// EOF).
func (f *Framer) Config() Config {
	c := f.c
	c.EOF = bytes.Clone(c.EOF)
	return c
}

// Mode returns the framing mode.
func (f *Framer) Mode() Mode { return f.c.Mode }

// LengthSize returns the size in bytes of the length field (0 for an
// unknown pack code).
func (f *Framer) LengthSize() int { return f.lenSize }

// Signed reports whether the length field is signed.
func (f *Framer) Signed() bool { return f.signed }

// LengthOffset returns where the length field starts.
func (f *Framer) LengthOffset() int { return f.c.LengthOffset }

// BodyOffset returns where the bytes the length field counts start.
func (f *Framer) BodyOffset() int { return f.c.BodyOffset }

// Split reports whether EOF mode cuts at the first delimiter.
func (f *Framer) Split() bool { return f.c.Split }

// Max returns package_max_length.
func (f *Framer) Max() int { return f.c.Max }

// LengthCode reports whether a pack code's length field is signed and its
// size; ok is false for a code that is not one of c C s S n v l L N V.
func LengthCode(code string) (signed bool, size int, ok bool) {
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

// decodeLength reads a length field (s/S/l/L use little-endian, the machine
// order of every platform we run on); -1 for an unknown code.
func (f *Framer) decodeLength(b []byte) int64 {
	switch f.c.LengthType {
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

// Next returns the length of the first complete package in buf, 0 when more
// bytes are needed, or an error when the stream is bad (the connection
// should then be closed; a package over Max wraps ErrTooLarge). In Raw mode
// every buffered byte is one package. The result never exceeds len(buf).
func (f *Framer) Next(buf []byte) (int, error) {
	switch f.c.Mode {
	case Length:
		need := f.c.LengthOffset + f.lenSize
		if len(buf) < need {
			return 0, nil
		}
		n := f.decodeLength(buf[f.c.LengthOffset:need])
		if n < 0 {
			return 0, fmt.Errorf("negative package length %d", n)
		}
		total := int64(f.c.BodyOffset) + n
		if total > int64(f.c.Max) {
			return 0, fmt.Errorf("%w: %d > %d bytes", ErrTooLarge, total, f.c.Max)
		}
		if total < int64(need) {
			total = int64(need)
		}
		if int64(len(buf)) < total {
			return 0, nil
		}
		return int(total), nil
	case EOF:
		var i int
		if f.c.Split {
			i = bytes.Index(buf, f.c.EOF)
		} else {
			i = bytes.LastIndex(buf, f.c.EOF)
		}
		if i < 0 {
			if len(buf) > f.c.Max {
				return 0, fmt.Errorf("%w: no package_eof within %d bytes", ErrTooLarge, f.c.Max)
			}
			return 0, nil
		}
		n := i + len(f.c.EOF)
		if n > f.c.Max {
			return 0, fmt.Errorf("%w: %d > %d bytes", ErrTooLarge, n, f.c.Max)
		}
		return n, nil
	}
	return len(buf), nil
}
