package wsframe

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gobwas/ws"
)

var testMask = [4]byte{0x37, 0xfa, 0x21, 0x3d}

func cat(frames ...[]byte) []byte { return bytes.Join(frames, nil) }

// describe renders one Next result for comparison.
func describe(f Frame, err error) string {
	if err != nil {
		var pe *ProtocolError
		if !errors.As(err, &pe) {
			return fmt.Sprintf("non-protocol error %v", err)
		}
		return fmt.Sprintf("error %d %s", pe.Code, pe.Reason)
	}
	if f.Kind == 0 {
		if f.Op != 0 || f.Data != nil {
			return fmt.Sprintf("bad zero frame %+v", f)
		}
		return "fragment"
	}
	return fmt.Sprintf("%v %v %q", f.Kind, f.Op, f.Data)
}

// readAll runs r over buf as a connection would (one complete buffer) and
// describes each result until an error, a close, or the buffer needs more.
func readAll(t *testing.T, r *Reader, buf []byte) (got []string, rest []byte) {
	t.Helper()
	for {
		f, n, err := r.Next(buf)
		if n < 0 || n > len(buf) {
			t.Fatalf("Next took %d of %d bytes", n, len(buf))
		}
		if n == 0 && err == nil {
			if f.Kind != 0 {
				t.Fatalf("frame %+v without bytes", f)
			}
			return got, buf
		}
		got = append(got, describe(f, err))
		buf = buf[n:]
		if err != nil || f.Kind == Close {
			return got, buf
		}
	}
}

var (
	helloDeflated = []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00} // RFC 7692 7.2.3.1: "Hello"
	badUTF8       = []byte{'a', 0xff, 'b'}
	a100          = bytes.Repeat([]byte("a"), 100)
)

