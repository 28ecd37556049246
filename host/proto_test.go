package host

import (
	"bytes"
	"testing"
	"unicode/utf8"

	"github.com/imscript/imscript/host/internal/wire/framing"
	"github.com/imscript/imscript/host/internal/wire/wsframe"
	"github.com/imscript/imscript/script"
)

// The protocols as a transport drives them: bytes in through conn.onData,
// units out to the worker's queue. The parsers themselves are tested and
// fuzzed in host/internal/wire.

// feed hands data to the connection's protocol in two reads, split at cut,
// as a transport would, and returns the events the worker got.
func feed(c *conn, data []byte, cut int) []event {
	in := &netInbound{}
	if cut < 0 || cut > len(data) {
		cut = len(data)
	}
	for _, part := range [][]byte{data[:cut], data[cut:]} {
		in.buf = append(in.buf, part...)
		c.onData(in)
		if c.bad {
			break
		}
	}
	return c.worker().q.take(nil)
}

func protoConn(t *testing.T, m script.Map) *conn {
	s := testServer(t, m)
	c, _ := testConn(s, 1)
	return c
}

func TestNewFramerFromSettings(t *testing.T) {
	for _, tc := range []struct {
		m          script.Map
		mode       framing.Mode
		size, body int
	}{
		{script.Map{}, framing.Raw, 0, 0},
		{script.Map{"open_length_check": true}, framing.Length, 4, 4}, // "N" by default
		{script.Map{"open_length_check": true, "package_length_type": "n", "package_length_offset": int64(2)}, framing.Length, 2, 4}, // body after the field
		{script.Map{"open_length_check": true, "package_body_offset": int64(0)}, framing.Length, 4, 0},
		{script.Map{"open_eof_check": true}, framing.EOF, 0, 0},
	} {
		st, err := parseSettings(tc.m)
		if err != nil {
			t.Fatal(err)
		}
		f := newFramer(st)
		if f.Mode() != tc.mode || f.LengthSize() != tc.size || f.BodyOffset() != tc.body {
			t.Errorf("%v: mode %v size %d body %d, want %v %d %d", tc.m, f.Mode(), f.LengthSize(), f.BodyOffset(), tc.mode, tc.size, tc.body)
		}
	}
	st, _ := parseSettings(script.Map{"open_eof_split": true})
	if f := newFramer(st); !f.Split() || !bytes.Equal(f.Config().EOF, []byte("\r\n")) {
		t.Errorf("open_eof_split: split %v eof %q, want true and CRLF", f.Split(), f.Config().EOF)
	}
}

// TestTCPUnits: each framed package is one receive unit with its bytes.
func TestTCPUnits(t *testing.T) {
	c := protoConn(t, script.Map{"open_eof_split": true})
	evs := feed(c, []byte("a\r\nbb\r\nccc"), 4)
	if len(evs) != 2 || string(evs[0].data) != "a\r\n" || string(evs[1].data) != "bb\r\n" {
		t.Fatalf("events %v", evs)
	}
	for _, ev := range evs {
		if _, ok := ev.u.(tcpPackage); !ok || ev.conn != c {
			t.Fatalf("unit %T", ev.u)
		}
	}
}

const upgrade = "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"

// FuzzServerInput drives a websocket server's connection (HTTP requests,
// an upgrade, frames) with arbitrary bytes in two reads: every unit it
// posts is well formed, a refusal marks the connection bad, and no text
// message is invalid UTF-8 or over package_max_length. Seeds only; the
// parsers' own fuzzers (host/internal/wire) have the corpus.
func FuzzServerInput(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 5)
	f.Add([]byte("POST /x?a=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET /2 HTTP/1.1\r\n\r\n"), 30)
	f.Add([]byte("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: 1\r\n\r\n"), 40)
	f.Add(append([]byte(upgrade), wsframe.MaskedFrame(0x81, []byte("hello"), [4]byte{1, 2, 3, 4})...), 120)
	f.Add(append([]byte(upgrade), append(wsframe.MaskedFrame(0x01, []byte("he"), [4]byte{1, 2, 3, 4}), wsframe.MaskedFrame(0x80, []byte("llo"), [4]byte{1, 2, 3, 4})...)...), 140)
	f.Add(append([]byte(upgrade), wsframe.MaskedFrame(0x81, []byte{0xff}, [4]byte{1, 2, 3, 4})...), 10)
	f.Add([]byte("\r\n\r\nBAD\r\n\r\n"), 0)
	f.Fuzz(func(t *testing.T, data []byte, cut int) {
		c := protoConn(t, script.Map{"type": "websocket", "package_max_length": int64(1 << 16), "http_max_header_size": int64(4096)})
		for _, ev := range feed(c, data, cut) {
			switch u := ev.u.(type) {
			case *httpRequest:
				if u.Method() == "" || len(u.Body) > 1<<16 {
					t.Fatalf("request unit %+v", u)
				}
			case *wsOpen:
				if u.req == nil || u.hs == nil || u.hs.accept == "" {
					t.Fatalf("open unit %+v", u)
				}
			case httpRefusal:
				if u.status < 400 || u.status > 599 || !c.bad {
					t.Fatalf("refusal %d, bad=%v", u.status, c.bad)
				}
			case wsMessage:
				if op := wsframe.Op(u); op != wsframe.OpText && op != wsframe.OpBinary ||
					op == wsframe.OpText && !utf8.Valid(ev.data) || len(ev.data) > 1<<16 {
					t.Fatalf("message of %d bytes, op %v", len(ev.data), op)
				}
			default:
				t.Fatalf("unexpected unit %T", ev.u)
			}
		}
	})
}
