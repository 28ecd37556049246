package httpwire

import (
	"bytes"
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"testing"
)

// feed parses data as a connection would receive it, in two reads split at
// cut: like the host's httpConn.input it parses as many requests as the
// buffer holds after each read, owns each (Arena) and drops its bytes. It
// stops at an error, after a request that does not keep the connection
// alive, and after a WebSocket upgrade (what follows is frames). It checks
// the invariants of every result on the way.
func feed(t *testing.T, data []byte, cut int) (reqs []*Request, err error) {
	t.Helper()
	if cut < 0 || cut > len(data) {
		cut = len(data)
	}
	var buf []byte
	var arena Arena
	for _, part := range [][]byte{data[:cut], data[cut:]} {
		buf = append(buf, part...)
		for len(buf) > 0 {
			req := new(Request)
			n, err := req.Parse(buf, 4096, 1<<16)
			if err != nil {
				var he *Error
				if !errors.As(err, &he) || he.Status < 400 || he.Status > 599 || he.Err == nil {
					t.Fatalf("error %v (%T) is not an *Error with a 4xx/5xx status", err, err)
				}
				if n != 0 {
					t.Fatalf("error %v with %d bytes", err, n)
				}
				return reqs, err
			}
			if n < 0 || n > len(buf) {
				t.Fatalf("used %d of %d bytes", n, len(buf))
			}
			if n == 0 {
				if req.Body != nil {
					t.Fatalf("incomplete request with a body %q", req.Body)
				}
				break
			}
			if len(req.Body) > 1<<16 || len(req.Body) > n {
				t.Fatalf("body of %d bytes in %d (package_max_length %d)", len(req.Body), n, 1<<16)
			}
			if req.Body != nil && len(req.Body) == 0 {
				t.Fatal("empty non-nil body")
			}
			req.Own(&arena)
			reqs = append(reqs, req)
			// The buffer is the connection's: it changes under an owned
			// request without changing it.
			method, target := req.Method(), req.Target()
			rest := append([]byte(nil), buf[n:]...)
			clear(buf)
			buf = append(buf[:0], rest...)
			if req.Method() != method || req.Target() != target {
				t.Fatalf("owned request changed with the buffer: %q %q, was %q %q", req.Method(), req.Target(), method, target)
			}
			if !req.KeepAlive || req.HasToken("Upgrade", "websocket") {
				return reqs, nil
			}
		}
	}
	return reqs, nil
}

var requestSeeds = []string{
	"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
	"POST /x?a=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: 1\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n\x81\x85\x01\x02\x03\x04ig`hn",
	"GET /../../etc/passwd HTTP/1.0\r\n\r\n",
	"\r\n\r\nBAD\r\n\r\n",
	"GET http://example.com:8080/a%20b?q=1 HTTP/1.1\r\nHost: other\r\n\r\n",
	"CONNECT example.com:443 HTTP/1.1\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /a%2Fb/%C3%A9/é?x=%zz HTTP/1.1\r\nHost: a\r\nCookie: a=1; b=2\r\nCookie: c=3\r\nPragma: no-cache\r\n\r\n",
	"GET / HTTP/1.0\r\nConnection: foo, Keep-Alive\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTrailer: X, Content-Length\r\n\r\n0\r\n\r\n",
	"GET / HTTP/1.1\nHost: a\n\n",
	"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
	"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello",
}

