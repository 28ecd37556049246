// Package httpwire parses HTTP/1.x requests out of a connection's buffered
// bytes as an event loop sees them, saying when more bytes are needed. The
// request line and header fields are parsed in place: a Request holds
// offsets into the head's bytes, a fixed array of fields (a slice beyond
// it) and no map, so a typical request costs no allocation. Content-Length
// and chunked bodies are decoded within header and body limits.
//
// It accepts what net/http.ReadRequest (and net/http's server) accepts and
// refuses what they refuse, except for these deliberate differences, all
// refused with 400 where net/http accepts them (each has its error
// sentinel; the differential fuzzer FuzzDifferential holds the list too):
//
//   - a bare LF or bare CR line end in the head or in a chunk line
//     (net/http takes LF alone as a line end, and drops a CR before it);
//   - obs-fold, a header line starting with SP or HTAB (net/http joins it
//     to the line before);
//   - Content-Length given twice, even with the same value (net/http
//     keeps one);
//   - Transfer-Encoding in an HTTP/1.0 request (net/http ignores it and
//     frames the body by Content-Length; RFC 9112 6.1 says the framing is
//     faulty);
//   - a chunk line that is not hex digits, optional SP/HTAB and an
//     extension without control bytes (the decoder before trimmed any
//     white space), and a trailer line that is not a valid header field
//     (trailers were skipped unread).
//
// A Transfer-Encoding other than chunked is answered 501, as net/http's
// server does.
package httpwire

