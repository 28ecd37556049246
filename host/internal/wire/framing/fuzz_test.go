package framing

import (
	"bytes"
	"errors"
	"testing"
)

// feed frames data as a connection would receive it, in two reads split at
// cut: like the host's tcpData it frames as many packages as the buffer
// holds after each read, drops each delivered package from the buffer, and
// stops at the first error. It returns the packages and the error.
func feed(f *Framer, data []byte, cut int) ([][]byte, error) {
	if cut < 0 || cut > len(data) {
		cut = len(data)
	}
	var buf []byte
	var pkgs [][]byte
	for _, part := range [][]byte{data[:cut], data[cut:]} {
		buf = append(buf, part...)
		for len(buf) > 0 {
			n, err := f.Next(buf)
			if err != nil {
				return pkgs, err
			}
			if n < 0 || n > len(buf) {
				panic("Next out of range")
			}
			if n == 0 {
				break
			}
			pkgs = append(pkgs, buf[:n:n])
			buf = buf[n:]
		}
	}
	return pkgs, nil
}

// fuzzConfig is the Config of the host's FuzzFramer for mode: mode%3 0 is
// open_length_check, 1 open_eof_split, 2 raw; settings defaults otherwise
// ("N" at offset 0 with the body after it, "\r\n"), package_max_length 1024.
func fuzzConfig(mode byte) Config {
	switch mode % 3 {
	case 0:
		return Config{Mode: Length, LengthType: "N", LengthOffset: 0, BodyOffset: 4, Max: 1024}
	case 1:
		return Config{Mode: EOF, EOF: []byte("\r\n"), Split: true, Max: 1024}
	}
	return Config{Mode: Raw, Max: 1024}
}

func FuzzFramer(f *testing.F) {
	f.Add([]byte("\x00\x00\x00\x05hello\x00\x00"), byte(0), 3)
	f.Add([]byte("a\r\nbb\r\nccc"), byte(1), 4)
	f.Fuzz(func(t *testing.T, data []byte, mode byte, cut int) {
		c := fuzzConfig(mode)
		fr := New(c)
		pkgs, err := feed(fr, data, cut)
		if err != nil && c.Mode == Raw {
			t.Fatalf("raw mode error %v", err)
		}
		total := 0
		for _, p := range pkgs {
			if len(p) == 0 {
				t.Fatal("empty package")
			}
			if len(p) > c.Max && c.Mode != Raw {
				t.Fatalf("package of %d bytes over %d", len(p), c.Max)
			}
			switch c.Mode {
			case EOF:
				if !bytes.HasSuffix(p, c.EOF) || bytes.Index(p, c.EOF) != len(p)-len(c.EOF) {
					t.Fatalf("split package %q does not end at its first delimiter", p)
				}
			case Length:
				if len(p) < 4 {
					t.Fatalf("package %q shorter than its header", p)
				}
				if n, err := fr.Next(p); n != len(p) || err != nil {
					t.Fatalf("package %q reframes as %d, %v", p, n, err)
				}
			}
			total += len(p)
		}
		if total > len(data) {
			t.Fatalf("delivered %d bytes of %d", total, len(data))
		}
		if err == nil && c.Mode == Raw && total != len(data) {
			t.Fatalf("raw mode delivered %d bytes of %d", total, len(data))
		}
		if err != nil && c.Mode == EOF && !errors.Is(err, ErrTooLarge) {
			t.Fatalf("eof mode error %v", err)
		}
	})
}