func FuzzHTTPRequest(f *testing.F) {
	for i, s := range requestSeeds {
		f.Add([]byte(s), i*7)
	}
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

// FuzzDifferential parses every input with Request.Parse and with net/http
// (refParse, ref_test.go): both take the same request (method, target,
// protocol, header fields by canonical name with their values in order,
// Host, path, query, body, keep-alive, bytes used), or both wait for more
// bytes, or both refuse it (with the same status, but for 505 and 501,
// which net/http's checks give in another order) — except for the
// deliberate differences, which Parse refuses where net/http accepts
// (package comment, docs/limits.md):
//
//   - bare LF or CR line ends (ErrBareLineEnd),
//   - obs-fold (ErrObsFold),
//   - Content-Length twice with the same value (ErrDupLength),
//   - Transfer-Encoding on HTTP/1.0 (ErrTransferHTTP10),
//   - a chunk line with bytes other than hex digits, SP/HTAB and an
//     extension without controls (ErrChunkLine), a malformed trailer field
//     (ErrTrailer).
//
// Run it with a short -fuzzminimizetime (1s): by default each new
// interesting input is minimized for up to a minute, most of a run.
func FuzzDifferential(f *testing.F) {
	for i, s := range requestSeeds {
		f.Add([]byte(s), uint8(i))
	}
	f.Fuzz(func(t *testing.T, data []byte, limits uint8) {
		// Small limits too: the 431 and 413 edges.
		maxHeader := []int{4096, 4096, 64, 100}[limits&3]
		maxBody := []int{1 << 16, 4, 1 << 16, 0}[limits>>2&3]
		differ(t, data, maxHeader, maxBody)
	})
}

func differ(t *testing.T, data []byte, maxHeader, maxBody int) {
	t.Helper()
	ref := refParse(append([]byte(nil), data...), maxHeader, maxBody)
	buf := append([]byte(nil), data...)
	var got Request
	n, err := got.Parse(buf, maxHeader, maxBody)
	if err != nil {
		var he *Error
		if !errors.As(err, &he) {
			t.Fatalf("error %v is not an *Error", err)
		}
		if deliberate(err, data) {
			return
		}
		if ref.err == nil {
			t.Fatalf("refused (%v), net/http takes it (request %v, %d bytes)", err, ref.r != nil, ref.n)
		}
		if he.Status != ref.err.Status && he.Status != 505 && ref.err.Status != 505 && he.Status != 501 && ref.err.Status != 501 {
			t.Fatalf("status %d (%v), net/http's %d (%v)", he.Status, err, ref.err.Status, ref.err.Err)
		}
		return
	}
	if ref.err != nil {
		t.Fatalf("taken (%d bytes, head %v), net/http refuses: %v", n, got.HeadComplete(), ref.err)
	}
	if ref.r == nil {
		if n != 0 || got.HeadComplete() {
			t.Fatalf("taken (%d bytes, head %v), net/http waits for more", n, got.HeadComplete())
		}
		return
	}
	if n == 0 && !got.HeadComplete() {
		t.Fatalf("waits for the head, net/http has it")
	}
	if n != ref.n {
		t.Fatalf("used %d bytes, net/http %d", n, ref.n)
	}
	if ref.n == 0 {
		if ExpectsContinue(&got) != (ref.r.ProtoAtLeast(1, 1) && refHasToken(ref.r.Header, "Expect", "100-continue")) {
			t.Fatalf("ExpectsContinue %v differs", ExpectsContinue(&got))
		}
	}
	got.Own(nil)
	clear(buf) // an owned request does not change with the buffer
	r := ref.r
	for _, c := range []struct{ what, got, want string }{
		{"method", got.Method(), r.Method},
		{"target", got.Target(), r.RequestURI},
		{"proto", got.Proto(), r.Proto},
		{"host", got.Host(), r.Host},
		{"path", got.Path(), r.URL.Path},
		{"escaped path", got.EscapedPath(), r.URL.EscapedPath()},
		{"query", got.RawQuery(), r.URL.RawQuery},
	} {
		if c.got != c.want {
			t.Fatalf("%s %q, net/http %q", c.what, c.got, c.want)
		}
	}
	if got.ProtoMinor() != r.ProtoMinor || !got.ProtoAtLeast(1, 0) {
		t.Fatalf("proto minor %d, net/http %d", got.ProtoMinor(), r.ProtoMinor)
	}
	h := http.Header{}
	for i := range got.NumFields() {
		name, value := got.Field(i)
		h[http.CanonicalHeaderKey(name)] = append(h[http.CanonicalHeaderKey(name)], value)
	}
	// What net/http.ReadRequest takes out of the header or adds to it.
	delete(h, "Transfer-Encoding")
	delete(h, "Host")
	if len(r.TransferEncoding) > 0 {
		delete(h, "Trailer")
	}
	if p := h["Pragma"]; len(p) > 0 && p[0] == "no-cache" && h["Cache-Control"] == nil {
		h["Cache-Control"] = []string{"no-cache"}
	}
	if !reflect.DeepEqual(h, r.Header) {
		t.Fatalf("header %q, net/http %q", h, r.Header)
	}
	if ref.n == 0 {
		return
	}
	if !bytes.Equal(got.Body, ref.body) || (got.Body == nil) != (ref.body == nil) {
		t.Fatalf("body %q, net/http %q", got.Body, ref.body)
	}
	if got.KeepAlive != ref.keepAlive {
		t.Fatalf("keep-alive %v, net/http %v", got.KeepAlive, ref.keepAlive)
	}
}

// deliberate reports whether err is one of the deliberate differences and
// data has what it names.
func deliberate(err error, data []byte) bool {
	lower := bytes.ToLower(data)
	switch {
	case errors.Is(err, ErrBareLineEnd):
		for i, c := range data {
			if c == '\n' && (i == 0 || data[i-1] != '\r') || c == '\r' && (i+1 == len(data) || data[i+1] != '\n') {
				return true
			}
		}
	case errors.Is(err, ErrObsFold):
		return bytes.Contains(data, []byte("\n ")) || bytes.Contains(data, []byte("\n\t"))
	case errors.Is(err, ErrDupLength):
		return bytes.Count(lower, []byte("content-length")) >= 2
	case errors.Is(err, ErrTransferHTTP10), errors.Is(err, ErrChunkLine), errors.Is(err, ErrTrailer):
		return bytes.Contains(lower, []byte("transfer-encoding"))
	}
	return false
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
		// The old decoder (ref_test.go) takes what this one takes.
		rbody, rused, rerr := refDecodeChunked(data, 1<<16)
		if rerr != nil || !bytes.Equal(rbody, body) || rused != used {
			t.Fatalf("%q, %d; the old decoder: %q, %d, %v", body, used, rbody, rused, rerr)
		}
	})
}