import (
	"bytes"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"unsafe"
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

// The reasons for the deliberate differences from net/http (see the
// package comment). An *Error wraps one of them.
var (
	ErrBareLineEnd    = errors.New("line not ended by CRLF")
	ErrObsFold        = errors.New("obsolete line folding")
	ErrDupLength      = errors.New("Content-Length given more than once")
	ErrTransferHTTP10 = errors.New("Transfer-Encoding in an HTTP/1.0 request")
	ErrChunkLine      = errors.New("malformed chunk line")
	ErrTrailer        = errors.New("malformed trailer field")
)

func bad(err error) *Error { return &Error{Status: http.StatusBadRequest, Err: err} }

// span is a field of the head: head[off:end].
type span struct{ off, end uint32 }

type field struct{ name, value span }

// fixedFields is how many header fields a Request holds without
// allocating.
const fixedFields = 16

// Request is one parsed request. Its method, target, protocol and header
// fields are offsets into the head's bytes: until Own they are a view of
// the buffer given to Parse, and the strings its methods return are views
// too (they must not be kept past a change of that buffer). After Own the
// head is the Request's own and never changes: its strings may be kept.
//
// Body is the decoded body (nil when empty). KeepAlive says whether the
// connection may carry another request after this one.
type Request struct {
	head                  []byte
	method, target, proto span
	major, minor          byte // HTTP/major.minor (major is 1 on any request Parse returns)
	hosts                 int  // Host fields
	fields                [fixedFields]field
	nfields               int
	more                  []field  // the fields beyond fixedFields
	u                     *url.URL // a target not in origin form (absolute, authority, "*"), parsed
	headDone              bool
	bodyView              bool // Body is a view of the buffer (a Content-Length body)

	Body      []byte
	KeepAlive bool
}

var crlf = []byte("\r\n")

// Parse parses the first request in buf into a Request it allocates and
// owns it (see Request.Parse, Request.Own without an Arena): for callers
// that keep each request on its own. A partial request (head complete,
// body not) is returned with 0 bytes.
func Parse(buf []byte, maxHeader, maxBody int) (*Request, int, error) {
	r := new(Request)
	n, err := r.Parse(buf, maxHeader, maxBody)
	if err != nil {
		return nil, 0, err
	}
	if n == 0 && !r.headDone {
		return nil, 0, nil
	}
	r.Own(nil)
	return r, n, nil
}

// Parse looks at the buffered bytes of a connection and parses the first
// complete request into r, returning how many bytes of buf it took (its
// head, its body and any empty lines before it). It returns 0 and no error
// when more bytes are needed; then HeadComplete says whether the head is
// in (so that the caller can answer Expect: 100-continue, see
// ExpectsContinue) and the body is not. A request it refuses is an *Error
// (431 head over maxHeader, 400 malformed, 505 not HTTP/1, 501 a transfer
// coding other than chunked, 413 body over maxBody).
func (r *Request) Parse(buf []byte, maxHeader, maxBody int) (int, error) {
	more := r.more[:0]
	*r = Request{more: more}
	// RFC 9112 2.2: ignore empty lines before a request line.
	skip := 0
	for skip < len(buf) && (buf[skip] == '\r' || buf[skip] == '\n') {
		skip++
	}
	b := buf[skip:]
	hlen, err := headEnd(b, maxHeader)
	if err != nil || hlen == 0 {
		return 0, err
	}
	r.head = b[:hlen]
	if err := r.parseHead(); err != nil {
		r.head = nil
		return 0, err
	}
	chunked, length, err := r.framing()
	if err == nil {
		err = r.checkVersion()
	}
	if err != nil {
		r.head = nil
		return 0, err
	}
	r.headDone = true
	n := skip + hlen
	var body []byte
	switch {
	case chunked:
		var used int
		var cerr *Error
		body, used, cerr = decodeChunked(buf[n:], maxBody)
		if cerr != nil {
			r.head = nil
			return 0, cerr
		}
		if body == nil {
			return 0, nil // incomplete
		}
		if len(body) == 0 {
			body = nil
		}
		n += used
	case length > 0:
		if length > int64(maxBody) {
			r.head = nil
			return 0, &Error{413, fmt.Errorf("body of %d bytes over package_max_length %d", length, maxBody)}
		}
		if int64(len(buf)-n) < length {
			return 0, nil
		}
		body = buf[n : n+int(length) : n+int(length)]
		r.bodyView = true
		n += int(length)
	}
	r.Body = body
	r.KeepAlive = r.keepAlive()
	return n, nil
}

// HeadComplete reports whether Parse, wanting more bytes, has the whole
// head and waits for the body.
func (r *Request) HeadComplete() bool { return r.headDone }

// headEnd finds the empty line that ends the head at the start of b and
// returns the head's length (0: not all there yet). Every line must end in
// CRLF.
func headEnd(b []byte, maxHeader int) (int, error) {
	pos := 0
	for {
		i := bytes.IndexByte(b[pos:], '\n')
		if i < 0 {
			if len(b) > maxHeader {
				return 0, &Error{431, fmt.Errorf("request header over %d bytes", maxHeader)}
			}
			return 0, nil
		}
		e := pos + i
		if e+1 > maxHeader {
			return 0, &Error{431, fmt.Errorf("request header over %d bytes", maxHeader)}
		}
		if e == pos || b[e-1] != '\r' {
			return 0, bad(ErrBareLineEnd)
		}
		if bytes.IndexByte(b[pos:e-1], '\r') >= 0 {
			return 0, bad(fmt.Errorf("%w: CR inside a line", ErrBareLineEnd))
		}
		if e-1 == pos {
			return e + 1, nil
		}
		pos = e + 1
	}
}

// parseHead parses the request line and the header fields of r.head.
func (r *Request) parseHead() error {
	h := r.head
	e := bytes.Index(h, crlf)
	line := h[:e]
	sp1 := bytes.IndexByte(line, ' ')
	sp2 := -1
	if sp1 >= 0 {
		if i := bytes.IndexByte(line[sp1+1:], ' '); i >= 0 {
			sp2 = sp1 + 1 + i
		}
	}
	if sp2 < 0 {
		return bad(fmt.Errorf("malformed HTTP request %q", line))
	}
	r.method = span{0, uint32(sp1)}
	r.target = span{uint32(sp1 + 1), uint32(sp2)}
	r.proto = span{uint32(sp2 + 1), uint32(e)}
	if !isToken(line[:sp1]) {
		return bad(fmt.Errorf("invalid method %q", line[:sp1]))
	}
	major, minor, ok := parseVersion(line[sp2+1:])
	if !ok {
		return bad(fmt.Errorf("malformed HTTP version %q", line[sp2+1:]))
	}
	r.minor = minor
	if err := r.parseTarget(line[sp1+1 : sp2]); err != nil {
		return bad(err)
	}
	hosts := 0
	for pos := e + 2; pos < len(h)-2; {
		e := pos + bytes.Index(h[pos:], crlf)
		line := h[pos:e]
		if line[0] == ' ' || line[0] == '\t' {
			return bad(fmt.Errorf("%w: %q", ErrObsFold, line))
		}
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			return bad(fmt.Errorf("malformed header line %q", line))
		}
		if !isToken(line[:colon]) {
			return bad(fmt.Errorf("invalid header name %q", line[:colon]))
		}
		vs, ve := colon+1, len(line)
		for vs < ve && (line[vs] == ' ' || line[vs] == '\t') {
			vs++
		}
		for ve > vs && (line[ve-1] == ' ' || line[ve-1] == '\t') {
			ve--
		}
		for _, c := range line[vs:ve] {
			if !validValueByte(c) {
				return bad(fmt.Errorf("invalid header value %q", line))
			}
		}
		f := field{span{uint32(pos), uint32(pos + colon)}, span{uint32(pos + vs), uint32(pos + ve)}}
		if r.nfields < fixedFields {
			r.fields[r.nfields] = f
		} else {
			if r.more == nil {
				r.more = make([]field, 0, fixedFields) // one allocation for up to twice as many
			}
			r.more = append(r.more, f)
		}
		r.nfields++
		if equalFold(line[:colon], "host") {
			hosts++
			if !validHost(line[vs:ve]) {
				return bad(fmt.Errorf("malformed Host header %q", line[vs:ve]))
			}
		}
		pos = e + 2
	}
	if hosts > 1 {
		return bad(errors.New("too many Host headers"))
	}
	r.major, r.hosts = major, hosts
	return nil
}

