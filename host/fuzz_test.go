package host

import (
	"bytes"
	"encoding/binary"
	"testing"
	"unicode/utf8"

	"github.com/imscript/imscript/script"
)

// Fuzz targets for everything that parses bytes from the network. Run one
// with e.g. `go test ./host -run '^$' -fuzz FuzzHTTPRequest -fuzztime 60s`;
// `go test` runs their seeds (f.Add and testdata/fuzz) as regression tests.

// feed hands data to the server's protocol code in two reads, split at cut,
// as a transport would, and returns the events the worker got.
func feed(s *Server, c *Conn, data []byte, cut int) []event {
	in := &netInbound{}
	if cut < 0 || cut > len(data) {
		cut = len(data)
	}
	for _, part := range [][]byte{data[:cut], data[cut:]} {
		in.buf = append(in.buf, part...)
		s.onData(c, in)
		if c.bad {
			break
		}
	}
	return c.worker.q.take(nil)
}

func fuzzConn(t *testing.T, typ string) (*Server, *Conn) {
	s := testServer(t, script.Map{"type": typ, "package_max_length": int64(1 << 16), "http_max_header_size": int64(4096)})
	c, _ := testConn(s, 1)
	c.worker.q = newQueue()
	return s, c
}

func FuzzHTTPRequest(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 5)
	f.Add([]byte("POST /x?a=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET /2 HTTP/1.1\r\n\r\n"), 30)
	f.Add([]byte("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: 1\r\n\r\n"), 40)
	f.Add([]byte("GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n\x81\x85\x01\x02\x03\x04ig`hn"), 120)
	f.Add([]byte("GET /../../etc/passwd HTTP/1.0\r\n\r\n"), 3)
	f.Add([]byte("\r\n\r\nBAD\r\n\r\n"), 0)
	f.Fuzz(func(t *testing.T, data []byte, cut int) {
		s, c := fuzzConn(t, "websocket")
		evs := feed(s, c, data, cut)
		for _, ev := range evs {
			switch ev.kind {
			case evRequest, evWSOpen:
				if ev.req == nil || ev.req.r == nil {
					t.Fatalf("request event without a request")
				}
				if len(ev.req.body) > 1<<16 {
					t.Fatalf("body of %d bytes passed package_max_length", len(ev.req.body))
				}
			case evHTTPError:
				if ev.status < 400 || ev.status > 599 || !c.bad {
					t.Fatalf("error event %d, bad=%v", ev.status, c.bad)
				}
			case evWSMessage:
				if ev.status == 1 && !utf8.Valid(ev.data) {
					t.Fatalf("invalid UTF-8 text message passed")
				}
			default:
				t.Fatalf("unexpected event kind %d", ev.kind)
			}
		}
	})
}

func FuzzChunkedBody(f *testing.F) {
	f.Add([]byte("5\r\nhello\r\n0\r\n\r\n"))
	f.Add([]byte("a;ext=1\r\n0123456789\r\n3\r\nabc\r\n0\r\nX-T: y\r\n\r\nrest"))
	f.Add([]byte("ffffffffffffffff\r\n"))
	f.Add([]byte("5\r\nhel"))
	f.Fuzz(func(t *testing.T, data []byte) {
		body, used, err := decodeChunked(data, 1<<16)
		if err != nil {
			if body != nil {
				t.Fatal("body and error")
			}
			return
		}
		if body == nil {
			if used != 0 {
				t.Fatal("incomplete but used bytes")
			}
			return
		}
		if used > len(data) || len(body) > used || len(body) > 1<<16 {
			t.Fatalf("used %d of %d for a %d-byte body", used, len(data), len(body))
		}
	})
}

// maskedFrame builds one client frame.
func maskedFrame(b0 byte, payload []byte) []byte {
	key := [4]byte{1, 2, 3, 4}
	var out []byte
	switch n := len(payload); {
	case n < 126:
		out = []byte{b0, 0x80 | byte(n)}
	case n < 1<<16:
		out = []byte{b0, 0x80 | 126, byte(n >> 8), byte(n)}
	default:
		out = []byte{b0, 0x80 | 127}
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	out = append(out, key[:]...)
	for i, c := range payload {
		out = append(out, c^key[i%4])
	}
	return out
}

func FuzzWebSocketFrames(f *testing.F) {
	f.Add(maskedFrame(0x81, []byte("hello")), true, 3)
	f.Add(append(append(maskedFrame(0x01, []byte("he")), maskedFrame(0x89, []byte("p"))...), maskedFrame(0x80, []byte("llo"))...), false, 9)
	f.Add(maskedFrame(0x82, bytes.Repeat([]byte{0xff}, 300)), false, 100)
	f.Add(maskedFrame(0x88, []byte{0x03, 0xe8, 'o', 'k'}), false, 0)
	f.Add([]byte{0x81, 0x05, 'h', 'e', 'l', 'l', 'o'}, false, 2)
	f.Add(maskedFrame(0xc1, []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}), true, 4)
	f.Fuzz(func(t *testing.T, data []byte, deflate bool, cut int) {
		s, c := fuzzConn(t, "websocket")
		c.ws = newWSState(&wsHandshake{deflate: deflate})
		for _, ev := range feed(s, c, data, cut) {
			if ev.kind != evWSMessage {
				t.Fatalf("unexpected event kind %d", ev.kind)
			}
			if ev.status == 1 && !utf8.Valid(ev.data) {
				t.Fatal("invalid UTF-8 text message passed")
			}
			if len(ev.data) > 1<<16 {
				t.Fatalf("message of %d bytes passed package_max_length", len(ev.data))
			}
		}
	})
}

func FuzzFramer(f *testing.F) {
	f.Add([]byte("\x00\x00\x00\x05hello\x00\x00"), byte(0), 3)
	f.Add([]byte("a\r\nbb\r\nccc"), byte(1), 4)
	f.Fuzz(func(t *testing.T, data []byte, mode byte, cut int) {
		m := script.Map{"package_max_length": int64(1024)}
		switch mode % 3 {
		case 0:
			m["open_length_check"] = true
		case 1:
			m["open_eof_split"] = true
		}
		s, c := fuzzConn(t, "tcp")
		s.setSettings(mustSettings(t, m))
		total := 0
		for _, ev := range feed(s, c, data, cut) {
			if ev.kind == evFunc && c.bad {
				continue // the close after bad input
			}
			if ev.kind != evReceive || len(ev.data) > 1024 && mode%3 != 2 {
				t.Fatalf("event %d with %d bytes", ev.kind, len(ev.data))
			}
			total += len(ev.data)
		}
		if total > len(data) {
			t.Fatalf("delivered %d bytes of %d", total, len(data))
		}
	})
}

func mustSettings(t *testing.T, m script.Map) *Settings {
	st, err := ParseSettings(m)
	if err != nil {
		t.Fatal(err)
	}
	return st
}
