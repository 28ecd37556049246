package host

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

// httpIn is a connection's request-parsing state (transport goroutine only).
type httpIn struct {
	seq          uint64 // requests parsed so far
	sentContinue bool   // 100 Continue answered for the request being read
	closing      bool   // a request asked to close: parse nothing after it
}

// httpError is a request the parser refuses: answered with status, then
// the connection closes.
type httpError struct {
	status int
	err    error
}

func (e *httpError) Error() string {
	return fmt.Sprintf("%d %s: %v", e.status, http.StatusText(e.status), e.err)
}

// parsedRequest is one complete request, handed from the parser to the
// worker.
type parsedRequest struct {
	r         *http.Request
	body      []byte
	seq       uint64
	keepAlive bool
	upgrade   *wsHandshake
}

var bufioPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}

var (
	crlfcrlf = []byte("\r\n\r\n")
	lflf     = []byte("\n\n")
)

// parseRequest looks at the buffered bytes of a connection and returns the
// first complete request and how many bytes it took; (nil, 0, nil) when
// more bytes are needed; or an *httpError.
func parseRequest(buf []byte, maxHeader, maxBody int) (*parsedRequest, int, error) {
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
			return nil, 0, &httpError{431, fmt.Errorf("request header over %d bytes", maxHeader)}
		}
		return nil, 0, nil
	}
	if hlen > maxHeader {
		return nil, 0, &httpError{431, fmt.Errorf("request header over %d bytes", maxHeader)}
	}
	br := bufioPool.Get().(*bufio.Reader)
	br.Reset(bytes.NewReader(b[:hlen]))
	r, err := http.ReadRequest(br)
	br.Reset(nil)
	bufioPool.Put(br)
	if err != nil {
		return nil, 0, &httpError{400, err}
	}
	if r.ProtoMajor != 1 {
		return nil, 0, &httpError{505, fmt.Errorf("protocol %s not supported", r.Proto)}
	}
	for name := range r.Header {
		if !validHeaderName(name) {
			return nil, 0, &httpError{400, fmt.Errorf("invalid header name %q", name)}
		}
	}
	if len(r.TransferEncoding) > 0 && hasHeaderLine(b[:hlen], "content-length") {
		// RFC 9112 6.1: both is how requests are smuggled.
		return nil, 0, &httpError{400, errors.New("both Transfer-Encoding and Content-Length")}
	}
	n := skip + hlen
	var body []byte
	switch {
	case len(r.TransferEncoding) > 0:
		if len(r.TransferEncoding) != 1 || r.TransferEncoding[0] != "chunked" {
			return nil, 0, &httpError{501, fmt.Errorf("transfer encoding %v not supported", r.TransferEncoding)}
		}
		var used int
		body, used, err = decodeChunked(buf[n:], maxBody)
		if err != nil {
			return nil, 0, err
		}
		if body == nil {
			return &parsedRequest{r: r}, 0, nil // incomplete; r says whether to answer 100 Continue
		}
		n += used
	case r.ContentLength > 0:
		if r.ContentLength > int64(maxBody) {
			return nil, 0, &httpError{413, fmt.Errorf("body of %d bytes over package_max_length %d", r.ContentLength, maxBody)}
		}
		if int64(len(buf)-n) < r.ContentLength {
			return &parsedRequest{r: r}, 0, nil
		}
		body = buf[n : n+int(r.ContentLength)]
		n += int(r.ContentLength)
	}
	p := &parsedRequest{r: r, keepAlive: keepAlive(r)}
	if len(body) > 0 {
		p.body = append([]byte(nil), body...)
	}
	return p, n, nil
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