// checkVersion answers a protocol other than HTTP/1 (505) and an HTTP/1.1
// request without a Host (400) after the checks net/http.ReadRequest does.
func (r *Request) checkVersion() error {
	if r.major != 1 {
		return &Error{505, fmt.Errorf("protocol %s not supported", r.bytes(r.proto))}
	}
	if r.hosts == 0 && r.minor >= 1 && !r.methodIs("CONNECT") {
		return bad(errors.New("missing required Host header"))
	}
	return nil
}

// parseVersion parses "HTTP/x.y" as net/http.ParseHTTPVersion does.
func parseVersion(v []byte) (major, minor byte, ok bool) {
	if len(v) != 8 || string(v[:5]) != "HTTP/" || v[6] != '.' || !isDigit(v[5]) || !isDigit(v[7]) {
		return 0, 0, false
	}
	return v[5] - '0', v[7] - '0', true
}

// parseTarget checks the request target as url.ParseRequestURI does: in
// place for the origin form (a path and a query), with net/url for the
// others.
func (r *Request) parseTarget(t []byte) error {
	if len(t) > 0 && t[0] == '/' {
		for _, c := range t {
			if c < ' ' || c == 0x7f {
				return errors.New("net/url: invalid control character in URL")
			}
		}
		p := t
		if i := bytes.IndexByte(t, '?'); i >= 0 {
			p = t[:i]
		}
		for i := 0; i < len(p); i++ {
			if p[i] == '%' {
				if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
					return fmt.Errorf("invalid URL escape in %q", t)
				}
				i += 2
			}
		}
		return nil
	}
	raw := string(t)
	connect := r.methodIs("CONNECT")
	if connect {
		raw = "http://" + raw
	}
	u, err := url.ParseRequestURI(raw)
	if err != nil {
		return err
	}
	if connect {
		u.Scheme = ""
	}
	r.u = u
	return nil
}

// framing finds how the body is framed: chunked, or length bytes.
func (r *Request) framing() (chunked bool, length int64, err error) {
	var te, cl []byte
	tes, cls := 0, 0
	trailer := false
	for i := range r.nfields {
		f := r.field(i)
		name := r.bytes(f.name)
		switch {
		case equalFold(name, "transfer-encoding"):
			te = r.bytes(f.value)
			tes++
		case equalFold(name, "content-length"):
			v := r.bytes(f.value)
			if cls > 0 && !bytes.Equal(v, cl) {
				return false, 0, bad(fmt.Errorf("multiple differing Content-Length headers %q and %q", cl, v))
			}
			cl = v
			cls++
		case equalFold(name, "trailer"):
			trailer = true
		}
	}
	if tes > 0 && r.major == 1 && r.minor == 0 {
		return false, 0, bad(ErrTransferHTTP10)
	}
	if tes > 0 && (r.major > 1 || r.minor > 0) {
		if tes > 1 {
			return false, 0, bad(errors.New("too many Transfer-Encoding headers"))
		}
		if !equalFold(te, "chunked") {
			return false, 0, &Error{501, fmt.Errorf("transfer encoding %q not supported", te)}
		}
		chunked = true
	}
	if cls > 0 {
		if len(cl) == 0 {
			return false, 0, bad(errors.New("invalid empty Content-Length"))
		}
		n, ok := parseLength(cl)
		if !ok {
			return false, 0, bad(fmt.Errorf("bad Content-Length %q", cl))
		}
		if cls > 1 {
			return false, 0, bad(ErrDupLength)
		}
		length = int64(n)
	}
	if chunked && trailer {
		if err := r.checkTrailerHeader(); err != nil {
			return false, 0, err
		}
	}
	if chunked && cls > 0 {
		// RFC 9112 6.1: both is how requests are smuggled.
		return false, 0, bad(errors.New("both Transfer-Encoding and Content-Length"))
	}
	return chunked, length, nil
}

