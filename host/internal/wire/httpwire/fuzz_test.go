package httpwire

import (
	"errors"
	"testing"
)

// feed parses data as a connection would receive it, in two reads split at
// cut: like the host's httpData it parses as many requests as the buffer
// holds after each read and drops the bytes of each. It stops at an error,
// after a request that does not keep the connection alive, and after a
// WebSocket upgrade (what follows is frames). It checks the invariants of
// every result on the way.
func feed(t *testing.T, data []byte, cut int) (reqs []*Request, err error) {
	t.Helper()
	if cut < 0 || cut > len(data) {
		cut = len(data)
	}
	var buf []byte
	for _, part := range [][]byte{data[:cut], data[cut:]} {
		buf = append(buf, part...)
		for len(buf) > 0 {
			req, n, err := Parse(buf, 4096, 1<<16)
			if err != nil {
				var he *Error
				if !errors.As(err, &he) || he.Status < 400 || he.Status > 599 || he.Err == nil {
					t.Fatalf("error %v (%T) is not an *Error with a 4xx/5xx status", err, err)
				}
				if req != nil || n != 0 {
					t.Fatalf("error %v with a request and %d bytes", err, n)
				}
				return reqs, err
			}
			if n < 0 || n > len(buf) {
				t.Fatalf("used %d of %d bytes", n, len(buf))
			}
			if n == 0 {
				if req != nil && (req.R == nil || req.Body != nil) {
					t.Fatalf("incomplete request %+v", req)
				}
				break
			}
			if req == nil || req.R == nil {
				t.Fatalf("request of %d bytes without a request", n)
			}
			if len(req.Body) > 1<<16 || len(req.Body) > n {
				t.Fatalf("body of %d bytes in %d (package_max_length %d)", len(req.Body), n, 1<<16)
			}
			if req.Body != nil && len(req.Body) == 0 {
				t.Fatal("empty non-nil body")
			}
			reqs = append(reqs, req)
			buf = buf[n:]
			if !req.KeepAlive || HeaderHasToken(req.R.Header, "Upgrade", "websocket") {
				return reqs, nil
			}
		}
	}
	return reqs, nil
}

func FuzzHTTPRequest(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 5)
	f.Add([]byte("POST /x?a=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET /2 HTTP/1.1\r\n\r\n"), 30)
	f.Add([]byte("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: 1\r\n\r\n"), 40)
	f.Add([]byte("GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n\x81\x85\x01\x02\x03\x04ig`hn"), 120)
	f.Add([]byte("GET /../../etc/passwd HTTP/1.0\r\n\r\n"), 3)
	f.Add([]byte("\r\n\r\nBAD\r\n\r\n"), 0)
	f.Fuzz(func(t *testing.T, data []byte, cut int) {
		reqs, _ := feed(t, data, cut)
		total := 0
		for _, r := range reqs {
			total += len(r.Body)
		}
		if total > len(data) {
			t.Fatalf("%d body bytes from %d bytes", total, len(data))
		}
	})
}

func FuzzChunkedBody(f *testing.F) {
	f.Add([]byte("5\r\nhello\r\n0\r\n\r\n"))
	f.Add([]byte("a;ext=1\r\n0123456789\r\n3\r\nabc\r\n0\r\nX-T: y\r\n\r\nrest"))
	f.Add([]byte("ffffffffffffffff\r\n"))
	f.Add([]byte("5\r\nhel"))
	f.Fuzz(func(t *testing.T, data []byte) {
		body, used, err := DecodeChunked(data, 1<<16)
		if err != nil {
			if body != nil {
				t.Fatal("body and error")
			}
			var he *Error
			if !errors.As(err, &he) || (he.Status != 400 && he.Status != 413) {
				t.Fatalf("error %v is not a 400 or 413 *Error", err)
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