func TestReaderAccepts(t *testing.T) {
	big := bytes.Repeat([]byte("ab"), 35000) // 70000 bytes: 8-byte length
	mid := bytes.Repeat([]byte{0xff}, 300)   // 2-byte length
	euro := []byte("€")                      // 3 bytes of UTF-8, split across fragments
	for _, tc := range []struct {
		name    string
		deflate bool
		max     int
		in      []byte
		want    []string
	}{
		{"text", false, 0, MaskedFrame(0x81, []byte("hello"), testMask), []string{`message text "hello"`}},
		{"empty text", false, 0, MaskedFrame(0x81, nil, testMask), []string{`message text ""`}},
		{"binary 2-byte length", false, 0, MaskedFrame(0x82, mid, testMask), []string{fmt.Sprintf("message binary %q", mid)}},
		{"binary 8-byte length", false, 1 << 17, MaskedFrame(0x82, big, testMask), []string{fmt.Sprintf("message binary %q", big)}},
		{"non-minimal length", false, 0, cat([]byte{0x82, 0x80 | 126, 0, 3}, testMask[:], []byte{1 ^ 0x37, 2 ^ 0xfa, 3 ^ 0x21}), []string{`message binary "\x01\x02\x03"`}},
		{"ping", false, 0, MaskedFrame(0x89, []byte("p"), testMask), []string{`ping ping "p"`}},
		{"ping 125", false, 0, MaskedFrame(0x89, bytes.Repeat([]byte("x"), 125), testMask), []string{fmt.Sprintf("ping ping %q", strings.Repeat("x", 125))}},
		{"pong", false, 0, MaskedFrame(0x8a, nil, testMask), []string{`pong pong ""`}},
		{"close", false, 0, cat(MaskedFrame(0x88, []byte{0x03, 0xe8, 'o', 'k'}, testMask), MaskedFrame(0x81, []byte("after"), testMask)), []string{`close close "\x03\xe8ok"`}},
		{"close empty", false, 0, MaskedFrame(0x88, nil, testMask), []string{`close close ""`}},
		{"fragments with ping", false, 0,
			cat(MaskedFrame(0x01, []byte("he"), testMask), MaskedFrame(0x89, []byte("p"), testMask), MaskedFrame(0x00, nil, testMask), MaskedFrame(0x80, []byte("llo"), testMask)),
			[]string{"fragment", `ping ping "p"`, "fragment", `message text "hello"`}},
		{"binary fragments", false, 0,
			cat(MaskedFrame(0x02, []byte{1}, testMask), MaskedFrame(0x00, []byte{2}, testMask), MaskedFrame(0x80, []byte{3}, testMask)),
			[]string{"fragment", "fragment", `message binary "\x01\x02\x03"`}},
		{"utf-8 split across fragments", false, 0,
			cat(MaskedFrame(0x01, euro[:1], testMask), MaskedFrame(0x00, euro[1:2], testMask), MaskedFrame(0x80, euro[2:], testMask)),
			[]string{"fragment", "fragment", `message text "€"`}},
		{"messages back to back", false, 0,
			cat(MaskedFrame(0x81, []byte("a"), testMask), MaskedFrame(0x8a, nil, testMask), MaskedFrame(0x82, []byte("b"), testMask)),
			[]string{`message text "a"`, `pong pong ""`, `message binary "b"`}},
		{"compressed", true, 0, MaskedFrame(0xc1, helloDeflated, testMask), []string{`message text "Hello"`}},
		{"compressed fragments", true, 0,
			cat(MaskedFrame(0x41, helloDeflated[:3], testMask), MaskedFrame(0x89, nil, testMask), MaskedFrame(0x80, helloDeflated[3:], testMask)),
			[]string{"fragment", `ping ping ""`, `message text "Hello"`}},
		{"uncompressed with deflate on", true, 0, MaskedFrame(0x81, []byte("plain"), testMask), []string{`message text "plain"`}},
		{"exactly max", false, 5, MaskedFrame(0x82, []byte("12345"), testMask), []string{`message binary "12345"`}},
		{"fragments exactly max", false, 5, cat(MaskedFrame(0x02, []byte("12"), testMask), MaskedFrame(0x80, []byte("345"), testMask)), []string{"fragment", `message binary "12345"`}},
		{"inflated exactly max", true, 100, MaskedFrame(0xc1, mustDeflate(t, a100), testMask), []string{fmt.Sprintf("message text %q", a100)}},
		{"control frames ignore max", false, 1, MaskedFrame(0x89, []byte("ping!"), testMask), []string{`ping ping "ping!"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			max := tc.max
			if max == 0 {
				max = 1 << 16
			}
			r := &Reader{Deflate: tc.deflate, Max: max}
			got, _ := readAll(t, r, tc.in)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
			if r.Fragmented() {
				t.Error("still fragmented at the end")
			}
		})
	}
}

func TestReaderRejects(t *testing.T) {
	huge := []byte{0x82, 0x80 | 127, 0, 0, 0, 0, 0, 1, 0, 1} // 65537 announced, no payload yet
	for _, tc := range []struct {
		name    string
		deflate bool
		max     int
		in      []byte
		before  []string // results before the error
		code    int
		reason  string
		whole   bool // detected once the whole frame is read: n is its length
	}{
		{"unmasked", false, 0, []byte{0x81, 0x05, 'h', 'e', 'l', 'l', 'o'}, nil, 1002, "unmasked client frame", false},
		{"unmasked, header only", false, 0, []byte{0x81, 0x05}, nil, 1002, "unmasked client frame", false},
		{"rsv2", false, 0, MaskedFrame(0xa1, []byte("x"), testMask), nil, 1002, "reserved bits set", false},
		{"rsv3", true, 0, MaskedFrame(0x91, []byte("x"), testMask), nil, 1002, "reserved bits set", false},
		{"rsv1 without deflate", false, 0, MaskedFrame(0xc1, helloDeflated, testMask), nil, 1002, "reserved bits set", false},
		{"rsv1 on control", true, 0, MaskedFrame(0xc9, nil, testMask), nil, 1002, "reserved bits set", false},
		{"rsv1 on continuation", true, 0, cat(MaskedFrame(0x41, helloDeflated[:3], testMask), MaskedFrame(0xc0, helloDeflated[3:], testMask)), []string{"fragment"}, 1002, "reserved bits set", false},
		{"fragmented ping", false, 0, MaskedFrame(0x09, nil, testMask), nil, 1002, "fragmented or oversized control frame", false},
		{"fragmented close", false, 0, MaskedFrame(0x08, nil, testMask), nil, 1002, "fragmented or oversized control frame", false},
		{"ping 126", false, 0, MaskedFrame(0x89, make([]byte, 126), testMask), nil, 1002, "fragmented or oversized control frame", false},
		{"oversized control, header only", false, 0, []byte{0x8a, 0x80 | 126, 0, 126}, nil, 1002, "fragmented or oversized control frame", false},
		{"over max", false, 4, MaskedFrame(0x82, []byte("12345"), testMask), nil, 1009, "message over package_max_length 4", false},
		{"over max, header only", false, 1 << 16, huge, nil, 1009, "message over package_max_length 65536", false},
		{"fragments over max", false, 4, cat(MaskedFrame(0x02, []byte("12"), testMask), MaskedFrame(0x80, []byte("345"), testMask)), []string{"fragment"}, 1009, "message over package_max_length 4", false},
		{"bad compressed data", true, 0, MaskedFrame(0xc1, []byte{0xff, 0xff, 0xff}, testMask), nil, 1002, "bad compressed data", true},
		{"inflated over max", true, 99, MaskedFrame(0xc1, mustDeflate(t, a100), testMask), nil, 1009, "inflated message over package_max_length", true},
		{"invalid utf-8", false, 0, MaskedFrame(0x81, badUTF8, testMask), nil, 1007, "text message is not valid UTF-8", true},
		{"invalid utf-8 in fragments", false, 0, cat(MaskedFrame(0x01, []byte("ok"), testMask), MaskedFrame(0x80, badUTF8, testMask)), []string{"fragment"}, 1007, "text message is not valid UTF-8", true},
		{"truncated utf-8 at the end", false, 0, cat(MaskedFrame(0x01, []byte("€")[:2], testMask), MaskedFrame(0x80, nil, testMask)), []string{"fragment"}, 1007, "text message is not valid UTF-8", true},
		{"invalid utf-8 inflated", true, 0, MaskedFrame(0xc1, mustDeflate(t, badUTF8), testMask), nil, 1007, "text message is not valid UTF-8", true},
		{"continuation without message", false, 0, MaskedFrame(0x80, []byte("x"), testMask), nil, 1002, "continuation without a message", true},
		{"continuation after a message", false, 0, cat(MaskedFrame(0x81, []byte("a"), testMask), MaskedFrame(0x00, []byte("x"), testMask)), []string{`message text "a"`}, 1002, "continuation without a message", true},
		{"new message inside fragmented", false, 0, cat(MaskedFrame(0x01, []byte("a"), testMask), MaskedFrame(0x82, []byte("b"), testMask)), []string{"fragment"}, 1002, "new message inside a fragmented one", true},
		{"new fragmented message inside fragmented", false, 0, cat(MaskedFrame(0x02, []byte("a"), testMask), MaskedFrame(0x01, []byte("b"), testMask)), []string{"fragment"}, 1002, "new message inside a fragmented one", true},
		{"bad frame length", false, 0, []byte{0x82, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 0}, nil, 1002, "bad frame length", false},
		{"bad frame length before mask check", false, 0, []byte{0x82, 127, 0xff, 0, 0, 0, 0, 0, 0, 0}, nil, 1002, "bad frame length", false},
		{"reserved opcode 3", false, 0, MaskedFrame(0x83, nil, testMask), nil, 1002, "reserved opcode 3", false},
		{"reserved opcode 7", false, 0, MaskedFrame(0x87, nil, testMask), nil, 1002, "reserved opcode 7", false},
		{"reserved opcode 11", false, 0, MaskedFrame(0x8b, nil, testMask), nil, 1002, "reserved opcode 11", false},
		{"reserved opcode 15", false, 0, MaskedFrame(0x8f, nil, testMask), nil, 1002, "reserved opcode 15", false},
		// Checks come in today's order: the size of a continuation is
		// checked (from its header) before whether there is a message.
		{"max before continuation check", false, 4, MaskedFrame(0x80, []byte("12345"), testMask), nil, 1009, "message over package_max_length 4", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			max := tc.max
			if max == 0 {
				max = 1 << 16
			}
			r := &Reader{Deflate: tc.deflate, Max: max}
			buf := tc.in
			for _, want := range tc.before {
				f, n, err := r.Next(buf)
				if got := describe(f, err); got != want || n == 0 {
					t.Fatalf("before the error: %s (%d bytes), want %s", got, n, want)
				}
				buf = buf[n:]
			}
			f, n, err := r.Next(buf)
			var pe *ProtocolError
			if !errors.As(err, &pe) {
				t.Fatalf("Next = %s, %d; want a *ProtocolError", describe(f, err), n)
			}
			if pe.Code != tc.code || pe.Reason != tc.reason {
				t.Fatalf("error %d %q, want %d %q", pe.Code, pe.Reason, tc.code, tc.reason)
			}
			if f.Kind != 0 || f.Data != nil {
				t.Errorf("frame %+v with the error", f)
			}
			wantN := 0
			if tc.whole {
				wantN = len(buf)
			}
			if n != wantN {
				t.Errorf("n = %d, want %d", n, wantN)
			}
			if want := fmt.Sprintf("websocket protocol error %d: %s", tc.code, tc.reason); err.Error() != want {
				t.Errorf("Error() = %q, want %q", err.Error(), want)
			}
		})
	}
}

// Every strict prefix of a frame needs more bytes; the header alone is
// enough for header errors.
func TestReaderNeedsMore(t *testing.T) {
	for _, frame := range [][]byte{
		MaskedFrame(0x81, []byte("hello"), testMask),
		MaskedFrame(0x82, make([]byte, 300), testMask),
		MaskedFrame(0x82, make([]byte, 70000), testMask),
		MaskedFrame(0x89, []byte("p"), testMask),
		MaskedFrame(0x88, []byte{3, 0xe8}, testMask),
		MaskedFrame(0xc1, helloDeflated, testMask),
		// Unmasked with an extended length: not refused before the length
		// has arrived.
		{0x81, 126, 0, 200},
		{0x81, 127, 0, 0, 0, 0, 0, 0, 1, 0},
	} {
		r := &Reader{Deflate: true, Max: 1 << 17}
		min := 2
		switch frame[1] & 0x7f {
		case 126:
			min = 4
		case 127:
			min = 10
		}
		for i := 0; i < len(frame); i++ {
			f, n, err := r.Next(frame[:i])
			if n != 0 || f.Kind != 0 || f.Data != nil {
				t.Fatalf("%x, %d of %d bytes: %s, n %d; want need more", frame[:2], i, len(frame), describe(f, err), n)
			}
			if err != nil {
				t.Fatalf("%x, %d of %d bytes (header %d): error %v", frame[:2], i, len(frame), min, err)
			}
		}
	}
}

// Data is the caller's: fresh, not a view of the buffer.
func TestReaderDataOwned(t *testing.T) {
	buf := cat(MaskedFrame(0x82, []byte("abc"), testMask), MaskedFrame(0x89, []byte("p"), testMask), MaskedFrame(0x88, []byte{3, 0xe8}, testMask))
	r := &Reader{Max: 100}
	var frames []Frame
	for len(buf) > 0 {
		f, n, err := r.Next(buf)
		if err != nil || n == 0 {
			t.Fatal(n, err)
		}
		frames = append(frames, f)
		for i := range buf[:n] {
			buf[i] = 0
		}
		buf = buf[n:]
	}
	if string(frames[0].Data) != "abc" || string(frames[1].Data) != "p" || string(frames[2].Data) != "\x03\xe8" {
		t.Fatalf("frames %+v", frames)
	}
}

func TestReaderMaxChanges(t *testing.T) {
	r := &Reader{Max: 10}
	buf := MaskedFrame(0x02, []byte("12345"), testMask)
	if _, n, err := r.Next(buf); n != len(buf) || err != nil {
		t.Fatal(n, err)
	}
	r.Max = 6 // a reload lowered package_max_length mid-message
	_, _, err := r.Next(MaskedFrame(0x80, []byte("67"), testMask))
	var pe *ProtocolError
	if !errors.As(err, &pe) || pe.Code != CloseTooBig || pe.Reason != "message over package_max_length 6" {
		t.Fatalf("err = %v", err)
	}
}

func TestParseClose(t *testing.T) {
	body := func(code int, reason string) []byte {
		return append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...)
	}
	for _, tc := range []struct {
		payload []byte
		code    int
		errCode int
		reason  string
	}{
		{nil, CloseNoStatus, 0, ""},
		{[]byte{}, CloseNoStatus, 0, ""},
		{[]byte{3}, 0, 1002, "close frame with a 1-byte payload"},
		{body(1000, ""), 1000, 0, ""},
		{body(1000, "bye"), 1000, 0, ""},
		{body(1001, "€"), 1001, 0, ""},
		{body(1003, ""), 1003, 0, ""},
		{body(1007, ""), 1007, 0, ""},
		{body(1014, ""), 1014, 0, ""},
		{body(3000, ""), 3000, 0, ""},
		{body(4999, ""), 4999, 0, ""},
		{body(0, ""), 0, 1002, "invalid close code 0"},
		{body(999, ""), 999, 1002, "invalid close code 999"},
		{body(1004, ""), 1004, 1002, "invalid close code 1004"},
		{body(1005, ""), 1005, 1002, "invalid close code 1005"},
		{body(1006, ""), 1006, 1002, "invalid close code 1006"},
		{body(1015, ""), 1015, 1002, "invalid close code 1015"},
		{body(2999, ""), 2999, 1002, "invalid close code 2999"},
		{body(5000, ""), 5000, 1002, "invalid close code 5000"},
		{body(65535, ""), 65535, 1002, "invalid close code 65535"},
		{body(1000, string(badUTF8)), 1000, 1007, "close reason is not valid UTF-8"},
		{body(1005, string(badUTF8)), 1005, 1002, "invalid close code 1005"}, // the code is checked first
	} {
		code, err := ParseClose(tc.payload)
		if tc.errCode == 0 {
			if err != nil || code != tc.code {
				t.Errorf("ParseClose(%x) = %d, %v; want %d", tc.payload, code, err, tc.code)
			}
			continue
		}
		if err == nil || err.Code != tc.errCode || err.Reason != tc.reason {
			t.Errorf("ParseClose(%x) = %d, %v; want error %d %q", tc.payload, code, err, tc.errCode, tc.reason)
		}
	}
}

func TestValidCloseCode(t *testing.T) {
	for code := -1; code <= 70000; code++ {
		want := (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999)
		if got := ValidCloseCode(code); got != want {
			t.Fatalf("ValidCloseCode(%d) = %v", code, got)
		}
	}
}

func TestCloseBody(t *testing.T) {
	if got := CloseBody(1002, "reserved bits set"); string(got) != "\x03\xeareserved bits set" {
		t.Errorf("CloseBody = %q", got)
	}
	if got := CloseBody(1000, ""); string(got) != "\x03\xe8" {
		t.Errorf("CloseBody = %q", got)
	}
	// Cut to fit a control frame.
	long := strings.Repeat("r", 200)
	got := CloseBody(4000, long)
	if len(got) != 125 || !bytes.Equal(got, ws.NewCloseFrameBody(4000, long)) {
		t.Errorf("long reason: %d bytes", len(got))
	}
	if code, err := ParseClose(got); err != nil || code != 4000 {
		t.Errorf("ParseClose(CloseBody) = %d, %v", code, err)
	}
}

// wsFrame is today's host encoder, the reference for AppendFrame.
func wsFrame(op ws.OpCode, payload []byte, rsv1 bool) []byte {
	h := ws.Header{Fin: true, OpCode: op, Length: int64(len(payload))}
	if rsv1 {
		h.Rsv = ws.Rsv(true, false, false)
	}
	var b bytes.Buffer
	b.Grow(ws.HeaderSize(h) + len(payload))
	_ = ws.WriteHeader(&b, h)
	b.Write(payload)
	return b.Bytes()
}

func TestEncode(t *testing.T) {
	for _, op := range []Op{OpContinuation, OpText, OpBinary, OpClose, OpPing, OpPong} {
		for _, n := range []int{0, 1, 125, 126, 127, 0xffff, 0x10000, 70000} {
			for _, rsv1 := range []bool{false, true} {
				payload := bytes.Repeat([]byte{byte(n)}, n)
				want := wsFrame(ws.OpCode(op), payload, rsv1)
				got := Encode(op, payload, rsv1)
				if !bytes.Equal(got, want) {
					t.Fatalf("Encode(%v, %d bytes, %v) = %x..., want %x...", op, n, rsv1, got[:min(len(got), 12)], want[:min(len(want), 12)])
				}
				if len(got) != EncodedLen(n) || cap(got) != len(got) {
					t.Errorf("Encode(%d bytes): len %d cap %d, EncodedLen %d", n, len(got), cap(got), EncodedLen(n))
				}
				pre := []byte("prefix")
				if app := AppendFrame(pre, op, payload, rsv1); !bytes.Equal(app, append([]byte("prefix"), want...)) {
					t.Fatalf("AppendFrame(%v, %d bytes, %v) differs", op, n, rsv1)
				}
			}
		}
	}
	// Encoded frames parse back (as a client would, masked).
	r := &Reader{Max: 1 << 17}
	f, _, err := r.Next(MaskedFrame(Encode(OpBinary, []byte("xyz"), false)[0], []byte("xyz"), testMask))
	if err != nil || string(f.Data) != "xyz" {
		t.Fatal(f, err)
	}
}

func TestEncodeAllocs(t *testing.T) {
	payload := make([]byte, 1000)
	dst := make([]byte, 0, 2048)
	if n := testing.AllocsPerRun(100, func() { dst = AppendFrame(dst[:0], OpBinary, payload, false) }); n != 0 {
		t.Errorf("AppendFrame into room: %v allocs", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = AppendFrame(make([]byte, 0, 1), OpBinary, payload, false) }); n > 2 {
		t.Errorf("AppendFrame growing: %v allocs", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = Encode(OpText, payload, true) }); n != 1 {
		t.Errorf("Encode: %v allocs, want 1", n)
	}
}

func TestAcceptKey(t *testing.T) {
	// RFC 6455 1.3.
	if got := AcceptKey("dGhlIHNhbXBsZSBub25jZQ=="); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("AcceptKey = %q", got)
	}
}

func TestValidKey(t *testing.T) {
	for key, want := range map[string]bool{
		"dGhlIHNhbXBsZSBub25jZQ==":  true,
		"AAAAAAAAAAAAAAAAAAAAAA==":  true,
		"":                          false,
		"dGhlIHNhbXBsZSBub25jZQ":    false, // unpadded
		"dGhlIHNhbXBsZSBub25jZQ=":   false,
		"dGhlIHNhbXBsZSBub25jZTE=":  false, // 17 bytes
		"dGhlIHNhbXBsZSBub25j":      false, // 15 bytes
		"dGhlIHNhbXBsZSBub25jZQ== ": false,
		"dGhlIHNhbXBsZSBub25jZQ!=":  false,
		"dGhlIHNhbXBsZSBub25jZQ-_":  false, // URL alphabet
	} {
		if got := ValidKey(key); got != want {
			t.Errorf("ValidKey(%q) = %v, want %v", key, got, want)
		}
	}
}

func TestOffersDeflate(t *testing.T) {
	for _, tc := range []struct {
		exts []string
		want bool
	}{
		{nil, false},
		{[]string{""}, false},
		{[]string{"permessage-deflate"}, true},
		{[]string{" permessage-deflate ; client_max_window_bits"}, true},
		{[]string{"permessage-deflate; client_max_window_bits=10; server_no_context_takeover; client_no_context_takeover"}, true},
		{[]string{"permessage-deflate; server_max_window_bits=15"}, true},
		{[]string{`permessage-deflate; server_max_window_bits="15"`}, true},
		{[]string{"permessage-deflate; server_max_window_bits=10"}, false},
		{[]string{"permessage-deflate; server_max_window_bits"}, false},
		{[]string{"permessage-deflate; unknown_param"}, false},
		{[]string{"permessage-deflate; server_max_window_bits=10, permessage-deflate"}, true}, // the fallback offer
		{[]string{"x-webkit-deflate-frame"}, false},
		{[]string{"foo", "permessage-deflate"}, true},
		{[]string{"PERMESSAGE-DEFLATE"}, false},
	} {
		if got := OffersDeflate(tc.exts); got != tc.want {
			t.Errorf("OffersDeflate(%q) = %v, want %v", tc.exts, got, tc.want)
		}
	}
}

func TestHandshakeResponse(t *testing.T) {
	want := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" +
		"Sec-WebSocket-Protocol: chat\r\n" +
		"Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n\r\n"
	if got := HandshakeResponse(AcceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "chat", true); string(got) != want {
		t.Errorf("HandshakeResponse =\n%q\nwant\n%q", got, want)
	}
	want = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: abc\r\n\r\n"
	if got := HandshakeResponse("abc", "", false); string(got) != want {
		t.Errorf("HandshakeResponse =\n%q\nwant\n%q", got, want)
	}
}

func mustDeflate(t testing.TB, p []byte) []byte {
	z, err := Deflate(p)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

func TestDeflateRoundTrip(t *testing.T) {
	for _, msg := range [][]byte{
		nil,
		[]byte("Hello"),
		bytes.Repeat([]byte("compress me "), 1000),
		[]byte(strings.Repeat("€uro ", 5000)),
	} {
		z := mustDeflate(t, msg)
		if bytes.HasSuffix(z, deflateTailer) {
			t.Errorf("%d bytes: deflated data keeps the 00 00 ff ff tail", len(msg))
		}
		out, err := Inflate(z, len(msg))
		if err != nil || !bytes.Equal(out, msg) {
			t.Fatalf("%d bytes: Inflate = %d bytes, %v", len(msg), len(out), err)
		}
		if len(msg) > 0 {
			if _, err := Inflate(z, len(msg)-1); !errors.Is(err, ErrTooBig) {
				t.Errorf("%d bytes with max %d: err = %v, want ErrTooBig", len(msg), len(msg)-1, err)
			}
		}
		// Through a client frame, as a server receives it.
		r := &Reader{Deflate: true, Max: max(len(msg), len(z))}
		f, n, err := r.Next(MaskedFrame(0xc1, z, testMask))
		if err != nil || n == 0 || f.Kind != Message || f.Op != OpText || !bytes.Equal(f.Data, msg) {
			t.Fatalf("%d bytes through Reader: %s, %d", len(msg), describe(f, err), n)
		}
		// And as a server sends it: RSV1 set.
		if enc := Encode(OpText, z, true); enc[0] != 0xc1 {
			t.Errorf("first byte %#x, want 0xc1", enc[0])
		}
	}
	if out, err := Inflate(helloDeflated, 100); err != nil || string(out) != "Hello" {
		t.Fatalf("RFC 7692 sample: %q, %v", out, err)
	}
	if _, err := Inflate([]byte{0xff, 0xff}, 100); err == nil || errors.Is(err, ErrTooBig) {
		t.Fatalf("garbage: err = %v", err)
	}
}

func TestStrings(t *testing.T) {
	if OpText.String() != "text" || Op(3).String() != "Op(3)" || Kind(0).String() != "none" || Close.String() != "close" || Kind(9).String() != "Kind(9)" {
		t.Error("String methods")
	}
	for op := Op(0); op < 16; op++ {
		if op.IsReserved() != ws.OpCode(op).IsReserved() || op.IsControl() != ws.OpCode(op).IsControl() {
			t.Errorf("opcode %d classified unlike gobwas/ws", op)
		}
	}
}

func BenchmarkReaderNext(b *testing.B) {
	for _, bc := range []struct {
		name    string
		deflate bool
		frame   []byte
	}{
		{"text_16", false, MaskedFrame(0x81, []byte("hello, websocket"), testMask)},
		{"binary_4k", false, MaskedFrame(0x82, bytes.Repeat([]byte{7}, 4096), testMask)},
		{"fragmented_3x1k", false, cat(MaskedFrame(0x02, make([]byte, 1024), testMask), MaskedFrame(0x00, make([]byte, 1024), testMask), MaskedFrame(0x80, make([]byte, 1024), testMask))},
		{"deflate_4k", true, MaskedFrame(0xc1, mustDeflate(b, bytes.Repeat([]byte("compress me "), 342)), testMask)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := &Reader{Deflate: bc.deflate, Max: 1 << 16}
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.frame)))
			for b.Loop() {
				buf := bc.frame
				for len(buf) > 0 {
					_, n, err := r.Next(buf)
					if err != nil || n == 0 {
						b.Fatal(n, err)
					}
					buf = buf[n:]
				}
			}
		})
	}
}