// parseLength parses a Content-Length as strconv.ParseUint(s, 10, 63)
// does, without a string.
func parseLength(b []byte) (int64, bool) {
	var n int64
	for _, c := range b {
		if !isDigit(c) || n > (1<<63-1-9)/10 && n > (1<<63-1-int64(c-'0'))/10 {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, len(b) > 0
}

// checkTrailerHeader refuses a Trailer field naming a framing field, as
// net/http does.
func (r *Request) checkTrailerHeader() error {
	for v := range r.values("trailer") {
		for len(v) > 0 {
			var k []byte
			k, v, _ = bytes.Cut(v, []byte(","))
			k = trimOWS(k)
			for _, bad := range []string{"transfer-encoding", "trailer", "content-length"} {
				if equalFold(k, bad) {
					return &Error{400, fmt.Errorf("bad trailer key %q", k)}
				}
			}
		}
	}
	return nil
}

// keepAlive: not when the request asks to close; HTTP/1.1 by default;
// HTTP/1.0 with Connection: keep-alive.
func (r *Request) keepAlive() bool {
	if r.HasToken("Connection", "close") {
		return false
	}
	return r.minor >= 1 || r.HasToken("Connection", "keep-alive")
}

// Own makes the request independent of the buffer it was parsed from: its
// head (and a Content-Length body) are copied once into memory from a (a
// plain allocation when a is nil). After Own the strings the request's
// methods return never change.
func (r *Request) Own(a *Arena) {
	n := len(r.head)
	if r.bodyView {
		n += len(r.Body)
	}
	if n == 0 {
		return
	}
	var dst []byte
	if a != nil {
		dst = a.Alloc(n)
	} else {
		dst = make([]byte, n)
	}
	copy(dst, r.head)
	r.head = dst[:len(r.head):len(r.head)]
	if r.bodyView {
		body := dst[len(r.head):]
		copy(body, r.Body)
		r.Body = body
		r.bodyView = false
	}
}

// Arena hands out byte slices carved from larger blocks, for requests that
// outlive the read buffer they were parsed from. A block is never reused:
// a slice stays valid as long as anything refers to it (and keeps its
// block alive). The first slice is allocated on its own (a connection that
// carries one request, a WebSocket handshake, holds no block); blocks start
// with the second. It is for one goroutine. Blocks are small (2 KiB): an
// idle keep-alive connection holds what is left of its last one, and a
// block serves four browser heads or twenty of a load generator's (a head
// over a quarter block is allocated on its own).
type Arena struct {
	block []byte
	used  bool
}

const arenaBlock = 2048

// Alloc returns n bytes of a's memory.
func (a *Arena) Alloc(n int) []byte {
	if !a.used || n > arenaBlock/4 {
		a.used = true
		return make([]byte, n)
	}
	if n > len(a.block) {
		a.block = make([]byte, arenaBlock)
	}
	b := a.block[:n:n]
	a.block = a.block[n:]
	return b
}

// str is the head's bytes at s as a string without a copy (see Request).
func (r *Request) str(s span) string {
	if s.end == s.off {
		return ""
	}
	return unsafe.String(&r.head[s.off], int(s.end-s.off))
}

func (r *Request) bytes(s span) []byte { return r.head[s.off:s.end] }

func (r *Request) field(i int) field {
	if i < fixedFields {
		return r.fields[i]
	}
	return r.more[i-fixedFields]
}

func (r *Request) methodIs(m string) bool { return string(r.bytes(r.method)) == m }

var methods = []string{"GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"}

// Method is the request's method ("GET", ...).
func (r *Request) Method() string {
	m := r.bytes(r.method)
	for _, s := range methods {
		if string(m) == s {
			return s
		}
	}
	return r.str(r.method)
}

// Target is the request target as sent (net/http's RequestURI).
func (r *Request) Target() string { return r.str(r.target) }

// Proto is the protocol as sent ("HTTP/1.1").
func (r *Request) Proto() string {
	switch r.minor {
	case 1:
		return "HTTP/1.1"
	case 0:
		return "HTTP/1.0"
	}
	return r.str(r.proto)
}

// ProtoMinor is y of HTTP/1.y.
func (r *Request) ProtoMinor() int { return int(r.minor) }

// ProtoAtLeast reports whether the request's protocol is at least
// HTTP/major.minor.
func (r *Request) ProtoAtLeast(major, minor int) bool {
	return 1 > major || 1 == major && int(r.minor) >= minor
}

// Host is the host the request is for: the target's in absolute form, else
// the Host field's (net/http's Request.Host).
func (r *Request) Host() string {
	if r.u != nil && r.u.Host != "" {
		return r.u.Host
	}
	return r.Header("Host")
}

// NumFields is how many header fields the request has.
func (r *Request) NumFields() int { return r.nfields }

// Field is header field i (0 <= i < NumFields) as sent: its name, and its
// value without the white space around it.
func (r *Request) Field(i int) (name, value string) {
	f := r.field(i)
	return r.str(f.name), r.str(f.value)
}

// Header is the value of the first field called name (ASCII case does not
// matter), "" when there is none.
func (r *Request) Header(name string) string {
	for i := range r.nfields {
		f := r.field(i)
		if equalFold(r.bytes(f.name), name) {
			return r.str(f.value)
		}
	}
	return ""
}

// Values are the values of the fields called name, in order.
func (r *Request) Values(name string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for i := range r.nfields {
			f := r.field(i)
			if equalFold(r.bytes(f.name), name) && !yield(r.str(f.value)) {
				return
			}
		}
	}
}

func (r *Request) values(name string) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		for i := range r.nfields {
			f := r.field(i)
			if equalFold(r.bytes(f.name), name) && !yield(r.bytes(f.value)) {
				return
			}
		}
	}
}