// FuzzDifferentialParts is FuzzDifferential on requests built from parts
// (a request line, two fields, a body framed by flags), so that the
// mutator changes one part at a time and the rest stays well formed.
func FuzzDifferentialParts(f *testing.F) {
	f.Add("GET / HTTP/1.1", "X-A", "a", "Connection", "keep-alive", []byte(""), uint8(0))
	f.Add("POST /p?q=1 HTTP/1.1", "Content-Type", "text/plain", "Expect", "100-continue", []byte("hello"), uint8(1))
	f.Add("POST /p HTTP/1.1", "Trailer", "X-T", "X-B", "b", []byte("5\r\nhello\r\n0\r\nX-T: t\r\n\r\n"), uint8(2))
	f.Add("GET http://h:1/a%20b HTTP/1.0", "Connection", "Keep-Alive, foo", "Cookie", "a=1; b=2", []byte(""), uint8(4))
	f.Add("CONNECT h:443 HTTP/1.1", "Content-Length", "0", "Transfer-Encoding", "chunked", []byte("0\r\n\r\n"), uint8(8))
	f.Fuzz(func(t *testing.T, line, n1, v1, n2, v2 string, body []byte, flags uint8) {
		var b bytes.Buffer
		b.WriteString(line + "\r\n")
		if flags&8 == 0 {
			b.WriteString("Host: a\r\n")
		}
		b.WriteString(n1 + ": " + v1 + "\r\n")
		b.WriteString(n2 + ": " + v2 + "\r\n")
		switch flags & 3 {
		case 1:
			b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n")
		case 2:
			b.WriteString("Transfer-Encoding: chunked\r\n")
		}
		b.WriteString("\r\n")
		b.Write(body)
		maxHeader, maxBody := 4096, 1<<16
		if flags&16 != 0 {
			maxHeader, maxBody = 80, 3
		}
		differ(t, b.Bytes(), maxHeader, maxBody)
	})
}
