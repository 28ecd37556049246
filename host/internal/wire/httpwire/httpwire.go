// Package httpwire parses HTTP/1.x requests out of a connection's buffered
// bytes as an event loop sees them, saying when more bytes are needed. It
// reads request heads with net/http.ReadRequest and decodes Content-Length
// and chunked bodies itself, within header and body limits.
package httpwire

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// Error is a request the parser refuses: the caller answers it with Status
// and closes the connection.
type Error struct {
	Status int
	Err    error
}

func (e *Error) Error() string {
	return fmt.Sprintf("%d %s: %v", e.Status, http.StatusText(e.Status), e.Err)
}

// Unwrap returns the reason.
func (e *Error) Unwrap() error { return e.Err }

// Request is one parsed request. Body is the decoded body, a copy the
// caller owns (nil when empty); KeepAlive says whether the connection may
// carry another request after this one.
type Request struct {
	R         *http.Request
	Body      []byte
	KeepAlive bool
}

var bufioPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}

var (
	crlfcrlf = []byte("\r\n\r\n")
	lflf     = []byte("\n\n")
)

// Parse looks at the buffered bytes of a connection and returns the first
// complete request and how many bytes of buf it took (its head, its body
// and any empty lines before it). It returns (nil, 0, nil) when more bytes
// are needed before the head is complete, and (partial, 0, nil) when the
// head is complete but the body is not: partial.R is set (so the caller can
// answer Expect: 100-continue, see ExpectsContinue), partial.Body is nil.
// A request it refuses is an *Error (431 head over maxHeader, 400 malformed,
// 505 not HTTP/1, 501 a transfer coding other than chunked, 413 body over
// maxBody).
func Parse(buf []byte, maxHeader, maxBody int) (req *Request, n int, err error) {
	// RFC 9112 2.2: ignore empty lines before a request line.
	skip := 0
	for skip < len(buf) && (buf[skip] == '\r' || buf[skip] == '\n') {
		skip++
	}
	if skip > 0 && skip == len(buf) {
		return nil, 0, nil
	}
	b := buf[skip:]
	end := bytes.Index(b, crlfcrlf)
	hlen := end + 4
	if end < 0 {
		if e2 := bytes.Index(b, lflf); e2 >= 0 {
			end, hlen = e2, e2+2
		}
	}
	if end < 0 {
		if len(b) > maxHeader {
			return nil, 0, &Error{431, fmt.Errorf("request header over %d bytes", maxHeader)}
		}
		return nil, 0, nil
	}
	if hlen > maxHeader {
		return nil, 0, &Error{431, fmt.Errorf("request header over %d bytes", maxHeader)}
	}
	br := bufioPool.Get().(*bufio.Reader)
	br.Reset(bytes.NewReader(b[:hlen]))
	r, rerr := http.ReadRequest(br)
	br.Reset(nil)
	bufioPool.Put(br)
	if rerr != nil {
		return nil, 0, &Error{400, rerr}
	}
	if r.ProtoMajor != 1 {
		return nil, 0, &Error{505, fmt.Errorf("protocol %s not supported", r.Proto)}
	}
	for name := range r.Header {
		if !ValidHeaderName(name) {
			return nil, 0, &Error{400, fmt.Errorf("invalid header name %q", name)}
		}
	}
	if len(r.TransferEncoding) > 0 && hasHeaderLine(b[:hlen], "content-length") {
		// RFC 9112 6.1: both is how requests are smuggled.
		return nil, 0, &Error{400, errors.New("both Transfer-Encoding and Content-Length")}
	}
	n = skip + hlen
	var body []byte
	switch {
	case len(r.TransferEncoding) > 0:
		if len(r.TransferEncoding) != 1 || r.TransferEncoding[0] != "chunked" {
			return nil, 0, &Error{501, fmt.Errorf("transfer encoding %v not supported", r.TransferEncoding)}
		}
		var used int
		var cerr *Error
		body, used, cerr = decodeChunked(buf[n:], maxBody)
		if cerr != nil {
			return nil, 0, cerr
		}
		if body == nil {
			return &Request{R: r}, 0, nil // incomplete; R says whether to answer 100 Continue
		}
		n += used
	case r.ContentLength > 0:
		if r.ContentLength > int64(maxBody) {
			return nil, 0, &Error{413, fmt.Errorf("body of %d bytes over package_max_length %d", r.ContentLength, maxBody)}
		}
		if int64(len(buf)-n) < r.ContentLength {
			return &Request{R: r}, 0, nil
		}
		body = buf[n : n+int(r.ContentLength)]
		n += int(r.ContentLength)
	}
	p := &Request{R: r, KeepAlive: keepAlive(r)}
	if len(body) > 0 {
		p.Body = append([]byte(nil), body...)
	}
	return p, n, nil
}