// HasToken reports whether any of the fields called name lists token
// (comma-separated, ASCII case-insensitive, as Connection, Upgrade and
// Expect do).
func (r *Request) HasToken(name, token string) bool {
	for i := range r.nfields {
		f := r.field(i)
		if !equalFold(r.bytes(f.name), name) {
			continue
		}
		v := r.bytes(f.value)
		for len(v) > 0 {
			var t []byte
			t, v, _ = bytes.Cut(v, []byte(","))
			if equalFold(trimOWS(t), token) {
				return true
			}
		}
	}
	return false
}

// RawPath is the target's path as sent (before any '?').
func (r *Request) rawPath() []byte {
	t := r.bytes(r.target)
	if i := bytes.IndexByte(t, '?'); i >= 0 {
		t = t[:i]
	}
	return t
}

// Path is the target's path, decoded (net/http's URL.Path).
func (r *Request) Path() string {
	if r.u != nil {
		return r.u.Path
	}
	p := r.rawPath()
	if bytes.IndexByte(p, '%') < 0 {
		return r.str(r.target)[:len(p)]
	}
	s, err := url.PathUnescape(string(p))
	if err != nil {
		return "" // checked by Parse
	}
	return s
}

// EscapedPath is the target's path in escaped form (net/http's
// URL.EscapedPath()): as sent when that is a valid encoding.
func (r *Request) EscapedPath() string {
	if r.u != nil {
		return r.u.EscapedPath()
	}
	p := r.rawPath()
	for _, c := range p {
		if !pathByte[c] {
			return (&url.URL{Path: r.Path()}).EscapedPath()
		}
	}
	return r.str(r.target)[:len(p)]
}

// RawQuery is the target's query, without its '?' (net/http's
// URL.RawQuery).
func (r *Request) RawQuery() string {
	if r.u != nil {
		return r.u.RawQuery
	}
	t := r.str(r.target)
	for i := 0; i < len(t); i++ {
		if t[i] == '?' {
			return t[i+1:]
		}
	}
	return ""
}

// ExpectsContinue reports whether r (an HTTP/1.1 or later request) asks for
// a 100 Continue before it sends its body.
func ExpectsContinue(r *Request) bool {
	return r.minor >= 1 && r.HasToken("Expect", "100-continue")
}

