package tests

import (
	"strings"
	"testing"
)

// smuggled is the request pipelined behind each bad one: a server that
// reads the bad request's framing differently from a proxy in front of it
// would answer it. It must never be answered.
const smuggled = "GET /fast?id=smuggled HTTP/1.1\r\nHost: x\r\n\r\n"

const chunkedHead = "POST /body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"

// smugglingShapes are requests a server must refuse: each is sent with
// smuggled behind it.
var smugglingShapes = []struct {
	what, req string
	status    int
}{
	{"content-length and transfer-encoding", "POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
	{"transfer-encoding and content-length", "POST /body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 45\r\n\r\n0\r\n\r\n", 400},
	{"te and cl on http/1.0", "POST /body HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400},
	{"te on http/1.0", "POST /body HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
	{"two differing content-lengths", "POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 45\r\n\r\n", 400},
	{"two equal content-lengths", "POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400},
	{"content-length list", "POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\nabc", 400},
	{"content-length with a sign", "POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc", 400},
	{"two transfer-encodings", "POST /body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
	{"unknown transfer coding", "POST /body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", 501},
	{"obs-fold", "GET /fast HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n Transfer-Encoding: chunked\r\n\r\n", 400},
	{"obs-fold with a tab", "GET /fast HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n\tb\r\n\r\n", 400},
	{"space before the colon", "POST /body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400},
	{"tab before the colon", "POST /body HTTP/1.1\r\nHost: x\r\nContent-Length\t: 0\r\n\r\n", 400},
	{"control byte in a name", "GET /fast HTTP/1.1\r\nHost: x\r\nX\x01Y: v\r\n\r\n", 400},
	{"NUL in a value", "GET /fast HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n", 400},
	{"bare LF head", "GET /fast?id=lf HTTP/1.1\nHost: x\n\n", 400},
	{"bare LF in a CRLF head", "GET /fast HTTP/1.1\r\nHost: x\nTransfer-Encoding: chunked\r\n\r\n", 400},
	{"bare CR in a head", "GET /fast HTTP/1.1\r\nHost: x\rTransfer-Encoding: chunked\r\n\r\n", 400},
	{"bare LF after a chunk size", chunkedHead + "5\nhello\r\n0\r\n\r\n", 400},
	{"bare LF after the last chunk", chunkedHead + "0\n\r\n", 400},
	{"oversized chunk-size line", chunkedHead + "1;" + strings.Repeat("e", 5000) + "\r\nx\r\n0\r\n\r\n", 400},
	{"chunk size over 63 bits", chunkedHead + "10000000000000005\r\nhello\r\n0\r\n\r\n", 400},
	{"chunk size not hex", chunkedHead + "5x\r\nhello\r\n0\r\n\r\n", 400},
	{"malformed trailer", chunkedHead + "0\r\nno colon\r\n\r\n", 400},
	{"http/1.1 without host", "GET /fast HTTP/1.1\r\n\r\n", 400},
	{"two hosts", "GET /fast HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400},
}

// TestHTTPSmuggling: the shapes of request smuggling, sent raw to a running
// server (Lua and JS), are refused with 400 (501 for an unknown transfer
// coding) and Connection: close, the connection is closed, and the request
// pipelined behind them is not served. The server goes on serving others.
func TestHTTPSmuggling(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		s, _ := startHTTP(t, lang, nil)
		ping := func(t *testing.T, id string) {
			t.Helper()
			c := dialRaw(t, s.addr())
			defer c.Close()
			c.send(t, "GET /fast?id="+id+" HTTP/1.1\r\nHost: x\r\n\r\n")
			if resp, body := c.readResponse(t, "GET"); resp.StatusCode != 200 || string(body) != "fast "+id {
				t.Fatalf("a good request: %q %q", resp.Status, body)
			}
		}
		ping(t, "first")
		for _, tc := range smugglingShapes {
			t.Run(strings.ReplaceAll(tc.what, " ", "-"), func(t *testing.T) {
				c := dialRaw(t, s.addr())
				defer c.Close()
				c.send(t, tc.req+smuggled)
				resp, body, err := c.readResponseErr("GET")
				if err != nil {
					t.Fatalf("want a %d response, got %v", tc.status, err)
				}
				if resp.StatusCode != tc.status || !resp.Close {
					t.Fatalf("status %q (Connection: close %v), want %d and close (body %q)", resp.Status, resp.Close, tc.status, abbrev(body))
				}
				if rest := c.expectEnd(t); len(rest) > 0 {
					t.Fatalf("after the %d response: %q (the pipelined request was served)", tc.status, abbrev(rest))
				}
			})
		}
		ping(t, "last")
		if s.exited() {
			t.Fatalf("the server exited: %v", s.err)
		}
	})
}