// ExpectsContinue reports whether r (an HTTP/1.1 or later request) asks for
// a 100 Continue before it sends its body.
func ExpectsContinue(r *http.Request) bool {
	return HeaderHasToken(r.Header, "Expect", "100-continue") && r.ProtoAtLeast(1, 1)
}

// hasHeaderLine reports whether a raw header block has a field called name
// (lower case); net/http drops Content-Length when Transfer-Encoding is set.
func hasHeaderLine(block []byte, name string) bool {
	for _, line := range bytes.Split(block, []byte("\n")) {
		if k, _, ok := bytes.Cut(line, []byte(":")); ok && strings.EqualFold(strings.TrimSpace(string(k)), name) {
			return true
		}
	}
	return false
}

// keepAlive reports whether the connection stays open after r: not when r
// asks to close; HTTP/1.1 by default; HTTP/1.0 with Connection: keep-alive.
func keepAlive(r *http.Request) bool {
	if r.Close {
		return false
	}
	if r.ProtoAtLeast(1, 1) {
		return true
	}
	return HeaderHasToken(r.Header, "Connection", "keep-alive")
}

// HeaderHasToken reports whether any of h's name fields lists token
// (comma-separated, case-insensitive, as Connection, Upgrade and Expect do).
func HeaderHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// ValidHeaderName reports whether s is an HTTP field name (an RFC 9110
// token: no controls, spaces, non-ASCII bytes or separators).
func ValidHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch <= ' ' || ch >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", ch) >= 0 {
			return false
		}
	}
	return true
}

var errIncompleteChunk = errors.New("incomplete")

// DecodeChunked decodes a chunked body (RFC 9112 7.1) at the start of b,
// trailers and the final empty line included. It returns the body and the
// bytes of b it took; (nil, 0, nil) when b holds only part of it; or an
// *Error (400 malformed, 413 body over maxBody). A complete empty body is
// a non-nil empty slice. Chunk extensions and trailer fields are ignored.
func DecodeChunked(b []byte, maxBody int) (body []byte, used int, err error) {
	body, used, e := decodeChunked(b, maxBody)
	if e != nil {
		return nil, 0, e
	}
	return body, used, nil
}

func decodeChunked(b []byte, maxBody int) ([]byte, int, *Error) {
	body := []byte{}
	pos := 0
	for {
		line, next, err := chunkLine(b, pos)
		if err == errIncompleteChunk {
			return nil, 0, nil
		}
		if err != nil {
			return nil, 0, &Error{400, err}
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i] // chunk extensions are ignored
		}
		line = bytes.TrimSpace(line)
		size, perr := strconv.ParseUint(string(line), 16, 63)
		if perr != nil || len(line) == 0 {
			return nil, 0, &Error{400, fmt.Errorf("bad chunk size %q", line)}
		}
		if uint64(len(body))+size > uint64(maxBody) {
			return nil, 0, &Error{413, fmt.Errorf("chunked body over package_max_length %d", maxBody)}
		}
		pos = next
		if size == 0 {
			// Trailers, then an empty line.
			for {
				tl, tnext, err := chunkLine(b, pos)
				if err == errIncompleteChunk {
					return nil, 0, nil
				}
				if err != nil {
					return nil, 0, &Error{400, err}
				}
				pos = tnext
				if len(tl) == 0 {
					return body, pos, nil
				}
			}
		}
		if uint64(len(b)-pos) < size+2 {
			return nil, 0, nil
		}
		body = append(body, b[pos:pos+int(size)]...)
		pos += int(size)
		if b[pos] == '\r' && b[pos+1] == '\n' {
			pos += 2
		} else {
			return nil, 0, &Error{400, errors.New("chunk not followed by CRLF")}
		}
	}
}

// maxChunkLine is the longest chunk-size or trailer line.
const maxChunkLine = 4096

// chunkLine returns the line at pos (without its CRLF or LF) and where the
// next line starts; errIncompleteChunk when the line has not all arrived.
func chunkLine(b []byte, pos int) ([]byte, int, error) {
	i := bytes.IndexByte(b[pos:], '\n')
	if i < 0 {
		if len(b)-pos > maxChunkLine {
			return nil, 0, errors.New("chunk line too long")
		}
		return nil, 0, errIncompleteChunk
	}
	line := b[pos : pos+i]
	if len(line) > maxChunkLine {
		return nil, 0, errors.New("chunk line too long")
	}
	line = bytes.TrimSuffix(line, []byte("\r"))
	return line, pos + i + 1, nil
}