// ValidHeaderName reports whether s is an HTTP field name (an RFC 9110
// token: no controls, spaces, non-ASCII bytes or separators).
func ValidHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenByte[s[i]] {
			return false
		}
	}
	return true
}

func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !tokenByte[c] {
			return false
		}
	}
	return true
}

// tokenByte: RFC 9110 tchar.
var tokenByte = func() (t [256]bool) {
	for c := '!'; c <= '~'; c++ {
		t[c] = true
	}
	for _, c := range "()<>@,;:\\\"/[]?={}" {
		t[c] = false
	}
	return t
}()

// pathByte: bytes a path keeps as they are in escaped form (net/url's
// validEncoded for paths).
var pathByte = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "-_.~$&+,/:;=@!'()*[]%" {
		t[c] = true
	}
	return t
}()

// validHostByte: net/http's (httpguts.ValidHostHeader).
var validHostByte = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "!$%&()*+,-.:;=['~]_" {
		t[c] = true
	}
	return t
}()

func validHost(b []byte) bool {
	for _, c := range b {
		if !validHostByte[c] {
			return false
		}
	}
	return true
}

// validValueByte: HTAB, SP, VCHAR and obs-text (net/textproto's).
func validValueByte(c byte) bool { return c == '\t' || c >= ' ' && c != 0x7f }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isHex(c byte) bool { return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// equalFold compares b and s ignoring ASCII case (only).
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := b[i], s[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
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
// a non-nil empty slice. Chunk extensions and trailer fields are checked
// and ignored.
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
			return nil, 0, bad(err)
		}
		size, ok := chunkSize(line)
		if !ok {
			if len(line) == 0 || line[0] == ';' {
				return nil, 0, bad(fmt.Errorf("bad chunk size %q", line))
			}
			return nil, 0, bad(fmt.Errorf("%w: bad chunk size %q", ErrChunkLine, line))
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
					return nil, 0, bad(err)
				}
				pos = tnext
				if len(tl) == 0 {
					return body, pos, nil
				}
				if err := checkTrailer(tl); err != nil {
					return nil, 0, bad(err)
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
			return nil, 0, bad(errors.New("chunk not followed by CRLF"))
		}
	}
}

// chunkSize parses a chunk-size line: SP/HTAB, hex digits, SP/HTAB, then
// an optional extension (";" and bytes other than controls), which is
// ignored. A size over 63 bits is not a size.
func chunkSize(line []byte) (uint64, bool) {
	i := 0
	for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
		i++
	}
	start := i
	var size uint64
	for i < len(line) && isHex(line[i]) {
		if size > (1<<63-1)>>4 {
			return 0, false
		}
		c := line[i]
		switch {
		case c <= '9':
			c -= '0'
		case c >= 'a':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		size = size<<4 | uint64(c)
		i++
	}
	if i == start {
		return 0, false
	}
	for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
		i++
	}
	if i < len(line) {
		if line[i] != ';' {
			return 0, false
		}
		for _, c := range line[i:] {
			if !validValueByte(c) {
				return 0, false
			}
		}
	}
	return size, true
}

// checkTrailer checks a trailer line as a header field line.
func checkTrailer(line []byte) error {
	if line[0] == ' ' || line[0] == '\t' {
		return fmt.Errorf("%w: %q", ErrObsFold, line)
	}
	name, value, ok := bytes.Cut(line, []byte(":"))
	if !ok || !isToken(name) {
		return fmt.Errorf("%w: %q", ErrTrailer, line)
	}
	for _, c := range value {
		if !validValueByte(c) {
			return fmt.Errorf("%w: %q", ErrTrailer, line)
		}
	}
	return nil
}

// maxChunkLine is the longest chunk-size or trailer line.
const maxChunkLine = 4096

// chunkLine returns the line at pos (without its CRLF) and where the next
// line starts; errIncompleteChunk when the line has not all arrived.
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
	if len(line) == 0 || line[len(line)-1] != '\r' {
		return nil, 0, ErrBareLineEnd
	}
	line = line[:len(line)-1]
	if bytes.IndexByte(line, '\r') >= 0 {
		return nil, 0, fmt.Errorf("%w: CR inside a chunk line", ErrBareLineEnd)
	}
	return line, pos + i + 1, nil
}
