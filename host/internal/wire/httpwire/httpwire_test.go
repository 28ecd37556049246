package httpwire

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

const (
	testMaxHeader = 4096
	testMaxBody   = 1 << 16
)

func TestParseAccepts(t *testing.T) {
	for _, tc := range []struct {
		name      string
		in        string
		rest      int // bytes of in left after the request
		method    string
		uri       string
		body      string
		keepAlive bool
	}{
		{"get", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 0, "GET", "/", "", true},
		{"query", "GET /x/y?a=1&b=2 HTTP/1.1\r\nHost: a\r\n\r\n", 0, "GET", "/x/y?a=1&b=2", "", true},
		{"empty lines before", "\r\n\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 0, "GET", "/", "", true},
		{"content-length", "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", 0, "POST", "/p", "hello", true},
		{"content-length 0", "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", 0, "POST", "/p", "", true},
		{"content-length leading zeros", "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 005\r\n\r\nhello", 0, "POST", "/p", "hello", true},
		{"body then more", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhiGET", 3, "POST", "/", "hi", true},
		{"chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 0, "POST", "/", "hello", true},
		{"chunked upper case", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 0, "POST", "/", "hello", true},
		{"chunked empty", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0, "POST", "/", "", true},
		{"chunked trailers", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: 1\r\nU: 2\r\n\r\nNEXT", 4, "POST", "/", "hello", true},
		{"connection close", "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 0, "GET", "/", "", false},
		{"connection close in a list", "GET / HTTP/1.1\r\nHost: a\r\nConnection: foo,  CLOSE \r\n\r\n", 0, "GET", "/", "", false},
		{"http/1.0", "GET / HTTP/1.0\r\n\r\n", 0, "GET", "/", "", false},
		{"http/1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 0, "GET", "/", "", true},
		{"http/1.0 keep-alive list", "GET / HTTP/1.0\r\nConnection: foo, keep-alive\r\n\r\n", 0, "GET", "/", "", true},
		{"http/1.0 keep-alive and close", "GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", 0, "GET", "/", "", false},
		{"http/1.2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 0, "GET", "/", "", true},
		{"connect without host", "CONNECT example.com:443 HTTP/1.1\r\n\r\n", 0, "CONNECT", "example.com:443", "", true},
		{"traversal path", "GET /../../etc/passwd HTTP/1.0\r\n\r\n", 0, "GET", "/../../etc/passwd", "", false},
		{"custom method", "PURGE /x HTTP/1.1\r\nHost: a\r\n\r\n", 0, "PURGE", "/x", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			buf := []byte(tc.in)
			req, n, err := Parse(buf, testMaxHeader, testMaxBody)
			want := len(tc.in) - tc.rest
			if err != nil || req == nil || n != want {
				t.Fatalf("Parse = %v, %d, %v; want a request of %d bytes", req, n, err, want)
			}
			if req.Method() != tc.method || req.Target() != tc.uri || string(req.Body) != tc.body || req.KeepAlive != tc.keepAlive {
				t.Fatalf("got %s %s body %q keepAlive %v; want %s %s %q %v",
					req.Method(), req.Target(), req.Body, req.KeepAlive, tc.method, tc.uri, tc.body, tc.keepAlive)
			}
			if tc.body == "" && req.Body != nil {
				t.Errorf("empty body is %#v, want nil", req.Body)
			}
			// The request is the caller's: a copy, not a view of buf.
			for i := range buf {
				buf[i] = 'Z'
			}
			if string(req.Body) != tc.body || req.Method() != tc.method || req.Target() != tc.uri {
				t.Errorf("request changed with the buffer: %s %s %q", req.Method(), req.Target(), req.Body)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	long := "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", testMaxHeader) + "\r\n\r\n"
	for _, tc := range []struct {
		name   string
		in     string
		status int
		text   string // in the error
	}{
		{"head over max, unterminated", "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", testMaxHeader), 431, "request header over 4096 bytes"},
		{"head over max, terminated", long, 431, "request header over 4096 bytes"},
		{"garbage", "BAD\r\n\r\n", 400, "malformed HTTP request"},
		{"empty lines then garbage", "\r\n\r\nBAD\r\n\r\n", 400, "malformed HTTP request"},
		{"two spaces", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "malformed HTTP version"},
		{"tab separator", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, "malformed HTTP request"},
		{"bad method", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid method"},
		{"bad version", "GET / HTTP/x\r\n\r\n", 400, "malformed HTTP version"},
		{"lower-case version", "GET / http/1.1\r\nHost: a\r\n\r\n", 400, "malformed HTTP version"},
		{"control in target", "GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid control character"},
		{"bad escape in path", "GET /a%zz HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid URL escape"},
		{"relative target", "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid URI for request"},
		{"http/2.0", "GET / HTTP/2.0\r\n\r\n", 505, "protocol HTTP/2.0 not supported"},
		{"h2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, "protocol HTTP/2.0 not supported"},
		{"http/0.9", "GET / HTTP/0.9\r\n\r\n", 505, "protocol HTTP/0.9 not supported"},
		{"http/1.1 without host", "GET / HTTP/1.1\r\nX: y\r\n\r\n", 400, "missing required Host header"},
		{"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400, "too many Host headers"},
		{"bad host", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, "malformed Host header"},
		{"space in header name", "GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n", 400, `invalid header name "Bad Name"`},
		{"space before colon", "GET / HTTP/1.1\r\nHost: a\r\nX-Foo : x\r\n\r\n", 400, `invalid header name "X-Foo "`},
		{"separator in header name", "GET / HTTP/1.1\r\nHost: a\r\nBad(Name): x\r\n\r\n", 400, `invalid header name "Bad(Name)"`},
		{"empty header name", "GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n", 400, "invalid header name"},
		{"header without colon", "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400, "malformed header line"},
		{"control in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n", 400, "invalid header value"},
		{"DEL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n", 400, "invalid header value"},
		{"NUL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x00\r\n\r\n", 400, "invalid header value"},
		{"bare LF", "GET /lf HTTP/1.1\nHost: a\n\n", 400, "line not ended by CRLF"},
		{"CRLF then LF", "GET / HTTP/1.1\r\nHost: a\r\n\n", 400, "line not ended by CRLF"},
		{"bare LF in a header", "GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n", 400, "line not ended by CRLF"},
		{"bare CR", "GET / HTTP/1.1\r\nHost: a\rX: y\r\n\r\n", 400, "CR inside a line"},
		{"CR before CRLF", "GET / HTTP/1.1\r\nHost: a\r\nX: y\r\r\n\r\n", 400, "CR inside a line"},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n folded\r\n\r\n", 400, "obsolete line folding"},
		{"obs-fold tab", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tfolded\r\n\r\n", 400, "obsolete line folding"},
		{"leading space first line", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400, "obsolete line folding"},
		{"te and cl", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello", 400, "both Transfer-Encoding and Content-Length"},
		{"cl and te", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nhello", 400, "both Transfer-Encoding and Content-Length"},
		{"te and cl, spaced", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\ncontent-LENGTH : 5\r\n\r\n", 400, "invalid header name"},
		{"te and cl on http/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello", 400, "Transfer-Encoding in an HTTP/1.0 request"},
		{"te on http/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "Transfer-Encoding in an HTTP/1.0 request"},
		{"te gzip", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501, `transfer encoding "gzip" not supported`},
		{"te gzip, chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, "not supported"},
		{"te chunked twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "too many Transfer-Encoding headers"},
		{"te with a space", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked x\r\n\r\n", 501, "not supported"},
		{"trailer names content-length", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTrailer: X, content-length\r\n\r\n", 400, "bad trailer key"},
		{"cl negative", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400, "bad Content-Length"},
		{"cl plus", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n", 400, "bad Content-Length"},
		{"cl list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\n", 400, "bad Content-Length"},
		{"cl empty", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", 400, "invalid empty Content-Length"},
		{"cl overflow", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775808\r\n\r\n", 400, "bad Content-Length"},
		{"cl twice", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400, "multiple differing Content-Length"},
		{"cl twice, same", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\ncontent-length: 1\r\n\r\nx", 400, "Content-Length given more than once"},
		{"cl over max", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 65537\r\n\r\n", 413, "body of 65537 bytes over package_max_length 65536"},
		{"cl max int", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775807\r\n\r\n", 413, "over package_max_length"},
		{"chunk size bad", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, `bad chunk size "zz"`},
		{"chunk size overflow", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n", 400, "bad chunk size"},
		{"chunk size line too long", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;" + strings.Repeat("e", 5000), 400, "chunk line too long"},
		{"chunk size bare LF", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", 400, "line not ended by CRLF"},
		{"chunk over max", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10001\r\n", 413, "chunked body over package_max_length 65536"},
		{"chunk without CRLF", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxyz", 400, "chunk not followed by CRLF"},
		{"bad trailer", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nno colon\r\n\r\n", 400, "malformed trailer field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, n, err := Parse([]byte(tc.in), testMaxHeader, testMaxBody)
			var he *Error
			if !errors.As(err, &he) || req != nil || n != 0 {
				t.Fatalf("Parse = %v, %d, %v; want an *Error", req, n, err)
			}
			if he.Status != tc.status || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("error %q (status %d), want status %d with %q", err, he.Status, tc.status, tc.text)
			}
			if prefix := fmt.Sprintf("%d %s: ", tc.status, http.StatusText(tc.status)); !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("error %q does not name its status", err)
			}
			if errors.Unwrap(err) != he.Err {
				t.Errorf("Unwrap = %v, want %v", errors.Unwrap(err), he.Err)
			}
		})
	}
}

func TestParseHeaderLimit(t *testing.T) {
	head := func(size int) string {
		base := "GET / HTTP/1.0\r\nX: \r\n\r\n"
		return strings.Replace(base, "X: ", "X: "+strings.Repeat("a", size-len(base)), 1)
	}
	if h := head(100); len(h) != 100 {
		t.Fatalf("head of %d bytes", len(h))
	}
	if req, n, err := Parse([]byte(head(100)), 100, 0); err != nil || req == nil || n != 100 {
		t.Errorf("head of exactly maxHeader: %v, %d, %v", req, n, err)
	}
	if _, _, err := Parse([]byte(head(101)), 100, 0); err == nil {
		t.Error("head of maxHeader+1 accepted")
	}
	// Unterminated: up to maxHeader waits, beyond is refused.
	partial := []byte(head(200)[:100])
	if req, n, err := Parse(partial, 100, 0); req != nil || n != 0 || err != nil {
		t.Errorf("100 unterminated bytes: %v, %d, %v; want need more", req, n, err)
	}
	if _, _, err := Parse(append(partial, 'a'), 100, 0); err == nil {
		t.Error("101 unterminated bytes accepted")
	}
	// Empty lines before the request do not count against the limit.
	lead := append(bytes.Repeat([]byte("\r\n"), 200), head(100)...)
	if req, n, err := Parse(lead, 100, 0); err != nil || req == nil || n != len(lead) {
		t.Errorf("400 bytes of empty lines then a request: %v, %d, %v", req, n, err)
	}
}

func TestParseIncomplete(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		partial bool // head complete: a partial request
	}{
		{"empty", "", false},
		{"empty lines", "\r\n\r\n\n", false},
		{"request line", "GET / HTTP/1.1\r\n", false},
		{"head", "GET / HTTP/1.1\r\nHost: a\r\n\r", false},
		{"body", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhell", true},
		{"no body yet", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n", true},
		{"chunk size", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5", true},
		{"chunk data", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", true},
		{"chunk CRLF", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r", true},
		{"last chunk", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n", true},
		{"trailer", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: 1\r\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var req Request
			n, err := req.Parse([]byte(tc.in), testMaxHeader, testMaxBody)
			if err != nil || n != 0 {
				t.Fatalf("Parse = %d, %v; want need more", n, err)
			}
			if tc.partial != req.HeadComplete() {
				t.Fatalf("head complete %v, want %v", req.HeadComplete(), tc.partial)
			}
			if req.Body != nil {
				t.Fatalf("partial request with a body %q", req.Body)
			}
			if p, n, err := Parse([]byte(tc.in), testMaxHeader, testMaxBody); n != 0 || err != nil || (p != nil) != tc.partial {
				t.Fatalf("Parse = %v, %d, %v", p, n, err)
			}
		})
	}
}

// Every prefix of a valid stream is "need more" (or a partial request) and
// never an error.
func TestParsePrefixes(t *testing.T) {
	full := "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;e\r\nde\r\n0\r\nT: x\r\n\r\n"
	for i := 0; i < len(full); i++ {
		req, n, err := Parse([]byte(full[:i]), testMaxHeader, testMaxBody)
		if err != nil || n != 0 || (req != nil && req.Body != nil) {
			t.Fatalf("%d of %d bytes: %v, %d, %v", i, len(full), req, n, err)
		}
	}
	req, n, err := Parse([]byte(full), testMaxHeader, testMaxBody)
	if err != nil || n != len(full) || string(req.Body) != "abcde" {
		t.Fatalf("whole: %v, %d, %v", req, n, err)
	}
}

func TestParsePipelining(t *testing.T) {
	stream := []byte("GET /1 HTTP/1.1\r\nHost: a\r\n\r\n" +
		"POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc" +
		"\r\n" + // a stray empty line between requests is ignored
		"POST /3 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n0\r\n\r\n" +
		"GET /4 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" +
		"GET /5 HTTP/1.1\r\n")
	var got []string
	var req Request
	for {
		n, err := req.Parse(stream, testMaxHeader, testMaxBody)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		got = append(got, req.Target()+" "+string(req.Body)+" "+map[bool]string{true: "keep", false: "close"}[req.KeepAlive])
		stream = stream[n:]
	}
	want := []string{"/1  keep", "/2 abc keep", "/3 xy keep", "/4  close"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q, want %q", got, want)
	}
	if string(stream) != "GET /5 HTTP/1.1\r\n" {
		t.Fatalf("left %q", stream)
	}
}

// A bare-LF head followed by a CRLF request in the same buffer: the bare
// LF is refused (net/http would take the first head up to "\n\n").
func TestParseMixedLineEndings(t *testing.T) {
	in := "GET /a HTTP/1.1\nHost: a\n\nGET /b HTTP/1.1\r\nHost: b\r\n\r\n"
	_, _, err := Parse([]byte(in), testMaxHeader, testMaxBody)
	var he *Error
	if !errors.As(err, &he) || he.Status != 400 || !errors.Is(err, ErrBareLineEnd) {
		t.Fatalf("Parse error %v, want a 400 for the bare LF", err)
	}
}

func TestExpectsContinue(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", true},
		{"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 5\r\n\r\n", true},
		{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n", false},
		{"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", false},
		{"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n", true},
	} {
		var req Request
		n, err := req.Parse([]byte(tc.in), testMaxHeader, testMaxBody)
		if err != nil || n != 0 || !req.HeadComplete() {
			t.Fatalf("%q: Parse = %d, %v; want a partial request", tc.in, n, err)
		}
		if got := ExpectsContinue(&req); got != tc.want {
			t.Errorf("%q: ExpectsContinue = %v, want %v", tc.in, got, tc.want)
		}
	}
	// Once the body is there the request is complete.
	req, n, err := Parse([]byte("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello"), testMaxHeader, testMaxBody)
	if err != nil || n == 0 || string(req.Body) != "hello" {
		t.Fatalf("with body: %v, %d, %v", req, n, err)
	}
}

// The header fields, the target's parts and Host as a handler reads them.
func TestRequestFields(t *testing.T) {
	var head strings.Builder
	head.WriteString("GET /a%20b/c?x=1&y=%zz HTTP/1.1\r\nHost: example.com:8080\r\nAccept:  */* \r\n")
	for i := range 20 { // more than fixedFields
		fmt.Fprintf(&head, "X-N%d: v%d\r\n", i, i)
	}
	head.WriteString("x-dup: one\r\nX-DUP: two\r\nConnection: keep-alive, Upgrade\r\nConnection:  foo \r\nUpgrade: WebSocket\r\n\r\n")
	req, n, err := Parse([]byte(head.String()), testMaxHeader, testMaxBody)
	if err != nil || n != head.Len() {
		t.Fatalf("Parse = %d, %v", n, err)
	}
	if req.NumFields() != 27 {
		t.Fatalf("%d fields, want 27", req.NumFields())
	}
	for _, c := range []struct{ what, got, want string }{
		{"method", req.Method(), "GET"},
		{"target", req.Target(), "/a%20b/c?x=1&y=%zz"},
		{"proto", req.Proto(), "HTTP/1.1"},
		{"host", req.Host(), "example.com:8080"},
		{"path", req.Path(), "/a b/c"},
		{"escaped path", req.EscapedPath(), "/a%20b/c"},
		{"query", req.RawQuery(), "x=1&y=%zz"},
		{"accept", req.Header("ACCEPT"), "*/*"},
		{"x-n19", req.Header("x-n19"), "v19"},
		{"absent", req.Header("X-None"), ""},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
	if name, value := req.Field(21); name != "X-N19" || value != "v19" {
		t.Errorf("field 21 = %q: %q", name, value)
	}
	var dups []string
	for v := range req.Values("X-Dup") {
		dups = append(dups, v)
	}
	if strings.Join(dups, ",") != "one,two" {
		t.Errorf("Values(X-Dup) = %q", dups)
	}
	for _, tc := range []struct {
		name, token string
		want        bool
	}{
		{"Connection", "upgrade", true},
		{"connection", "KEEP-ALIVE", true},
		{"Connection", "foo", true},
		{"Connection", "close", false},
		{"Connection", "keep", false},
		{"Upgrade", "websocket", true},
		{"Expect", "100-continue", false},
	} {
		if got := req.HasToken(tc.name, tc.token); got != tc.want {
			t.Errorf("HasToken(%s, %s) = %v, want %v", tc.name, tc.token, got, tc.want)
		}
	}

	// Absolute form: the target's host is the Host (as net/http has it).
	req, _, err = Parse([]byte("GET http://target.example/p%41th?q HTTP/1.1\r\nHost: other\r\n\r\n"), testMaxHeader, testMaxBody)
	if err != nil || req.Host() != "target.example" || req.Path() != "/pAth" || req.EscapedPath() != "/p%41th" || req.RawQuery() != "q" || req.Header("Host") != "other" {
		t.Fatalf("absolute form: %v host %q path %q %q query %q", err, req.Host(), req.Path(), req.EscapedPath(), req.RawQuery())
	}
	// A path escaped on the way out.
	req, _, err = Parse([]byte("GET /é\"x HTTP/1.1\r\nHost: a\r\n\r\n"), testMaxHeader, testMaxBody)
	if err != nil || req.Path() != "/é\"x" || req.EscapedPath() != "/%C3%A9%22x" {
		t.Fatalf("non-ASCII path: %v %q %q", err, req.Path(), req.EscapedPath())
	}
}

// A typical GET costs no allocation: the request's parts are offsets into
// the buffer, the fields a fixed array; owning it copies the head into an
// Arena's block (one allocation per block of heads).
func TestParseAllocs(t *testing.T) {
	buf := []byte("GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n" +
		"Accept: text/html,application/xhtml+xml\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate\r\n" +
		"Connection: keep-alive\r\nCookie: session=abc123\r\nUpgrade-Insecure-Requests: 1\r\n\r\n")
	var req Request
	allocs := testing.AllocsPerRun(100, func() {
		if n, err := req.Parse(buf, testMaxHeader, testMaxBody); err != nil || n != len(buf) {
			t.Fatalf("Parse = %d, %v", n, err)
		}
		if req.Method() != "GET" || req.Header("cookie") != "session=abc123" || !req.KeepAlive || req.EscapedPath() != "/index.html" {
			t.Fatal("wrong request")
		}
	})
	if allocs != 0 {
		t.Errorf("Parse of a GET with 8 fields: %v allocations, want 0", allocs)
	}
	var arena Arena
	allocs = testing.AllocsPerRun(1000, func() {
		_, _ = req.Parse(buf, testMaxHeader, testMaxBody)
		req.Own(&arena)
	})
	if allocs > 0.2 {
		t.Errorf("Parse and Own: %v allocations, want one per block of heads", allocs)
	}
	// Beyond the fixed fields: one allocation for up to 16 more.
	many := bytes.Replace(buf, []byte("\r\n\r\n"), []byte("\r\n"+strings.Repeat("Sec-Fetch-X: y\r\n", 16)+"\r\n"), 1)
	allocs = testing.AllocsPerRun(100, func() {
		var r Request
		if n, err := r.Parse(many, testMaxHeader, testMaxBody); err != nil || n != len(many) || r.NumFields() != 24 {
			t.Fatalf("Parse = %d, %v, %d fields", n, err, r.NumFields())
		}
	})
	if allocs != 1 {
		t.Errorf("Parse of a GET with 24 fields: %v allocations, want 1", allocs)
	}
}

func TestDecodeChunked(t *testing.T) {
	for _, tc := range []struct {
		name   string
		in     string
		body   string
		rest   int // bytes of in left after the body; -1: incomplete
		status int // an *Error's
	}{
		{"one chunk", "5\r\nhello\r\n0\r\n\r\n", "hello", 0, 0},
		{"two chunks, ext, trailer, rest", "a;ext=1\r\n0123456789\r\n3\r\nabc\r\n0\r\nX-T: y\r\n\r\nrest", "0123456789abc", 4, 0},
		{"hex upper", "A\r\n0123456789\r\n0\r\n\r\n", "0123456789", 0, 0},
		{"spaces around size", " 5 \r\nhello\r\n0\r\n\r\n", "hello", 0, 0},
		{"space before ext", "5 ;a=\"b c\"\r\nhello\r\n0\r\n\r\n", "hello", 0, 0},
		{"leading zeros", "00000000000000000005\r\nhello\r\n0\r\n\r\n", "hello", 0, 0},
		{"empty", "0\r\n\r\n", "", 0, 0},
		{"incomplete size", "5", "", -1, 0},
		{"incomplete data", "5\r\nhel", "", -1, 0},
		{"incomplete trailers", "0\r\nT: 1\r\n", "", -1, 0},
		{"bare LF lines", "5\nhello\r\n0\n\n", "", 0, 400},
		{"bare LF after last chunk", "5\r\nhello\r\n0\r\n\n", "", 0, 400},
		{"CR in size line", "5\r;x\r\nhello\r\n0\r\n\r\n", "", 0, 400},
		{"huge size", "ffffffffffffffff\r\n", "", 0, 400},
		{"size over 63 bits", "8000000000000000\r\n", "", 0, 400},
		{"over max", "10001\r\n", "", 0, 413},
		{"over max in sum", "ffff\r\n" + strings.Repeat("x", 0xffff) + "\r\n2\r\n", "", 0, 413},
		{"empty size", "\r\n", "", 0, 400},
		{"extension only", ";x\r\n", "", 0, 400},
		{"signed size", "+5\r\nhello\r\n0\r\n\r\n", "", 0, 400},
		{"0x prefix", "0x5\r\nhello\r\n0\r\n\r\n", "", 0, 400},
		{"space inside size", "1 0\r\n", "", 0, 400},
		{"control in extension", "5;a\x01\r\nhello\r\n0\r\n\r\n", "", 0, 400},
		{"no CRLF after data", "5\r\nhelloX\r\n0\r\n\r\n", "", 0, 400},
		{"size line too long", strings.Repeat("0", 4097) + "\r\n", "", 0, 400},
		{"size line too long, unterminated", strings.Repeat("0", 4097), "", 0, 400},
		{"trailer too long", "0\r\n" + strings.Repeat("t", 4097), "", 0, 400},
		{"trailer obs-fold", "0\r\nT: 1\r\n 2\r\n\r\n", "", 0, 400},
		{"trailer bad name", "0\r\nT U: 1\r\n\r\n", "", 0, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, used, err := DecodeChunked([]byte(tc.in), testMaxBody)
			if tc.status != 0 {
				var he *Error
				if !errors.As(err, &he) || he.Status != tc.status || body != nil || used != 0 {
					t.Fatalf("DecodeChunked = %q, %d, %v; want status %d", body, used, err, tc.status)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeChunked: %v", err)
			}
			if tc.rest < 0 {
				if body != nil || used != 0 {
					t.Fatalf("DecodeChunked = %q, %d; want incomplete", body, used)
				}
				return
			}
			want := len(tc.in) - tc.rest
			if body == nil || string(body) != tc.body || used != want {
				t.Fatalf("DecodeChunked = %q, %d; want %q, %d", body, used, tc.body, want)
			}
		})
	}
	// The exact limit is allowed.
	in := "ffff\r\n" + strings.Repeat("x", 0xffff) + "\r\n1\r\ny\r\n0\r\n\r\n"
	if body, used, err := DecodeChunked([]byte(in), testMaxBody); err != nil || len(body) != testMaxBody || used != len(in) {
		t.Fatalf("body of exactly maxBody: %d bytes, %d, %v", len(body), used, err)
	}
}

func TestValidHeaderName(t *testing.T) {
	for _, s := range []string{"Host", "X-Custom_1", "a", "!#$%&'*+-.^_`|~", "ALLCAPS09"} {
		if !ValidHeaderName(s) {
			t.Errorf("ValidHeaderName(%q) = false", s)
		}
	}
	for _, s := range []string{"", "a b", "a:b", "a\r", "a\n", "a\x00", "a\x7f", "é", "a(b)", "<a>", "a@b", "a,b", "a;b", `a\b`, `a"b`, "a/b", "[a]", "a?", "a=b", "{a}", "\t"} {
		if ValidHeaderName(s) {
			t.Errorf("ValidHeaderName(%q) = true", s)
		}
	}
}

func TestErrorText(t *testing.T) {
	e := &Error{Status: 431, Err: errors.New("request header over 10 bytes")}
	if got := e.Error(); got != "431 Request Header Fields Too Large: request header over 10 bytes" {
		t.Fatalf("Error() = %q", got)
	}
}

// The differential checks (FuzzDifferential) on the unit tests' inputs.
func TestDifferentialSeeds(t *testing.T) {
	for _, s := range requestSeeds {
		differ(t, []byte(s), testMaxHeader, testMaxBody)
	}
}

var benchRequests = []struct{ name, in string }{
	{"get", "GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n"},
	{"get8", "GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n" +
		"Accept: text/html,application/xhtml+xml\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate\r\n" +
		"Connection: keep-alive\r\nCookie: session=abc123\r\nUpgrade-Insecure-Requests: 1\r\n\r\n"},
	{"post", "POST /api HTTP/1.1\r\nHost: example.com\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n{\"hello\":\"world\",\"n\":12345}"},
	{"chunked", "POST /api HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n"},
}

// BenchmarkParse parses into a reused Request and owns it in an Arena, as
// the host does.
func BenchmarkParse(b *testing.B) {
	for _, bc := range benchRequests {
		b.Run(bc.name, func(b *testing.B) {
			buf := []byte(bc.in)
			var req Request
			var arena Arena
			b.ReportAllocs()
			b.SetBytes(int64(len(buf)))
			for b.Loop() {
				n, err := req.Parse(buf, testMaxHeader, testMaxBody)
				if err != nil || n != len(buf) {
					b.Fatalf("Parse = %d, %v", n, err)
				}
				req.Own(&arena)
			}
		})
	}
}

// BenchmarkParseNetHTTP is the parser before, on net/http.ReadRequest
// (ref_test.go), for comparison.
func BenchmarkParseNetHTTP(b *testing.B) {
	for _, bc := range benchRequests {
		b.Run(bc.name, func(b *testing.B) {
			buf := []byte(bc.in)
			b.ReportAllocs()
			b.SetBytes(int64(len(buf)))
			for b.Loop() {
				if res := refParse(buf, testMaxHeader, testMaxBody); res.err != nil || res.n != len(buf) {
					b.Fatalf("refParse = %d, %v", res.n, res.err)
				}
			}
		})
	}
}
