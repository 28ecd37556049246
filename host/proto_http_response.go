package host

import (
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/imscript/imscript/host/internal/wire/httpwire"
	"github.com/imscript/imscript/script"
)

// The response side of an HTTP connection: a Response per request, in
// request order (a pipelined request's response is held until the ones
// before it are finished), rendered as HTTP/1.1 with Content-Length or a
// chunked body; files and document_root. The script's res methods are in
// api_response.go.

// response is the res object of a request handler. Its methods run on the
// connection's worker.
type response struct {
	c     *conn
	srv   *Server
	obj   *script.Object
	owner *instance // the instance whose handler owes it (reload_drain.go)
	// refused is the error req:json() raised after answering 400 itself:
	// the handler's failure with it is the client's mistake (logged at
	// debug).
	refused string

	head      bool // HEAD request: no body on the wire
	keepAlive bool
	http10    bool

	status    int
	reason    string
	statusSet bool     // the script called res:status (a WebSocket handshake refuses)
	hdr       []string // name, value pairs as the script set them
	hdrBuf    [4]string
	cookies   []string
	hasCT     bool
	started   bool
	chunked   bool
	finished  bool
	buf       []byte // output held until this response heads the line
}

// newResponse queues a response slot for request p on its connection.
func newResponse(s *Server, c *conn, p *httpRequest) *response {
	r := new(response)
	initResponse(r, new(script.Object), s, c, p)
	return r
}

// initResponse is newResponse into r, with obj as its script object: a
// request's own (httpRequest.run) needs no allocation of its own. Its
// first two headers need none either (hdrBuf).
func initResponse(r *response, obj *script.Object, s *Server, c *conn, p *httpRequest) {
	*r = response{c: c, srv: s, status: 200, keepAlive: p != nil && p.KeepAlive}
	if p != nil {
		r.head = p.Method() == http.MethodHead
		r.http10 = !p.ProtoAtLeast(1, 1)
	}
	r.hdr = r.hdrBuf[:0]
	*obj = script.Object{Type: responseType, Data: r}
	r.obj = obj
	h := httpOf(c)
	h.queue = append(h.queue, r)
}

// emit writes bytes of this response, or holds them until it heads the line.
func (r *response) emit(b []byte) bool { return r.emit2(nil, b) }

// emit2 is emit of head and then b, copied in one go.
func (r *response) emit2(head, b []byte) bool {
	q := httpOf(r.c)
	if len(q.queue) > 0 && q.queue[0] == r {
		ok, _ := r.send(head, b)
		return ok
	}
	r.buf = append(append(r.buf, head...), b...)
	return true
}

// send queues head and then b on the response's connection. A response
// is answered on its connection's worker (its handler's VM is that
// worker's), which writes what its handlers answered itself once their
// event is handled (conn.sendFrom): no wake-up of the event loop per
// response.
func (r *response) send(head, b []byte) (bool, string) {
	return r.c.sendFrom(r.c.worker(), head, b)
}

// finish marks the response complete and lets the ones behind it out.
func (r *response) finish() {
	r.finished = true
	r.done()
	q := httpOf(r.c)
	for len(q.queue) > 0 {
		h := q.queue[0]
		if len(h.buf) > 0 {
			r.send(nil, h.buf)
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

// appendHead renders the status line and headers after dst. bodyLen < 0
// means a streamed body (chunked on HTTP/1.1).
func (r *response) appendHead(b []byte, bodyLen int) []byte {
	reason := r.reason
	if reason == "" {
		reason = http.StatusText(r.status)
		if reason == "" {
			reason = "Status"
		}
	}
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(r.status), 10)
	b = append(b, ' ')
	b = append(b, reason...)
	b = append(b, "\r\nServer: imscript\r\nDate: "...)
	b = append(b, httpDate()...)
	b = append(b, "\r\n"...)
	if !r.hasCT && r.status != 101 && r.status != 204 && r.status != 304 {
		b = append(b, "Content-Type: text/html; charset=utf-8\r\n"...)
	}
	switch {
	case r.status == 101 || r.status == 204 || r.status == 304:
	case bodyLen >= 0:
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(bodyLen), 10)
		b = append(b, "\r\n"...)
	case r.chunked:
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	}
	if !r.keepAlive {
		b = append(b, "Connection: close\r\n"...)
	} else if r.http10 {
		b = append(b, "Connection: keep-alive\r\n"...)
	}
	for i := 0; i+1 < len(r.hdr); i += 2 {
		b = append(b, r.hdr[i]...)
		b = append(b, ": "...)
		b = append(b, r.hdr[i+1]...)
		b = append(b, "\r\n"...)
	}
	for _, ck := range r.cookies {
		b = append(b, "Set-Cookie: "...)
		b = append(b, ck...)
		b = append(b, "\r\n"...)
	}
	return append(b, "\r\n"...)
}

// emitHead renders the head into the worker's scratch buffer and emits it
// with body (which may be nil): both are copied on the way out, so the
// scratch is the worker's again after the call.
func (r *response) emitHead(bodyLen int, body []byte) bool {
	w := r.c.worker()
	head := r.appendHead(w.scratch[:0], bodyLen)
	ok := r.emit2(head, body)
	w.scratch = head[:0]
	return ok
}

// end sends body and finishes the response.
func (r *response) end(body []byte) bool {
	if r.finished {
		return false
	}
	ok := true
	if !r.started {
		r.started = true
		if r.head {
			ok = r.emitHead(len(body), nil)
		} else {
			ok = r.emitHead(len(body), body)
		}
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
func (r *response) fail(status int) {
	switch {
	case !r.started:
		r.status = status
		r.end([]byte(fmt.Sprintf("%d %s\n", status, http.StatusText(status))))
	case !r.finished:
		r.end(nil)
	}
}

// write streams one piece of the body.
func (r *response) write(chunk []byte) bool {
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
		if !r.emitHead(-1, nil) {
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

func (r *response) setHeader(name, value string) {
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

// maxFileSize bounds sendfile and static files (they are read whole).
const maxFileSize = 64 << 20

// serveFile answers with a file's content. req (may be nil) enables
// If-Modified-Since.
func (r *response) serveFile(f *os.File, name string, req *httpwire.Request) bool {
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
		if ims, err := http.ParseTime(req.Header("If-Modified-Since")); err == nil && !mod.After(ims) {
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
func (s *Server) serveStatic(r *response, req *httpwire.Request) bool {
	root := s.cfg.Load().root
	if root == nil {
		return false
	}
	if m := req.Method(); m != http.MethodGet && m != http.MethodHead {
		return false
	}
	p := req.Path()
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
