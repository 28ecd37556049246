package httpwire

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// The reference FuzzDifferential compares Request.Parse with: the parser
// this package had before, built on net/http.ReadRequest (with its own
// Content-Length and chunked body decoding), plus the checks net/http's
// server makes of a request after ReadRequest (a Host field required on
// HTTP/1.1, a valid Host), and net/http server's 501 for a transfer coding
// it does not support.

type refResult struct {
	r         *http.Request // nil: need more bytes
	body      []byte
	keepAlive bool
	n         int // 0 with r set: head complete, body not
	err       *Error
}

func refParse(buf []byte, maxHeader, maxBody int) refResult {
	skip := 0
	for skip < len(buf) && (buf[skip] == '\r' || buf[skip] == '\n') {
		skip++
	}
	if skip > 0 && skip == len(buf) {
		return refResult{}
	}
	b := buf[skip:]
	end := bytes.Index(b, []byte("\r\n\r\n"))
	hlen := end + 4
	if end < 0 {
		if e2 := bytes.Index(b, []byte("\n\n")); e2 >= 0 {
			end, hlen = e2, e2+2
		}
	}
	if end < 0 {
		if len(b) > maxHeader {
			return refResult{err: &Error{431, errors.New("request header over max")}}
		}
		return refResult{}
	}
	if hlen > maxHeader {
		return refResult{err: &Error{431, errors.New("request header over max")}}
	}
	r, rerr := http.ReadRequest(bufio.NewReader(bytes.NewReader(b[:hlen])))
	if rerr != nil {
		if strings.Contains(rerr.Error(), "unsupported transfer encoding") {
			return refResult{err: &Error{501, rerr}}
		}
		return refResult{err: &Error{400, rerr}}
	}
	if r.ProtoMajor != 1 {
		return refResult{err: &Error{505, fmt.Errorf("protocol %s not supported", r.Proto)}}
	}
	// net/http's server (conn.readRequest).
	// (ReadRequest takes Host out of the header.)
	hosts := refFieldValues(b[:hlen], "host")
	if r.ProtoAtLeast(1, 1) && len(hosts) == 0 && r.Method != "CONNECT" {
		return refResult{err: &Error{400, errors.New("missing required Host header")}}
	}
	if len(hosts) == 1 && strings.Trim(hosts[0], refHostBytes) != "" {
		return refResult{err: &Error{400, errors.New("malformed Host header")}}
	}
	for name := range r.Header {
		if !refValidHeaderName(name) {
			return refResult{err: &Error{400, fmt.Errorf("invalid header name %q", name)}}
		}
	}
	if len(r.TransferEncoding) > 0 && refHasHeaderLine(b[:hlen], "content-length") {
		return refResult{err: &Error{400, errors.New("both Transfer-Encoding and Content-Length")}}
	}
	n := skip + hlen
	var body []byte
	switch {
	case len(r.TransferEncoding) > 0:
		if len(r.TransferEncoding) != 1 || r.TransferEncoding[0] != "chunked" {
			return refResult{err: &Error{501, fmt.Errorf("transfer encoding %v not supported", r.TransferEncoding)}}
		}
		var used int
		var cerr *Error
		body, used, cerr = refDecodeChunked(buf[n:], maxBody)
		if cerr != nil {
			return refResult{err: cerr}
		}
		if body == nil {
			return refResult{r: r}
		}
		n += used
	case r.ContentLength > 0:
		if r.ContentLength > int64(maxBody) {
			return refResult{err: &Error{413, errors.New("body over max")}}
		}
		if int64(len(buf)-n) < r.ContentLength {
			return refResult{r: r}
		}
		body = buf[n : n+int(r.ContentLength)]
		n += int(r.ContentLength)
	}
	if len(body) == 0 {
		body = nil
	}
	ka := !r.Close && (r.ProtoAtLeast(1, 1) || refHasToken(r.Header, "Connection", "keep-alive"))
	return refResult{r: r, body: body, keepAlive: ka, n: n}
}

// httpguts.ValidHostHeader's bytes.
const refHostBytes = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!$%&()*+,-.:;=[]'_~"

func refValidHeaderName(s string) bool {
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

// refFieldValues are the values of the header lines called name.
func refFieldValues(block []byte, name string) (vs []string) {
	for _, line := range bytes.Split(block, []byte("\n"))[1:] {
		if k, v, ok := bytes.Cut(line, []byte(":")); ok && len(k) == len(name) && strings.EqualFold(string(k), name) {
			vs = append(vs, strings.Trim(string(v), " \t\r"))
		}
	}
	return vs
}

func refHasHeaderLine(block []byte, name string) bool {
	for _, line := range bytes.Split(block, []byte("\n")) {
		if k, _, ok := bytes.Cut(line, []byte(":")); ok && strings.EqualFold(strings.TrimSpace(string(k)), name) {
			return true
		}
	}
	return false
}

// refHasToken is httpguts.HeaderValuesContainsToken.
func refHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			t = strings.Trim(t, " \t")
			if len(t) == len(token) && strings.EqualFold(t, token) && isASCII(t) {
				return true
			}
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func refDecodeChunked(b []byte, maxBody int) ([]byte, int, *Error) {
	body := []byte{}
	pos := 0
	for {
		line, next, err := refChunkLine(b, pos)
		if err == errIncompleteChunk {
			return nil, 0, nil
		}
		if err != nil {
			return nil, 0, &Error{400, err}
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		line = bytes.TrimSpace(line)
		size, perr := strconv.ParseUint(string(line), 16, 63)
		if perr != nil || len(line) == 0 {
			return nil, 0, &Error{400, fmt.Errorf("bad chunk size %q", line)}
		}
		if uint64(len(body))+size > uint64(maxBody) {
			return nil, 0, &Error{413, errors.New("chunked body over max")}
		}
		pos = next
		if size == 0 {
			for {
				tl, tnext, err := refChunkLine(b, pos)
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

func refChunkLine(b []byte, pos int) ([]byte, int, error) {
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
	return bytes.TrimSuffix(line, []byte("\r")), pos + i + 1, nil
}