func keepAlive(r *http.Request) bool {
	if r.Close {
		return false
	}
	if r.ProtoAtLeast(1, 1) {
		return true
	}
	return headerHasToken(r.Header, "Connection", "keep-alive")
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

var errIncompleteChunk = errors.New("incomplete")

// decodeChunked decodes a chunked body at the start of b. It returns the
// body and the bytes used, (nil, 0, nil) when incomplete, or an *httpError.
func decodeChunked(b []byte, maxBody int) ([]byte, int, error) {
	body := []byte{}
	pos := 0
	for {
		line, next, err := chunkLine(b, pos)
		if err == errIncompleteChunk {
			return nil, 0, nil
		}
		if err != nil {
			return nil, 0, &httpError{400, err}
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i] // chunk extensions are ignored
		}
		line = bytes.TrimSpace(line)
		size, perr := strconv.ParseUint(string(line), 16, 63)
		if perr != nil || len(line) == 0 {
			return nil, 0, &httpError{400, fmt.Errorf("bad chunk size %q", line)}
		}
		if uint64(len(body))+size > uint64(maxBody) {
			return nil, 0, &httpError{413, fmt.Errorf("chunked body over package_max_length %d", maxBody)}
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
					return nil, 0, &httpError{400, err}
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
			return nil, 0, &httpError{400, errors.New("chunk not followed by CRLF")}
		}
	}
}

// chunkLine returns the line at pos (without its CRLF) and where the next
// line starts.
func chunkLine(b []byte, pos int) ([]byte, int, error) {
	i := bytes.IndexByte(b[pos:], '\n')
	if i < 0 {
		if len(b)-pos > 4096 {
			return nil, 0, errors.New("chunk line too long")
		}
		return nil, 0, errIncompleteChunk
	}
	line := b[pos : pos+i]
	if len(line) > 4096 {
		return nil, 0, errors.New("chunk line too long")
	}
	line = bytes.TrimSuffix(line, []byte("\r"))
	return line, pos + i + 1, nil
}

// httpData parses requests on an http or websocket server's connection.
func (s *Server) httpData(c *Conn, in Inbound) {
	if c.hp == nil {
		c.hp = &httpIn{}
	}
	st := s.settings()
	for c.ws == nil && !c.bad {
		if c.hp.closing {
			_, _ = in.Discard(in.InboundBuffered())
			return
		}
		buf, _ := in.Peek(-1)
		if len(buf) == 0 {
			return
		}
		p, n, err := parseRequest(buf, st.HTTPMaxHeaderSize, st.PackageMaxLength)
		if err != nil {
			var he *httpError
			if !errors.As(err, &he) {
				he = &httpError{400, err}
			}
			s.httpReject(c, he)
			return
		}
		if n == 0 {
			// Incomplete: answer Expect: 100-continue once headers are in.
			if p != nil && !c.hp.sentContinue && headerHasToken(p.r.Header, "Expect", "100-continue") && p.r.ProtoAtLeast(1, 1) {
				c.hp.sentContinue = true
				c.Send([]byte("HTTP/1.1 100 Continue\r\n\r\n"))
			}
			return
		}
		_, _ = in.Discard(n)
		c.hp.sentContinue = false
		c.hp.seq++
		p.seq = c.hp.seq
		s.requestNum.Add(1)
		s.bytesIn.Add(int64(n))
		if s.decl.Type == "websocket" && headerHasToken(p.r.Header, "Upgrade", "websocket") {
			hs, herr := s.wsAccept(p.r)
			if herr != nil {
				s.httpReject(c, herr)
				return
			}
			p.upgrade = hs
			c.ws = newWSState(hs)
			c.worker.q.post(event{kind: evWSOpen, srv: s, conn: c, req: p})
			continue // what follows are frames
		}
		if !p.keepAlive {
			c.hp.closing = true
		}
		c.worker.q.post(event{kind: evRequest, srv: s, conn: c, req: p})
	}
	if c.ws != nil && !c.bad {
		s.wsData(c, in)
	}
}

// httpReject answers a refused request through the worker (after the
// responses of the requests before it) and closes the connection.
func (s *Server) httpReject(c *Conn, he *httpError) {
	s.host.log.Warn("bad http request, closing connection", "server", s.Addr(), "fd", c.id,
		"remote", addrString(c.remote), "status", he.status, "err", he.err)
	c.bad = true
	c.worker.q.post(event{kind: evHTTPError, srv: s, conn: c, status: he.status})
}
