package host

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/imscript/imscript/script"
)

// httpOut orders a connection's responses: a pipelined request's response
// waits (buffered) until the responses before it are finished. Worker
// goroutine only.
type httpOut struct {
	queue []*Response
}

// Response is the res object of a request handler. Its methods run on the
// connection's worker.
type Response struct {
	c    *Conn
	srv  *Server
	obj  *script.Object
	inst *Instance // the instance whose handler owes it (drain.go)

	head      bool // HEAD request: no body on the wire
	keepAlive bool
	http10    bool

	status   int
	reason   string
	hdr      []string // name, value pairs as the script set them
	cookies  []string
	hasCT    bool
	started  bool
	chunked  bool
	finished bool
	buf      []byte // output held until this response heads the line
}

var responseType = &script.Type{Name: "http_response", Transient: true}

func init() {
	responseType.Methods = map[string]script.Function{
		"status":   resStatus,
		"header":   resHeader,
		"cookie":   resCookie,
		"write":    resWrite,
		"send":     resSend,
		"end":      resSend,
		"sendfile": resSendfile,
		"redirect": resRedirect,
	}
}

// newResponse queues a response slot for request p on its connection.
func newResponse(s *Server, c *Conn, p *parsedRequest) *Response {
	r := &Response{c: c, srv: s, status: 200, keepAlive: p != nil && p.keepAlive}
	if p != nil {
		r.head = p.r.Method == http.MethodHead
		r.http10 = !p.r.ProtoAtLeast(1, 1)
	}
	r.obj = &script.Object{Type: responseType, Data: r}
	if c.hw == nil {
		c.hw = &httpOut{}
	}
	c.hw.queue = append(c.hw.queue, r)
	return r
}

// emit writes bytes of this response, or holds them until it heads the line.
func (r *Response) emit(b []byte) bool {
	q := r.c.hw
	if len(q.queue) > 0 && q.queue[0] == r {
		ok, _ := r.c.Send(b)
		return ok
	}
	r.buf = append(r.buf, b...)
	return true
}

// finish marks the response complete and lets the ones behind it out.
func (r *Response) finish() {
	r.finished = true
	r.done()
	q := r.c.hw
	for len(q.queue) > 0 {
		h := q.queue[0]
		if len(h.buf) > 0 {
			r.c.Send(h.buf)
			h.buf = nil
		}
		if !h.finished {
			return
		}
		copy(q.queue, q.queue[1:])
		q.queue[len(q.queue)-1] = nil
		q.queue = q.queue[:len(q.queue)-1]
		if !h.keepAlive {
			r.c.Close()
			for _, dropped := range q.queue {
				dropped.done() // pipelined behind a "Connection: close": never sent
			}
			q.queue = q.queue[:0]
			return
		}
	}
}

var dateCache atomic.Pointer[dateStamp]

type dateStamp struct {
	sec  int64
	text string
}

func httpDate() string {
	now := time.Now()
	if d := dateCache.Load(); d != nil && d.sec == now.Unix() {
		return d.text
	}
	d := &dateStamp{sec: now.Unix(), text: now.UTC().Format(http.TimeFormat)}
	dateCache.Store(d)
	return d.text
}

// headerBytes renders the status line and headers. bodyLen < 0 means a
// streamed body (chunked on HTTP/1.1).
func (r *Response) headerBytes(bodyLen int) []byte {
	reason := r.reason
	if reason == "" {
		reason = http.StatusText(r.status)
		if reason == "" {
			reason = "Status"
		}
	}
	var b bytes.Buffer
	b.Grow(160 + 32*len(r.hdr)/2)
	b.WriteString("HTTP/1.1 ")
	b.WriteString(strconv.Itoa(r.status))
	b.WriteByte(' ')
	b.WriteString(reason)
	b.WriteString("\r\nServer: imscript\r\nDate: ")
	b.WriteString(httpDate())
	b.WriteString("\r\n")
	if !r.hasCT && r.status != 101 && r.status != 204 && r.status != 304 {
		b.WriteString("Content-Type: text/html; charset=utf-8\r\n")
	}
	switch {
	case r.status == 101 || r.status == 204 || r.status == 304:
	case bodyLen >= 0:
		b.WriteString("Content-Length: ")
		b.WriteString(strconv.Itoa(bodyLen))
		b.WriteString("\r\n")
	case r.chunked:
		b.WriteString("Transfer-Encoding: chunked\r\n")
	}
	if !r.keepAlive {
		b.WriteString("Connection: close\r\n")
	} else if r.http10 {
		b.WriteString("Connection: keep-alive\r\n")
	}
	for i := 0; i+1 < len(r.hdr); i += 2 {
		b.WriteString(r.hdr[i])
		b.WriteString(": ")
		b.WriteString(r.hdr[i+1])
		b.WriteString("\r\n")
	}
	for _, ck := range r.cookies {
		b.WriteString("Set-Cookie: ")
		b.WriteString(ck)
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// end sends body and finishes the response.
func (r *Response) end(body []byte) bool {
	if r.finished {
		return false
	}
	ok := true
	if !r.started {
		r.started = true
		out := r.headerBytes(len(body))
		if !r.head {
			out = append(out, body...)
		}
		ok = r.emit(out)
	} else if !r.head {
		if r.chunked {
			var b []byte
			if len(body) > 0 {
				b = appendChunk(b, body)
			}
			b = append(b, "0\r\n\r\n"...)
			ok = r.emit(b)
		} else if len(body) > 0 {
			ok = r.emit(body)
		}
	}
	r.finish()
	return ok
}

// fail ends a response its handler cannot give: status (with its text as
// the body) when nothing was sent yet, else the end of the streamed body,
// so that the connection goes on.
func (r *Response) fail(status int) {
	switch {
	case !r.started:
		r.status = status
		r.end([]byte(fmt.Sprintf("%d %s\n", status, http.StatusText(status))))
	case !r.finished:
		r.end(nil)
	}
}

// write streams one piece of the body.
func (r *Response) write(chunk []byte) bool {
	if r.finished {
		return false
	}
	if !r.started {
		r.started = true
		if r.http10 {
			r.keepAlive = false // the end of the body is the end of the connection
		} else {
			r.chunked = true
		}
		if !r.emit(r.headerBytes(-1)) {
			return false
		}
	}
	if r.head || len(chunk) == 0 {
		return true
	}
	if r.chunked {
		return r.emit(appendChunk(nil, chunk))
	}
	return r.emit(chunk)
}

func appendChunk(b, data []byte) []byte {
	b = strconv.AppendInt(b, int64(len(data)), 16)
	b = append(b, '\r', '\n')
	b = append(b, data...)
	return append(b, '\r', '\n')
}

func (r *Response) setHeader(name, value string) {
	for i := 0; i+1 < len(r.hdr); i += 2 {
		if strings.EqualFold(r.hdr[i], name) {
			r.hdr[i+1] = value
			return
		}
	}
	r.hdr = append(r.hdr, name, value)
	if strings.EqualFold(name, "Content-Type") {
		r.hasCT = true
	}
}

func resSelf(c script.Call) *Response {
	o := c.Self()
	if o == nil {
		script.Usagef("response method called without its response object")
	}
	return o.Data.(*Response)
}

func validHeaderName(s string) bool {
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

func resStatus(c script.Call) {
	r := resSelf(c)
	code := c.Int(0, "code")
	if code < 100 || code > 999 {
		script.Usagef("res.status: code %d is not an HTTP status", code)
	}
	reason := c.OptStr(1, "reason", "")
	if strings.ContainsAny(reason, "\r\n") {
		script.Usagef("res.status: reason must not contain CR or LF")
	}
	if r.started {
		c.Fail("response already started")
		return
	}
	r.status, r.reason = int(code), reason
	c.ReturnBool(true)
}

func resHeader(c script.Call) {
	r := resSelf(c)
	name := c.Str(0, "name")
	value := c.Str(1, "value")
	if !validHeaderName(name) {
		script.Usagef("res.header: %q is not a valid header name", name)
	}
	if strings.ContainsAny(value, "\r\n\x00") {
		script.Usagef("res.header: the value of %s must not contain CR, LF or NUL", name)
	}
	if strings.EqualFold(name, "Content-Length") || strings.EqualFold(name, "Transfer-Encoding") {
		script.Usagef("res.header: %s is set by the server", name)
	}
	if r.started {
		c.Fail("response already started")
		return
	}
	r.setHeader(name, value)
	c.ReturnBool(true)
}

func resCookie(c script.Call) {
	r := resSelf(c)
	ck := &http.Cookie{Name: c.Str(0, "name"), Value: c.OptStr(1, "value", "")}
	if opts := c.OptTable(2, "options"); opts != nil {
		for k, v := range opts {
			switch k {
			case "expires":
				if f, ok := v.(float64); ok {
					ck.Expires = time.Unix(int64(f), 0)
				}
			case "max_age":
				if f, ok := v.(float64); ok {
					ck.MaxAge = int(f)
					if ck.MaxAge == 0 {
						ck.MaxAge = -1
					}
				}
			case "path":
				ck.Path, _ = v.(string)
			case "domain":
				ck.Domain, _ = v.(string)
			case "secure":
				ck.Secure, _ = v.(bool)
			case "httponly":
				ck.HttpOnly, _ = v.(bool)
			case "samesite":
				switch strings.ToLower(fmt.Sprint(v)) {
				case "lax":
					ck.SameSite = http.SameSiteLaxMode
				case "strict":
					ck.SameSite = http.SameSiteStrictMode
				case "none":
					ck.SameSite = http.SameSiteNoneMode
				}
			default:
				script.Usagef("res.cookie: unknown option %q (expires, max_age, path, domain, secure, httponly, samesite)", k)
			}
		}
	}
	if err := ck.Valid(); err != nil {
		script.Usagef("res.cookie: %v", err)
	}
	if r.started {
		c.Fail("response already started")
		return
	}
	r.cookies = append(r.cookies, ck.String())
	c.ReturnBool(true)
}

func resWrite(c script.Call) {
	r := resSelf(c)
	data := c.Bytes(0, "chunk")
	if r.finished {
		c.Fail("response already finished")
		return
	}
	if !r.write(data) {
		c.Fail("connection closed")
		return
	}
	c.ReturnBool(true)
}

func resSend(c script.Call) {
	r := resSelf(c)
	var body []byte
	if c.NArgs() > 0 && c.Arg(0) != nil {
		body = c.Bytes(0, "body")
	}
	if r.finished {
		c.Fail("response already finished")
		return
	}
	if !r.end(body) {
		c.Fail("connection closed")
		return
	}
	c.ReturnBool(true)
}

func resRedirect(c script.Call) {
	r := resSelf(c)
	loc := c.Str(0, "url")
	code := c.OptInt(1, "code", 302)
	if code < 300 || code > 399 {
		script.Usagef("res.redirect: code %d is not a redirect status", code)
	}
	if strings.ContainsAny(loc, "\r\n") {
		script.Usagef("res.redirect: url must not contain CR or LF")
	}
	if r.started || r.finished {
		c.Fail("response already started")
		return
	}
	r.status = int(code)
	r.setHeader("Location", loc)
	r.end(nil)
	c.ReturnBool(true)
}

// maxFileSize bounds sendfile and static files (they are read whole).
const maxFileSize = 64 << 20

func resSendfile(c script.Call) {
	r := resSelf(c)
	p := c.Str(0, "path")
	if !filepath.IsAbs(p) {
		p = filepath.Join(instOf(c).ScriptDir(), p)
	}
	if r.started || r.finished {
		c.Fail("response already started")
		return
	}
	f, err := os.Open(p)
	if err != nil {
		c.Fail(err.Error())
		return
	}
	defer f.Close()
	if !r.serveFile(f, p, nil) {
		c.Fail("not a regular file or too large: " + p)
		return
	}
	c.ReturnBool(true)
}

// serveFile answers with a file's content. req (may be nil) enables
// If-Modified-Since.
func (r *Response) serveFile(f *os.File, name string, req *http.Request) bool {
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || st.Size() > maxFileSize {
		return false
	}
	if !r.hasCT {
		r.setHeader("Content-Type", contentType(name))
	}
	mod := st.ModTime().UTC().Truncate(time.Second)
	r.setHeader("Last-Modified", mod.Format(http.TimeFormat))
	if req != nil {
		if ims, err := http.ParseTime(req.Header.Get("If-Modified-Since")); err == nil && !mod.After(ims) {
			r.status = http.StatusNotModified
			r.end(nil)
			return true
		}
	}
	body, err := io.ReadAll(io.LimitReader(f, maxFileSize))
	if err != nil {
		return false
	}
	r.end(body)
	return true
}

var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8", ".htm": "text/html; charset=utf-8",
	".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
	".json": "application/json", ".txt": "text/plain; charset=utf-8", ".md": "text/markdown; charset=utf-8",
	".xml": "application/xml", ".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg",
	".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp", ".ico": "image/x-icon",
	".wasm": "application/wasm", ".pdf": "application/pdf", ".woff": "font/woff", ".woff2": "font/woff2",
	".map": "application/json", ".mp3": "audio/mpeg", ".mp4": "video/mp4", ".webm": "video/webm",
}

func contentType(name string) string {
	ext := strings.ToLower(filepath.Ext(name))
	if ct, ok := contentTypes[ext]; ok {
		return ct
	}
	if ct := mime.TypeByExtension(ext); ct != "" {
		return ct
	}
	return "application/octet-stream"
}

// serveStatic answers GET/HEAD requests for files under document_root.
func (s *Server) serveStatic(r *Response, req *http.Request) bool {
	root := s.cfg.Load().root
	if root == nil || (req.Method != http.MethodGet && req.Method != http.MethodHead) {
		return false
	}
	p := req.URL.Path
	if strings.ContainsAny(p, "\\\x00") {
		return false
	}
	rel := strings.TrimPrefix(path.Clean("/"+p), "/")
	if rel == "" {
		rel = "."
	}
	f, err := root.Open(rel)
	if err != nil {
		return false
	}
	st, err := f.Stat()
	if err == nil && st.IsDir() {
		f.Close()
		rel = path.Join(rel, "index.html")
		if f, err = root.Open(rel); err != nil {
			return false
		}
	}
	defer f.Close()
	return r.serveFile(f, rel, req)
}

// Request is the req object of a request (and WebSocket open) handler.
// Its fields are computed when the script first reads them, so a handler
// that reads nothing costs nothing.
type Request struct {
	srv   *Server
	c     *Conn
	p     *parsedRequest
	cache map[string]script.Value
}

var requestType = &script.Type{Name: "http_request", Transient: true}

var requestFields = map[string]func(r *Request) script.Value{
	"method":      func(r *Request) script.Value { return r.p.r.Method },
	"uri":         func(r *Request) script.Value { return r.p.r.RequestURI },
	"path":        func(r *Request) script.Value { return r.p.r.URL.Path },
	"protocol":    func(r *Request) script.Value { return r.p.r.Proto },
	"fd":          func(r *Request) script.Value { return r.c.id },
	"server_port": func(r *Request) script.Value { return int64(r.srv.Port()) },
	"remote_ip": func(r *Request) script.Value {
		if ip, _, ok := r.c.remoteIPPort(); ok {
			return ip
		}
		return nil
	},
	"remote_port": func(r *Request) script.Value {
		if _, port, ok := r.c.remoteIPPort(); ok {
			return port
		}
		return nil
	},
	"body": func(r *Request) script.Value {
		if r.p.body == nil {
			return []byte{}
		}
		return r.p.body
	},
	"header": func(r *Request) script.Value {
		h := make(script.Map, len(r.p.r.Header)+1)
		for k, vs := range r.p.r.Header {
			h[strings.ToLower(k)] = strings.Join(vs, ", ")
		}
		if r.p.r.Host != "" {
			h["host"] = r.p.r.Host
		}
		return h
	},
	"query": func(r *Request) script.Value {
		q := script.Map{}
		for k, vs := range r.p.r.URL.Query() {
			if len(vs) > 0 {
				q[k] = vs[0]
			}
		}
		return q
	},
	"cookie": func(r *Request) script.Value {
		m := script.Map{}
		for _, ck := range r.p.r.Cookies() {
			m[ck.Name] = ck.Value
		}
		return m
	},
	"post":  func(r *Request) script.Value { return r.form("post") },
	"files": func(r *Request) script.Value { return r.form("files") },
}

func init() {
	requestType.Props = map[string]func(o *script.Object) script.Value{}
	for name, get := range requestFields {
		get := get
		requestType.Props[name] = func(o *script.Object) script.Value { return o.Data.(*Request).field(name, get) }
	}
}

// field computes a field once per request.
func (r *Request) field(name string, get func(*Request) script.Value) script.Value {
	if v, ok := r.cache[name]; ok {
		return v
	}
	v := get(r)
	if r.cache == nil {
		r.cache = make(map[string]script.Value, 4)
	}
	r.cache[name] = v
	return v
}

func (r *Request) form(which string) script.Value {
	post, files := script.Map{}, script.Map{}
	if len(r.p.body) > 0 {
		if p, f := parseForm(r.p.r, r.p.body); p != nil {
			post = p
			if f != nil {
				files = f
			}
		}
	}
	if r.cache == nil {
		r.cache = make(map[string]script.Value, 4)
	}
	r.cache["post"], r.cache["files"] = post, files
	if which == "post" {
		return post
	}
	return files
}

// requestObject is the req a handler gets.
func (s *Server) requestObject(c *Conn, p *parsedRequest) *script.Object {
	return &script.Object{Type: requestType, Data: &Request{srv: s, c: c, p: p}}
}

// parseForm reads urlencoded and multipart bodies.
func parseForm(r *http.Request, body []byte) (post, files script.Map) {
	ct, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return nil, nil
	}
	switch ct {
	case "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, nil
		}
		post = script.Map{}
		for k, vs := range vals {
			post[k] = vs[0]
		}
		return post, nil
	case "multipart/form-data":
		mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		form, err := mr.ReadForm(int64(len(body)) + 1)
		if err != nil {
			return nil, nil
		}
		defer form.RemoveAll()
		post = script.Map{}
		for k, vs := range form.Value {
			post[k] = vs[0]
		}
		files = script.Map{}
		for k, fhs := range form.File {
			fh := fhs[0]
			f, err := fh.Open()
			if err != nil {
				continue
			}
			content, _ := io.ReadAll(f)
			f.Close()
			files[k] = script.Map{
				"name":    fh.Filename,
				"type":    fh.Header.Get("Content-Type"),
				"size":    int64(len(content)),
				"content": content,
			}
		}
		return post, files
	}
	return nil, nil
}
