package tests

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ---- HTTP helpers ----

// hcClient is a net/http client for one test; it does not follow
// redirects unless follow is set. Its idle connections close with the test.
func hcClient(t *testing.T, follow bool) *http.Client {
	t.Helper()
	tr := &http.Transport{
		MaxIdleConnsPerHost:   4,
		ResponseHeaderTimeout: ioTimeout,
		DisableCompression:    true,
	}
	t.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr, Timeout: ioTimeout}
	if !follow {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	return c
}

// hcDo sends req and returns the response with its whole body.
func hcDo(t *testing.T, c *http.Client, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", req.Method, req.URL, err)
	}
	return resp, body
}

// hcGet is hcDo for a GET of url.
func hcGet(t *testing.T, c *http.Client, url string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return hcDo(t, c, req)
}

func hcRequest(t *testing.T, method, url string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// wantStatus fails unless resp has the status code.
func wantStatus(t *testing.T, resp *http.Response, body []byte, code int) {
	t.Helper()
	if resp.StatusCode != code {
		t.Fatalf("%s %s: status %q, want %d; body %q", resp.Request.Method, resp.Request.URL, resp.Status, code, abbrev(body))
	}
}

// reqInfo is the /info route's JSON view of a request.
type reqInfo struct {
	Method     string              `json:"method"`
	URI        string              `json:"uri"`
	Path       string              `json:"path"`
	Query      map[string]string   `json:"query"`
	Header     map[string]string   `json:"header"`
	Cookie     map[string]string   `json:"cookie"`
	Post       map[string]string   `json:"post"`
	Files      map[string]fileInfo `json:"files"`
	BodyHex    string              `json:"body_hex"`
	BodySize   int                 `json:"body_size"`
	Fd         int                 `json:"fd"`
	RemoteIP   string              `json:"remote_ip"`
	RemotePort int                 `json:"remote_port"`
	Protocol   string              `json:"protocol"`
	WorkerID   int                 `json:"worker_id"`
}

type fileInfo struct {
	Name string `json:"name"`
	Type string `json:"type"`
	Size int    `json:"size"`
	Hex  string `json:"hex"`
}

// decodeInfo parses an /info body. Empty maps may come as [] (an empty Lua
// table): they are dropped before decoding.
func decodeInfo(t *testing.T, body []byte) reqInfo {
	t.Helper()
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatalf("/info: not JSON: %v: %q", err, abbrev(body))
	}
	for k, v := range raw {
		if string(v) == "[]" || string(v) == "null" {
			delete(raw, k)
		}
	}
	b, _ := json.Marshal(raw)
	var info reqInfo
	if err := json.Unmarshal(b, &info); err != nil {
		t.Fatalf("/info: unexpected shape: %v: %q", err, abbrev(body))
	}
	return info
}

// infoOf sends req to /info and decodes the answer.
func infoOf(t *testing.T, c *http.Client, req *http.Request) reqInfo {
	t.Helper()
	resp, body := hcDo(t, c, req)
	wantStatus(t, resp, body, 200)
	return decodeInfo(t, body)
}

func wantField(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

// rawConn is a raw TCP connection for hand-written HTTP.
type rawConn struct {
	net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c := dial(t, addr)
	return &rawConn{Conn: c, br: bufio.NewReaderSize(c, 64<<10)}
}

func (c *rawConn) send(t *testing.T, s string) {
	t.Helper()
	write(t, c, []byte(s))
}

// readResponse reads one response (to a request with that method) and its
// whole body.
func (c *rawConn) readResponse(t *testing.T, method string) (*http.Response, []byte) {
	t.Helper()
	resp, body, err := c.readResponseErr(method)
	if err != nil {
		t.Fatalf("reading the response to %s: %v (body so far %q)", method, err, abbrev(body))
	}
	return resp, body
}

func (c *rawConn) readResponseErr(method string) (*http.Response, []byte, error) {
	_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		return nil, nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, body, err
}

// readFull reads exactly n bytes.
func (c *rawConn) readFull(t *testing.T, n int) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
	b := make([]byte, n)
	if k, err := io.ReadFull(c.br, b); err != nil {
		t.Fatalf("reading %d bytes: got %q: %v", n, abbrev(b[:k]), err)
	}
	return b
}

// readHead reads a status line and header lines as sent, up to the empty
// line.
func (c *rawConn) readHead(t *testing.T) (status string, header http.Header) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
	tp := textproto.NewReader(c.br)
	status, err := tp.ReadLine()
	if err != nil {
		t.Fatalf("reading a status line: %v", err)
	}
	mh, err := tp.ReadMIMEHeader()
	if err != nil {
		t.Fatalf("reading the headers after %q: %v", status, err)
	}
	return status, http.Header(mh)
}

// readChunks reads a chunked body exactly as framed on the wire: each
// "<hex size>\r\n<data>\r\n", up to "0\r\n\r\n" (no trailers).
func (c *rawConn) readChunks(t *testing.T) []string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
	var chunks []string
	for {
		line, err := c.br.ReadString('\n')
		if err != nil {
			t.Fatalf("chunk size line: %q: %v (chunks so far %q)", line, err, chunks)
		}
		if !strings.HasSuffix(line, "\r\n") {
			t.Fatalf("chunk size line %q does not end in CRLF", line)
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(line, "\r\n"), 16, 32)
		if err != nil {
			t.Fatalf("chunk size line %q: %v", line, err)
		}
		data := make([]byte, n+2)
		if _, err := io.ReadFull(c.br, data); err != nil {
			t.Fatalf("chunk of %d bytes: %v", n, err)
		}
		if string(data[n:]) != "\r\n" {
			t.Fatalf("chunk %q is not followed by CRLF", data)
		}
		if n == 0 {
			return chunks
		}
		chunks = append(chunks, string(data[:n]))
	}
}

// expectEnd waits until the server closes the connection; bytes that come
// first are returned.
func (c *rawConn) expectEnd(t *testing.T) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
	rest, err := io.ReadAll(c.br)
	if isTimeout(err) {
		t.Fatalf("the server did not close the connection (read %q)", abbrev(rest))
	}
	return rest
}

// docroot is a document_root for the static-file tests, in a temp folder
// with a secret file beside it (outside the root).
type docroot struct {
	dir    string            // the document root
	secret string            // path of the file outside it
	files  map[string][]byte // name under dir -> content
}

const secretMarker = "TOP-SECRET-c0ffee"

// pngBytes is a real 1x1 PNG.
var pngBytes, _ = hex.DecodeString("89504e470d0a1a0a0000000d4948445200000001000000010806000000" +
	"1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")

func makeDocroot(t *testing.T) *docroot {
	t.Helper()
	base := t.TempDir()
	d := &docroot{
		dir:    filepath.Join(base, "www"),
		secret: filepath.Join(base, "secret.txt"),
		files: map[string][]byte{
			"index.html":     []byte("<!doctype html><title>home</title><p>index page</p>\n"),
			"style.css":      []byte("body { color: #333; }\n"),
			"app.js":         []byte("console.log('app');\n"),
			"img.png":        pngBytes,
			"data.json":      []byte(`{"ok":true,"n":1}` + "\n"),
			"readme.txt":     []byte("plain text readme\n"),
			"sub/index.html": []byte("<p>sub index</p>\n"),
			"sub/page.html":  []byte("<p>sub page</p>\n"),
			"data.bin":       randomBytes(300 << 10),
		},
	}
	for name, b := range d.files {
		p := filepath.Join(d.dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(d.secret, []byte(secretMarker+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return d
}

// startHTTP runs the http helper script with a fresh document root.
func startHTTP(t *testing.T, lang string, env map[string]string) (*server, *docroot) {
	t.Helper()
	d := makeDocroot(t)
	e := map[string]string{"DOCROOT": d.dir}
	for k, v := range env {
		e[k] = v
	}
	return start(t, testScript(lang, "http"), runOpts{env: e}), d
}

func (s *server) url(path string) string { return "http://" + s.addr() + path }

// ---- request fields ----

// TestHTTPRequestFields: what the script sees of a request: method, uri,
// path, query, lower-case headers, cookies, urlencoded and multipart posts
// with files (binary content byte-exact), the raw body (also chunked), the
// peer and the protocol.
func TestHTTPRequestFields(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		s, _ := startHTTP(t, lang, nil)
		c := hcClient(t, false)

		t.Run("query-header-cookie", func(t *testing.T) {
			req := hcRequest(t, "GET", s.url("/info?x=1&y=two%20words&empty=&plus=a+b"), nil)
			req.Header.Set("X-Custom-Header", "Custom Value")
			req.Header.Add("X-Multi", "a")
			req.Header.Add("X-Multi", "b")
			req.Header.Set("Cookie", "session=abc123; theme=dark")
			info := infoOf(t, c, req)
			wantField(t, "method", info.Method, "GET")
			wantField(t, "uri", info.URI, "/info?x=1&y=two%20words&empty=&plus=a+b")
			wantField(t, "path", info.Path, "/info")
			wantField(t, "protocol", info.Protocol, "HTTP/1.1")
			wantField(t, "query.x", info.Query["x"], "1")
			wantField(t, "query.y", info.Query["y"], "two words")
			wantField(t, "query.plus", info.Query["plus"], "a b")
			if v, ok := info.Query["empty"]; !ok || v != "" {
				t.Errorf("query.empty = %q (present %v), want \"\"", v, ok)
			}
			wantField(t, "header[x-custom-header]", info.Header["x-custom-header"], "Custom Value")
			wantField(t, "header[x-multi]", info.Header["x-multi"], "a, b")
			wantField(t, "header[host]", info.Header["host"], s.addr())
			for k := range info.Header {
				if k != strings.ToLower(k) {
					t.Errorf("header key %q is not lower-case", k)
				}
			}
			wantField(t, "cookie.session", info.Cookie["session"], "abc123")
			wantField(t, "cookie.theme", info.Cookie["theme"], "dark")
			wantField(t, "remote_ip", info.RemoteIP, "127.0.0.1")
			if info.Fd <= 0 {
				t.Errorf("fd = %d", info.Fd)
			}
			if len(info.Post) != 0 || len(info.Files) != 0 || info.BodySize != 0 {
				t.Errorf("a GET has post %v, files %v, body %q", info.Post, info.Files, info.BodyHex)
			}
		})

		t.Run("methods", func(t *testing.T) {
			for _, m := range []string{"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"} {
				var body io.Reader
				if m == "POST" || m == "PUT" || m == "PATCH" {
					body = strings.NewReader("payload of " + m)
				}
				req := hcRequest(t, m, s.url("/info?m="+m), body)
				req.Header.Set("Content-Type", "text/plain")
				info := infoOf(t, c, req)
				wantField(t, "method", info.Method, m)
				wantField(t, "query.m", info.Query["m"], m)
				if body != nil {
					wantField(t, m+" body", hexText(info.BodyHex), "payload of "+m)
				}
			}
		})

		t.Run("raw-peer-and-uri", func(t *testing.T) {
			rc := dialRaw(t, s.addr())
			rc.send(t, "GET /info?a=%41&b=c+d&b2=%2B HTTP/1.1\r\nHost: example.test\r\nUser-Agent: raw\r\nX-Mixed-CASE: Yes\r\n\r\n")
			resp, body := rc.readResponse(t, "GET")
			if resp.StatusCode != 200 {
				t.Fatalf("status %q: %q", resp.Status, body)
			}
			info := decodeInfo(t, body)
			wantField(t, "uri", info.URI, "/info?a=%41&b=c+d&b2=%2B")
			wantField(t, "query.a", info.Query["a"], "A")
			wantField(t, "query.b", info.Query["b"], "c d")
			wantField(t, "query.b2", info.Query["b2"], "+")
			wantField(t, "header[host]", info.Header["host"], "example.test")
			wantField(t, "header[x-mixed-case]", info.Header["x-mixed-case"], "Yes")
			wantField(t, "header[user-agent]", info.Header["user-agent"], "raw")
			local := rc.LocalAddr().(*net.TCPAddr)
			if info.RemotePort != local.Port {
				t.Errorf("remote_port = %d, want the client's port %d", info.RemotePort, local.Port)
			}
		})

		t.Run("post-urlencoded", func(t *testing.T) {
			form := "a=1&b=hello+world&c=%26%3D%3F&d=caf%C3%A9&e="
			req := hcRequest(t, "POST", s.url("/info"), strings.NewReader(form))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			info := infoOf(t, c, req)
			wantField(t, "method", info.Method, "POST")
			wantField(t, "post.a", info.Post["a"], "1")
			wantField(t, "post.b", info.Post["b"], "hello world")
			wantField(t, "post.c", info.Post["c"], "&=?")
			wantField(t, "post.d", info.Post["d"], "café")
			if v, ok := info.Post["e"]; !ok || v != "" {
				t.Errorf("post.e = %q (present %v), want \"\"", v, ok)
			}
			wantField(t, "body", hexText(info.BodyHex), form)
			wantField(t, "header[content-type]", info.Header["content-type"], "application/x-www-form-urlencoded")
		})

		t.Run("multipart", func(t *testing.T) {
			// A binary file with every byte value, CRLFs and things that look
			// like boundaries, and a small text file.
			bin := append(bytes.Repeat(allBytes(), 64), []byte("\r\n--\r\n--boundary\r\n\r\n")...)
			bin = append(bin, randomBytes(100<<10)...)
			bin = append(bin, "\r\n"...)
			body, ctype := multipartBody(t, map[string]string{"name": "Alice", "note": "x y&z=1\r\nline 2"},
				[]mpFile{
					{field: "file", name: "photo.bin", ctype: "application/octet-stream", content: bin},
					{field: "doc", name: "hello.txt", ctype: "text/plain", content: []byte("hello file\n")},
				})
			req := hcRequest(t, "POST", s.url("/info"), bytes.NewReader(body))
			req.Header.Set("Content-Type", ctype)
			info := infoOf(t, c, req)
			if info.BodySize != len(body) {
				t.Errorf("multipart: body of %d bytes, want the raw %d", info.BodySize, len(body))
			}
			wantField(t, "post.name", info.Post["name"], "Alice")
			wantField(t, "post.note", info.Post["note"], "x y&z=1\r\nline 2")
			f, ok := info.Files["file"]
			if !ok {
				t.Fatalf("files has no \"file\": %v", sortedKeys(info.Files))
			}
			wantField(t, "files.file.name", f.Name, "photo.bin")
			wantField(t, "files.file.type", f.Type, "application/octet-stream")
			if f.Size != len(bin) {
				t.Errorf("files.file.size = %d, want %d", f.Size, len(bin))
			}
			d := info.Files["doc"]
			wantField(t, "files.doc.name", d.Name, "hello.txt")
			wantField(t, "files.doc.type", d.Type, "text/plain")
			wantField(t, "files.doc.content", hexText(d.Hex), "hello file\n")
			if d.Size != len("hello file\n") {
				t.Errorf("files.doc.size = %d", d.Size)
			}
			if _, ok := info.Post["file"]; ok {
				t.Errorf("the file field is also in post")
			}

			// The file content back as the response body, byte for byte.
			req = hcRequest(t, "POST", s.url("/upload?field=file"), bytes.NewReader(body))
			req.Header.Set("Content-Type", ctype)
			resp, got := hcDo(t, c, req)
			wantStatus(t, resp, got, 200)
			if !bytes.Equal(got, bin) {
				t.Errorf("uploaded file came back as %d bytes, want %d byte-exact", len(got), len(bin))
			}
			wantField(t, "X-File-Name", resp.Header.Get("X-File-Name"), "photo.bin")
			wantField(t, "X-File-Size", resp.Header.Get("X-File-Size"), strconv.Itoa(len(bin)))
		})

		t.Run("raw-body", func(t *testing.T) {
			for _, payload := range [][]byte{allBytes(), invalidUTF8, randomBytes(200 << 10), []byte("{\"json\":true}")} {
				req := hcRequest(t, "POST", s.url("/body"), bytes.NewReader(payload))
				req.Header.Set("Content-Type", "application/octet-stream")
				resp, got := hcDo(t, c, req)
				wantStatus(t, resp, got, 200)
				if !bytes.Equal(got, payload) {
					t.Errorf("raw body of %d bytes came back as %d bytes %q", len(payload), len(got), abbrev(got))
				}
			}
			// A JSON body is raw too: not parsed into post.
			req := hcRequest(t, "POST", s.url("/info"), strings.NewReader(`{"k":"v"}`))
			req.Header.Set("Content-Type", "application/json")
			info := infoOf(t, c, req)
			wantField(t, "body", hexText(info.BodyHex), `{"k":"v"}`)
		})

		t.Run("chunked-request", func(t *testing.T) {
			// Raw: chunks, a chunk extension and a trailer.
			rc := dialRaw(t, s.addr())
			rc.send(t, "POST /body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"+
				"5\r\nhello\r\n1;ext=1\r\n \r\n6\r\nworld!\r\n0\r\nX-Trailer: t\r\n\r\n")
			resp, body := rc.readResponse(t, "POST")
			if resp.StatusCode != 200 || string(body) != "hello world!" {
				t.Errorf("chunked POST: status %q body %q, want 200 \"hello world!\"", resp.Status, body)
			}
			// A binary chunked body in many chunks, then another request on
			// the same connection.
			payload := randomBytes(100 << 10)
			var b bytes.Buffer
			b.WriteString("POST /body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
			for rest := payload; len(rest) > 0; {
				n := min(len(rest), 7000)
				fmt.Fprintf(&b, "%x\r\n", n)
				b.Write(rest[:n])
				b.WriteString("\r\n")
				rest = rest[n:]
			}
			b.WriteString("0\r\n\r\n")
			write(t, rc, b.Bytes())
			resp, body = rc.readResponse(t, "POST")
			if resp.StatusCode != 200 || !bytes.Equal(body, payload) {
				t.Errorf("chunked binary POST: status %q, %d bytes back, want 200 and %d bytes byte-exact", resp.Status, len(body), len(payload))
			}
			rc.send(t, "GET /fast?id=after HTTP/1.1\r\nHost: x\r\n\r\n")
			if resp, body := rc.readResponse(t, "GET"); string(body) != "fast after" {
				t.Errorf("after chunked POSTs: %q %q", resp.Status, body)
			}
			// net/http sends a body of unknown length chunked.
			pr, pw := io.Pipe()
			go func() {
				for i := range 5 {
					fmt.Fprintf(pw, "part%d;", i)
				}
				pw.Close()
			}()
			req := hcRequest(t, "POST", s.url("/body"), pr)
			req.ContentLength = -1
			resp2, got := hcDo(t, c, req)
			wantStatus(t, resp2, got, 200)
			wantField(t, "net/http chunked body", string(got), "part0;part1;part2;part3;part4;")
		})
	})
}

// hexText decodes hex as text (for messages).
func hexText(h string) string {
	b, err := hex.DecodeString(h)
	if err != nil {
		return "<bad hex " + h + ">"
	}
	return string(b)
}

func sortedKeys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

type mpFile struct {
	field, name, ctype string
	content            []byte
}

// multipartBody builds a multipart/form-data body.
func multipartBody(t *testing.T, fields map[string]string, files []mpFile) ([]byte, string) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for _, k := range sortedKeys(fields) {
		if err := w.WriteField(k, fields[k]); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range files {
		h := make(textproto.MIMEHeader)
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="%s"; filename="%s"`, f.field, f.name))
		h.Set("Content-Type", f.ctype)
		p, err := w.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		p.Write(f.content)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), w.FormDataContentType()
}

// ---- responses ----

// TestHTTPResponses: status and reason, headers, cookies with attributes,
// redirects, chunked responses on the wire, send twice, a handler error
// (500), sendfile, and document_root beside a request handler.
func TestHTTPResponses(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		s, d := startHTTP(t, lang, nil)
		c := hcClient(t, false)

		t.Run("status-reason", func(t *testing.T) {
			cases := []struct{ query, line, body string }{
				{"code=201", "HTTP/1.1 201 Created", "status 201"},
				{"code=404", "HTTP/1.1 404 Not Found", "status 404"},
				{"code=418&reason=I%27m+a+teapot", "HTTP/1.1 418 I'm a teapot", "status 418"},
				{"code=299&reason=Custom+Reason", "HTTP/1.1 299 Custom Reason", "status 299"},
				{"code=503", "HTTP/1.1 503 Service Unavailable", "status 503"},
			}
			rc := dialRaw(t, s.addr())
			for _, tc := range cases {
				rc.send(t, "GET /status?"+tc.query+" HTTP/1.1\r\nHost: x\r\n\r\n")
				line, h := rc.readHead(t)
				if line != tc.line {
					t.Errorf("status line %q, want %q", line, tc.line)
				}
				n, err := strconv.Atoi(h.Get("Content-Length"))
				if err != nil {
					t.Fatalf("%s: Content-Length %q", tc.query, h.Get("Content-Length"))
				}
				got := rc.readFull(t, n)
				wantField(t, tc.query+" body", string(got), tc.body)
			}
		})

		t.Run("defaults", func(t *testing.T) {
			resp, body := hcGet(t, c, s.url("/fast?id=7"))
			wantStatus(t, resp, body, 200)
			wantField(t, "body", string(body), "fast 7")
			wantField(t, "Content-Type", resp.Header.Get("Content-Type"), "text/html; charset=utf-8")
			wantField(t, "Content-Length", resp.Header.Get("Content-Length"), "6")
			if resp.TransferEncoding != nil {
				t.Errorf("Transfer-Encoding %v on a response sent at once", resp.TransferEncoding)
			}
		})

		t.Run("headers-cookies", func(t *testing.T) {
			resp, body := hcGet(t, c, s.url("/headers"))
			wantStatus(t, resp, body, 200)
			wantField(t, "body", string(body), "headers")
			wantField(t, "X-Test", resp.Header.Get("X-Test"), "yes")
			wantField(t, "Content-Type", resp.Header.Get("Content-Type"), "text/plain")
			if n := len(resp.Header.Values("Content-Type")); n != 1 {
				t.Errorf("%d Content-Type headers: %q", n, resp.Header.Values("Content-Type"))
			}
			raw := resp.Header.Values("Set-Cookie")
			t.Logf("Set-Cookie: %q", raw)
			cookies := map[string]*http.Cookie{}
			for _, ck := range resp.Cookies() {
				cookies[ck.Name] = ck
			}
			if ck := cookies["plain"]; ck == nil || ck.Value != "v1" {
				t.Errorf("cookie plain: %+v (Set-Cookie %q)", ck, raw)
			}
			ck := cookies["full"]
			if ck == nil {
				t.Fatalf("no cookie \"full\" in %q", raw)
			}
			wantField(t, "full.Value", ck.Value, "v2")
			wantField(t, "full.Path", ck.Path, "/p")
			wantField(t, "full.Domain", ck.Domain, "example.com")
			if ck.MaxAge != 3600 {
				t.Errorf("full.MaxAge = %d, want 3600", ck.MaxAge)
			}
			if !ck.Expires.Equal(time.Unix(2000000000, 0)) {
				t.Errorf("full.Expires = %v, want %v", ck.Expires, time.Unix(2000000000, 0).UTC())
			}
			if !ck.Secure || !ck.HttpOnly {
				t.Errorf("full: Secure %v HttpOnly %v, want both", ck.Secure, ck.HttpOnly)
			}
			if ck.SameSite != http.SameSiteStrictMode {
				t.Errorf("full.SameSite = %v, want Strict (raw %q)", ck.SameSite, ck.Raw)
			}
		})

		t.Run("chain", func(t *testing.T) {
			// status, header and cookie return res itself: the same
			// object, not a second one standing for it.
			resp, body := hcGet(t, c, s.url("/chain"))
			wantStatus(t, resp, body, 202)
			wantField(t, "X-Chain", resp.Header.Get("X-Chain"), "1")
			wantField(t, "Set-Cookie", resp.Header.Get("Set-Cookie"), "chained=1")
			wantField(t, "body", string(body), "same")
		})

		t.Run("redirect", func(t *testing.T) {
			for _, tc := range []struct {
				query string
				code  int
			}{{"", 302}, {"?code=301", 301}, {"?code=307", 307}} {
				resp, body := hcGet(t, c, s.url("/redirect"+tc.query))
				wantStatus(t, resp, body, tc.code)
				wantField(t, "Location", resp.Header.Get("Location"), "/target")
			}
			resp, body := hcGet(t, hcClient(t, true), s.url("/redirect"))
			wantStatus(t, resp, body, 200)
			wantField(t, "after the redirect", string(body), "target reached")
		})

		t.Run("chunked-wire", func(t *testing.T) {
			rc := dialRaw(t, s.addr())
			rc.send(t, "GET /chunked HTTP/1.1\r\nHost: x\r\n\r\n")
			line, h := rc.readHead(t)
			if line != "HTTP/1.1 200 OK" {
				t.Errorf("status line %q", line)
			}
			if te := h.Get("Transfer-Encoding"); te != "chunked" {
				t.Errorf("Transfer-Encoding %q, want chunked (headers %v)", te, h)
			}
			if cl := h.Get("Content-Length"); cl != "" {
				t.Errorf("Content-Length %q on a chunked response", cl)
			}
			wantField(t, "Content-Type", h.Get("Content-Type"), "text/plain")
			chunks := rc.readChunks(t)
			t.Logf("chunks %q", chunks)
			if got := strings.Join(chunks, ""); got != "hello chunked world!" {
				t.Errorf("chunked body %q, want %q", got, "hello chunked world!")
			}
			// The connection stays usable: a chunked response written from
			// a timer, then a plain one.
			rc.send(t, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
			_, h = rc.readHead(t)
			if te := h.Get("Transfer-Encoding"); te != "chunked" {
				t.Errorf("/stream: Transfer-Encoding %q, want chunked", te)
			}
			if got := strings.Join(rc.readChunks(t), ""); got != "first second last" {
				t.Errorf("/stream body %q", got)
			}
			rc.send(t, "GET /fast?id=x HTTP/1.1\r\nHost: x\r\n\r\n")
			if _, body := rc.readResponse(t, "GET"); string(body) != "fast x" {
				t.Errorf("after the chunked responses: %q", body)
			}
			// Through net/http.
			resp, body := hcGet(t, c, s.url("/stream"))
			wantStatus(t, resp, body, 200)
			wantField(t, "net/http /stream", string(body), "first second last")
		})

		t.Run("send-twice", func(t *testing.T) {
			resp, body := hcGet(t, c, s.url("/twice"))
			wantStatus(t, resp, body, 200)
			wantField(t, "body", string(body), "first")
			waitOutput(t, s, "twice true false\n")
		})

		t.Run("handler-error-500", func(t *testing.T) {
			resp, body := hcGet(t, c, s.url("/error"))
			wantStatus(t, resp, body, 500)
			waitLog(t, s, "handler boom")
			// The server goes on, on new and on kept-alive connections.
			for i := range 4 {
				resp, body := hcGet(t, c, s.url(fmt.Sprintf("/fast?id=%d", i)))
				wantStatus(t, resp, body, 200)
			}
			rc := dialRaw(t, s.addr())
			rc.send(t, "GET /error HTTP/1.1\r\nHost: x\r\n\r\n")
			if resp, body := rc.readResponse(t, "GET"); resp.StatusCode != 500 {
				t.Errorf("raw /error: %q %q", resp.Status, body)
			}
		})

		t.Run("async-handler", func(t *testing.T) {
			// An async handler answers after an await; one whose promise
			// rejects before it answered gets a 500, as a handler that
			// throws at once, and the error is logged.
			if lang != "js" {
				t.Skip("JS only: Lua handlers have no promises (they answer later from callbacks, as /slow)")
			}
			resp, body := hcGet(t, c, s.url("/async?id=7"))
			wantStatus(t, resp, body, 200)
			wantField(t, "body", string(body), "async 7")
			resp, body = hcGet(t, c, s.url("/async-error"))
			wantStatus(t, resp, body, 500)
			waitLog(t, s, "unhandled promise rejection: Error: async handler boom")
			// Rejected in a later turn: the host waited for the promise.
			resp, body = hcGet(t, c, s.url("/async-late-error"))
			wantStatus(t, resp, body, 500)
			waitLog(t, s, "Error: late async boom")
			resp, body = hcGet(t, c, s.url("/fast?id=after"))
			wantStatus(t, resp, body, 200)
		})

		t.Run("sendfile", func(t *testing.T) {
			for _, name := range []string{"data.bin", "img.png", "readme.txt"} {
				resp, body := hcGet(t, c, s.url("/sendfile?name="+name))
				wantStatus(t, resp, body, 200)
				if !bytes.Equal(body, d.files[name]) {
					t.Errorf("sendfile %s: %d bytes, want %d byte-exact", name, len(body), len(d.files[name]))
				}
				t.Logf("sendfile %s: Content-Type %q", name, resp.Header.Get("Content-Type"))
			}
		})

		t.Run("document-root-beside-handler", func(t *testing.T) {
			// An existing file is served without the handler; anything else
			// goes to the handler.
			resp, body := hcGet(t, c, s.url("/readme.txt"))
			wantStatus(t, resp, body, 200)
			wantField(t, "/readme.txt", string(body), string(d.files["readme.txt"]))
			resp, body = hcGet(t, c, s.url("/missing.txt"))
			wantStatus(t, resp, body, 404)
			wantField(t, "/missing.txt", string(body), "no route /missing.txt")
			resp, body = hcDo(t, c, hcRequest(t, "POST", s.url("/readme.txt"), strings.NewReader("x")))
			wantStatus(t, resp, body, 404)
			wantField(t, "POST /readme.txt", string(body), "no route /readme.txt")
		})
	})
}

// ---- connections ----

// TestHTTPConnection: keep-alive, pipelining with a slow first request,
// HEAD, Expect: 100-continue.
func TestHTTPConnection(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		s, _ := startHTTP(t, lang, nil)

		t.Run("keep-alive", func(t *testing.T) {
			c := hcClient(t, false)
			var ports []int
			for i := range 5 {
				info := infoOf(t, c, hcRequest(t, "GET", s.url(fmt.Sprintf("/info?i=%d", i)), nil))
				ports = append(ports, info.RemotePort)
			}
			for _, p := range ports[1:] {
				if p != ports[0] {
					t.Errorf("remote ports %v: net/http opened new connections, keep-alive not kept", ports)
					break
				}
			}
			// Raw: requests one after another on one connection.
			rc := dialRaw(t, s.addr())
			for i := range 3 {
				rc.send(t, fmt.Sprintf("GET /fast?id=%d HTTP/1.1\r\nHost: x\r\n\r\n", i))
				resp, body := rc.readResponse(t, "GET")
				if want := fmt.Sprintf("fast %d", i); string(body) != want || resp.Close {
					t.Errorf("request %d: body %q close %v, want %q on a kept connection", i, body, resp.Close, want)
				}
				rc.send(t, fmt.Sprintf("POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nb%03d", i))
				if _, body := rc.readResponse(t, "POST"); string(body) != fmt.Sprintf("b%03d", i) {
					t.Errorf("POST %d: body %q", i, body)
				}
			}
			// HTTP/1.0: closed after the response unless it asks for
			// keep-alive.
			rc10 := dialRaw(t, s.addr())
			rc10.send(t, "GET /fast?id=ka10 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
			resp, body := rc10.readResponse(t, "GET")
			if string(body) != "fast ka10" || resp.Close || !strings.EqualFold(resp.Header.Get("Connection"), "keep-alive") {
				t.Errorf("HTTP/1.0 with keep-alive: body %q, Connection %q, close %v", body, resp.Header.Get("Connection"), resp.Close)
			}
			rc10.send(t, "GET /info HTTP/1.0\r\n\r\n")
			resp, body = rc10.readResponse(t, "GET")
			if resp.StatusCode != 200 {
				t.Fatalf("HTTP/1.0 /info: %q %q", resp.Status, body)
			}
			wantField(t, "protocol of an HTTP/1.0 request", decodeInfo(t, body).Protocol, "HTTP/1.0")
			rc10.expectEnd(t)
			// Connection: close is honoured.
			rc.send(t, "GET /fast?id=last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			if _, body := rc.readResponse(t, "GET"); string(body) != "fast last" {
				t.Errorf("last request: %q", body)
			}
			rc.expectEnd(t)
		})

		t.Run("pipelining", func(t *testing.T) {
			rc := dialRaw(t, s.addr())
			// One write, five requests; the first is answered 400 ms later
			// by a timer, the fourth 100 ms later.
			rc.send(t, "GET /slow?id=1&ms=400 HTTP/1.1\r\nHost: x\r\n\r\n"+
				"GET /fast?id=2 HTTP/1.1\r\nHost: x\r\n\r\n"+
				"POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nthree"+
				"GET /slow?id=4&ms=100 HTTP/1.1\r\nHost: x\r\n\r\n"+
				"HEAD /fast?id=5 HTTP/1.1\r\nHost: x\r\n\r\n"+
				"GET /fast?id=6 HTTP/1.1\r\nHost: x\r\n\r\n")
			want := []struct{ method, body string }{
				{"GET", "slow 1"}, {"GET", "fast 2"}, {"POST", "three"}, {"GET", "slow 4"}, {"HEAD", ""}, {"GET", "fast 6"},
			}
			for i, w := range want {
				resp, body := rc.readResponse(t, w.method)
				if resp.StatusCode != 200 || string(body) != w.body {
					t.Fatalf("pipelined response %d: %q %q, want 200 %q (responses out of order or lost)", i+1, resp.Status, body, w.body)
				}
			}
			// Pipelined requests split at odd places.
			all := "GET /slow?id=a&ms=50 HTTP/1.1\r\nHost: x\r\n\r\nGET /fast?id=b HTTP/1.1\r\nHost: x\r\n\r\n"
			for _, part := range []string{all[:7], all[7:40], all[40:60], all[60:]} {
				rc.send(t, part)
				time.Sleep(10 * time.Millisecond)
			}
			for _, w := range []string{"slow a", "fast b"} {
				if _, body := rc.readResponse(t, "GET"); string(body) != w {
					t.Fatalf("split pipelined: %q, want %q", body, w)
				}
			}
		})

		t.Run("head", func(t *testing.T) {
			rc := dialRaw(t, s.addr())
			rc.send(t, "HEAD /headers HTTP/1.1\r\nHost: x\r\n\r\n")
			line, h := rc.readHead(t)
			if line != "HTTP/1.1 200 OK" {
				t.Errorf("HEAD status line %q", line)
			}
			wantField(t, "HEAD X-Test", h.Get("X-Test"), "yes")
			if cl := h.Get("Content-Length"); cl != "" && cl != "7" {
				t.Errorf("HEAD Content-Length %q, want 7 (the GET's) or none", cl)
			}
			// No body may follow: the next bytes are the next response.
			rc.send(t, "GET /fast?id=h HTTP/1.1\r\nHost: x\r\n\r\n")
			if resp, body, err := rc.readResponseErr("GET"); err != nil || string(body) != "fast h" {
				t.Fatalf("the response after HEAD: %v %q %v (did HEAD send a body?)", resp, body, err)
			}
			c := hcClient(t, false)
			resp, body := hcDo(t, c, hcRequest(t, "HEAD", s.url("/fast?id=12345"), nil))
			wantStatus(t, resp, body, 200)
			if len(body) != 0 {
				t.Errorf("HEAD body %q", body)
			}
		})

		t.Run("expect-100-continue", func(t *testing.T) {
			rc := dialRaw(t, s.addr())
			rc.send(t, "POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n")
			_ = rc.SetReadDeadline(time.Now().Add(ioTimeout))
			line, err := rc.br.ReadString('\n')
			if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
				t.Fatalf("after the headers with Expect: 100-continue: %q %v, want HTTP/1.1 100 Continue", line, err)
			}
			blank, err := rc.br.ReadString('\n')
			if err != nil || blank != "\r\n" {
				t.Fatalf("100 Continue is not followed by an empty line: %q %v", blank, err)
			}
			rc.send(t, "hello there")
			resp, body := rc.readResponse(t, "POST")
			if resp.StatusCode != 200 || string(body) != "hello there" {
				t.Errorf("after 100 Continue: %q %q", resp.Status, body)
			}
			// net/http waits for the 100 before sending the body.
			tr := &http.Transport{ExpectContinueTimeout: 10 * time.Second}
			t.Cleanup(tr.CloseIdleConnections)
			req := hcRequest(t, "POST", s.url("/body"), strings.NewReader("continued body"))
			req.Header.Set("Expect", "100-continue")
			resp2, body2 := hcDo(t, &http.Client{Transport: tr, Timeout: ioTimeout}, req)
			wantStatus(t, resp2, body2, 200)
			wantField(t, "net/http 100-continue body", string(body2), "continued body")
		})
	})
}

// ---- static files ----

// TestHTTPStatic: document_root files with their content types, index.html
// for folders, HEAD, 404 without leaking paths, and no path traversal.
func TestHTTPStatic(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		d := makeDocroot(t)
		s := start(t, testScript(lang, "static"), runOpts{env: map[string]string{"DOCROOT": d.dir}})
		c := hcClient(t, false)

		t.Run("content-types", func(t *testing.T) {
			for _, tc := range []struct{ path, file, ctype string }{
				{"/index.html", "index.html", "text/html"},
				{"/style.css", "style.css", "text/css"},
				{"/app.js", "app.js", "javascript"},
				{"/img.png", "img.png", "image/png"},
				{"/data.json", "data.json", "application/json"},
				{"/readme.txt", "readme.txt", "text/plain"},
				{"/sub/page.html", "sub/page.html", "text/html"},
				{"/data.bin", "data.bin", ""},
			} {
				resp, body := hcGet(t, c, s.url(tc.path))
				wantStatus(t, resp, body, 200)
				if !bytes.Equal(body, d.files[tc.file]) {
					t.Errorf("%s: %d bytes %q, want the file's %d", tc.path, len(body), abbrev(body), len(d.files[tc.file]))
				}
				if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, tc.ctype) {
					t.Errorf("%s: Content-Type %q, want %q", tc.path, ct, tc.ctype)
				}
				if cl := resp.Header.Get("Content-Length"); cl != strconv.Itoa(len(d.files[tc.file])) {
					t.Errorf("%s: Content-Length %q, want %d", tc.path, cl, len(d.files[tc.file]))
				}
			}
		})

		t.Run("index", func(t *testing.T) {
			for _, tc := range []struct{ path, file string }{{"/", "index.html"}, {"/sub/", "sub/index.html"}} {
				resp, body := hcGet(t, c, s.url(tc.path))
				wantStatus(t, resp, body, 200)
				wantField(t, tc.path, string(body), string(d.files[tc.file]))
				if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, "text/html") {
					t.Errorf("%s: Content-Type %q", tc.path, ct)
				}
			}
			// A folder without the slash: its index, directly or through a
			// redirect to /sub/.
			resp, body := hcGet(t, hcClient(t, true), s.url("/sub"))
			wantStatus(t, resp, body, 200)
			wantField(t, "/sub", string(body), string(d.files["sub/index.html"]))
		})

		t.Run("head", func(t *testing.T) {
			rc := dialRaw(t, s.addr())
			rc.send(t, "HEAD /style.css HTTP/1.1\r\nHost: x\r\n\r\n")
			line, h := rc.readHead(t)
			if line != "HTTP/1.1 200 OK" {
				t.Errorf("HEAD status line %q", line)
			}
			wantField(t, "HEAD Content-Length", h.Get("Content-Length"), strconv.Itoa(len(d.files["style.css"])))
			if ct := h.Get("Content-Type"); !strings.Contains(ct, "text/css") {
				t.Errorf("HEAD Content-Type %q", ct)
			}
			rc.send(t, "GET /readme.txt HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, body := rc.readResponse(t, "GET")
			if resp.StatusCode != 200 || !bytes.Equal(body, d.files["readme.txt"]) {
				t.Errorf("GET after HEAD: %q %q (did HEAD send a body?)", resp.Status, body)
			}
		})

		t.Run("not-found", func(t *testing.T) {
			for _, p := range []string{"/missing.html", "/sub/missing.css", "/nothing/here/"} {
				resp, body := hcGet(t, c, s.url(p))
				wantStatus(t, resp, body, 404)
				if bytes.Contains(body, []byte(d.dir)) || bytes.Contains(body, []byte(filepath.Dir(d.dir))) {
					t.Errorf("404 for %s leaks the path: %q", p, body)
				}
			}
		})

		t.Run("path-traversal", func(t *testing.T) {
			targets := []string{
				"/../secret.txt",
				"/../../../../../../etc/passwd",
				"/%2e%2e/secret.txt",
				"/%2E%2E/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
				"/..%2fsecret.txt",
				"/%2e%2e%2fsecret.txt",
				"/sub/../../secret.txt",
				"/sub/%2e%2e/%2e%2e/secret.txt",
				"/..%5csecret.txt",
				"/%5c..%5csecret.txt",
				"/sub%5c..%5c..%5csecret.txt",
				"/..\\secret.txt",
				"/sub\\..\\..\\secret.txt",
				"/.%2e/secret.txt",
				"/%252e%252e/secret.txt",
				"//etc/passwd",
				"/sub/..%00/secret.txt",
			}
			for _, target := range targets {
				rc := dialRaw(t, s.addr())
				rc.send(t, "GET "+target+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
				_ = rc.SetReadDeadline(time.Now().Add(ioTimeout))
				raw, err := io.ReadAll(rc.br)
				if isTimeout(err) {
					t.Errorf("GET %s: no answer and no close: %q", target, abbrev(raw))
					continue
				}
				if bytes.Contains(raw, []byte(secretMarker)) || bytes.Contains(raw, []byte("root:x:0:0")) {
					t.Errorf("GET %s returned a file outside document_root:\n%s", target, abbrev(raw))
					continue
				}
				status, _, _ := strings.Cut(string(raw), "\r\n")
				if strings.HasPrefix(status, "HTTP/1.1 200") {
					t.Errorf("GET %s: %q (want an error status)", target, abbrev(raw))
				}
				t.Logf("GET %s -> %q", target, status)
			}
			// Normalised paths that stay inside the root are fine.
			resp, body := hcGet(t, c, s.url("/sub/../readme.txt"))
			if resp.StatusCode == 200 && !bytes.Equal(body, d.files["readme.txt"]) {
				t.Errorf("/sub/../readme.txt: %q", body)
			}
		})
	})
}

// ---- limits ----

// TestHTTPLimits: a malformed request gets 400, too large headers 431, a
// body over package_max_length 413; each is answered, then that connection
// is closed; other connections are served throughout.
func TestHTTPLimits(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		s, _ := startHTTP(t, lang, nil)
		other := dialRaw(t, s.addr())
		ping := func(t *testing.T, id string) {
			t.Helper()
			other.send(t, "GET /fast?id="+id+" HTTP/1.1\r\nHost: x\r\n\r\n")
			if resp, body := other.readResponse(t, "GET"); string(body) != "fast "+id {
				t.Fatalf("the other connection: %q %q", resp.Status, body)
			}
		}
		ping(t, "first")

		// expectError sends req on a new connection and expects the status,
		// then the connection closed.
		expectError := func(t *testing.T, what, req string, code int) {
			t.Helper()
			rc := dialRaw(t, s.addr())
			rc.send(t, req)
			resp, body, err := rc.readResponseErr("GET")
			if err != nil {
				t.Fatalf("%s: want a %d response, got %v", what, code, err)
			}
			if resp.StatusCode != code {
				t.Fatalf("%s: status %q, want %d (body %q)", what, resp.Status, code, abbrev(body))
			}
			rest := rc.expectEnd(t)
			if len(rest) > 0 {
				t.Errorf("%s: after the %d response: %q", what, code, abbrev(rest))
			}
		}

		t.Run("malformed-400", func(t *testing.T) {
			for _, tc := range []struct{ what, req string }{
				{"garbage request line", "THIS IS NOT HTTP\r\n\r\n"},
				{"header without colon", "GET / HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n"},
				{"bad version", "GET / HTTP/9.x\r\nHost: x\r\n\r\n"},
				{"bad content-length", "POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"},
				{"space in header name", "GET / HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n"},
				{"space before colon", "GET / HTTP/1.1\r\nHost: x\r\nX-Foo : v\r\n\r\n"},
				{"bad chunk size", "POST /body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"},
			} {
				t.Run(strings.ReplaceAll(tc.what, " ", "-"), func(t *testing.T) {
					expectError(t, tc.what, tc.req, 400)
				})
			}
			// Content-Length and chunked together (request smuggling): RFC
			// 9112 6.1 lets a server reject it, or answer it as chunked and
			// then close the connection.
			t.Run("content-length-and-chunked", func(t *testing.T) {
				rc := dialRaw(t, s.addr())
				rc.send(t, "POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
				resp, body, err := rc.readResponseErr("POST")
				if err != nil {
					t.Fatalf("Content-Length with chunked: %v", err)
				}
				if resp.StatusCode != 400 && (resp.StatusCode != 200 || string(body) != "abc") {
					t.Errorf("Content-Length with chunked: %q %q, want 400, or 200 \"abc\" (chunked wins)", resp.Status, body)
				}
				if rest := rc.expectEnd(t); len(rest) > 0 {
					t.Errorf("Content-Length with chunked: after the response %q", rest)
				}
			})

			// A good request, then garbage on the same connection: the good
			// one is answered first.
			rc := dialRaw(t, s.addr())
			rc.send(t, "GET /fast?id=ok HTTP/1.1\r\nHost: x\r\n\r\n\x00\x01garbage\r\n\r\n")
			if _, body := rc.readResponse(t, "GET"); string(body) != "fast ok" {
				t.Errorf("the request before the garbage: %q", body)
			}
			if resp, _, err := rc.readResponseErr("GET"); err != nil || resp.StatusCode != 400 {
				t.Errorf("the garbage after a good request: %v %v, want 400", resp, err)
			}
			rc.expectEnd(t)
			ping(t, "after-400")
		})

		t.Run("header-too-large-431", func(t *testing.T) {
			big := strings.Repeat("a", 10<<10)
			expectError(t, "one 10 KiB header", "GET /fast HTTP/1.1\r\nHost: x\r\nX-Big: "+big+"\r\n\r\n", 431)
			var many strings.Builder
			for i := range 200 {
				fmt.Fprintf(&many, "X-H%d: %s\r\n", i, strings.Repeat("b", 60))
			}
			expectError(t, "200 headers of 60 bytes", "GET /fast HTTP/1.1\r\nHost: x\r\n"+many.String()+"\r\n", 431)
			// A request line that is too long.
			expectError(t, "10 KiB URL", "GET /fast?q="+big+" HTTP/1.1\r\nHost: x\r\n\r\n", 431)
			ping(t, "after-431")
			// Just under the limit is fine.
			rc := dialRaw(t, s.addr())
			rc.send(t, "GET /fast?id=under HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("c", 6<<10)+"\r\n\r\n")
			if resp, body := rc.readResponse(t, "GET"); resp.StatusCode != 200 || string(body) != "fast under" {
				t.Errorf("a 6 KiB header (limit 8 KiB): %q %q", resp.Status, body)
			}
		})

		t.Run("body-too-large-413", func(t *testing.T) {
			// Announced: answered before the body is sent.
			expectError(t, "Content-Length 300 KiB", "POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 307200\r\n\r\n"+strings.Repeat("x", 1000), 413)
			ping(t, "after-413")
			// Chunked: found out while reading.
			rc := dialRaw(t, s.addr())
			done := make(chan struct{})
			go func() {
				defer close(done)
				var b bytes.Buffer
				b.WriteString("POST /body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
				for range 30 {
					fmt.Fprintf(&b, "%x\r\n%s\r\n", 10<<10, bytes.Repeat([]byte("y"), 10<<10))
				}
				b.WriteString("0\r\n\r\n")
				_ = rc.SetWriteDeadline(time.Now().Add(ioTimeout))
				_, _ = rc.Write(b.Bytes()) // may fail once the server closes
			}()
			resp, body, err := rc.readResponseErr("POST")
			if err != nil {
				t.Fatalf("300 KiB chunked body: want a 413 response, got %v", err)
			}
			if resp.StatusCode != 413 {
				t.Fatalf("300 KiB chunked body: status %q, want 413 (body %q)", resp.Status, abbrev(body))
			}
			rc.expectEnd(t)
			<-done
			// At the limit is fine.
			c := hcClient(t, false)
			payload := randomBytes(256 << 10)
			resp, got := hcDo(t, c, hcRequest(t, "POST", s.url("/body"), bytes.NewReader(payload)))
			wantStatus(t, resp, got, 200)
			if !bytes.Equal(got, payload) {
				t.Errorf("a body of exactly package_max_length came back as %d bytes", len(got))
			}
			ping(t, "after-chunked-413")
		})

		ping(t, "last")
		if s.exited() {
			t.Fatalf("the server exited: %v", s.err)
		}
	})
}

// ---- routes ----

// startRoutes runs the routes helper script: its http server and, on the
// second address, its websocket server.
func startRoutes(t *testing.T, lang string) (s *server, wsAddr string) {
	t.Helper()
	wsPort := strconv.Itoa(freePort(t))
	s = start(t, testScript(lang, "routes"), runOpts{env: map[string]string{"WSPORT": wsPort}})
	return s, net.JoinHostPort("127.0.0.1", wsPort)
}

// jsonBody decodes a JSON response body into a map.
func jsonBody(t *testing.T, resp *http.Response, body []byte) map[string]any {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("%s %s: Content-Type %q, want application/json; charset=utf-8", resp.Request.Method, resp.Request.URL, ct)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("%s %s: not a JSON object: %v: %q", resp.Request.Method, resp.Request.URL, err, abbrev(body))
	}
	return m
}

// wantJSON fails unless the JSON body is want (compared as decoded values).
func wantJSON(t *testing.T, resp *http.Response, body []byte, want string) {
	t.Helper()
	got := jsonBody(t, resp, body)
	var w map[string]any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(w)
	if string(gb) != string(wb) {
		t.Errorf("%s %s: body %s, want %s", resp.Request.Method, resp.Request.URL, gb, wb)
	}
}

// TestHTTPRoutes: srv:route with :params and a trailing *, the precedence
// of literal segments, 405 with Allow, HEAD on GET routes, the request
// handler for what no route takes, req:json() with good and bad bodies,
// res:json() with a status, chained status/header/cookie, an erroring
// route, async (JS) routes, and routes on a websocket server.
func TestHTTPRoutes(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		s, wsAddr := startRoutes(t, lang)
		c := hcClient(t, false)
		get := func(path string) (*http.Response, []byte) { return hcGet(t, c, s.url(path)) }
		post := func(path, body string) (*http.Response, []byte) {
			req := hcRequest(t, "POST", s.url(path), strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			return hcDo(t, c, req)
		}

		t.Run("params", func(t *testing.T) {
			resp, body := get("/users/42")
			wantStatus(t, resp, body, 200)
			wantJSON(t, resp, body, `{"route":"user","id":"42"}`)
			// URL-decoded; an escaped "/" stays inside its segment; "+" is a "+" in a path.
			for path, id := range map[string]string{"/users/caf%C3%A9%20x": "café x", "/users/a%2Fb": "a/b", "/users/a+b": "a+b"} {
				resp, body = get(path)
				wantStatus(t, resp, body, 200)
				if got := jsonBody(t, resp, body)["id"]; got != id {
					t.Errorf("%s: id %q, want %q", path, got, id)
				}
			}
			resp, body = get("/notes/7/tags/go")
			wantStatus(t, resp, body, 200)
			wantJSON(t, resp, body, `{"id":"7","tag":"go"}`)
		})

		t.Run("precedence", func(t *testing.T) {
			// Literal segments beat parameters, which beat "*", whatever
			// the order of declaration.
			for path, want := range map[string]string{
				"/users/new":      `{"route":"new"}`,
				"/files/a.txt":    `{"route":"name","name":"a.txt"}`,
				"/files/a/b%20c/": `{"route":"rest","rest":"a/b c/"}`,
				"/files/":         `{"route":"rest","rest":""}`,
			} {
				resp, body := get(path)
				wantStatus(t, resp, body, 200)
				wantJSON(t, resp, body, want)
			}
		})

		t.Run("fallback-to-request-handler", func(t *testing.T) {
			// No route takes these: the request handler does, with empty params.
			for _, path := range []string{"/nothing", "/files", "/users/", "/users/1/x", "/notes/7/tags"} {
				resp, body := get(path)
				wantStatus(t, resp, body, 404)
				wantField(t, path, string(body), "fallback "+path+" params=0")
			}
			resp, body := get("/")
			wantStatus(t, resp, body, 200)
			wantField(t, "/", string(body), "root")
		})

		t.Run("methods-405", func(t *testing.T) {
			for _, m := range []string{"GET", "POST", "PUT", "PATCH", "OPTIONS"} {
				resp, body := hcDo(t, c, hcRequest(t, m, s.url("/any"), nil))
				wantStatus(t, resp, body, 200)
				wantJSON(t, resp, body, `{"method":"`+m+`"}`)
			}
			resp, body := hcDo(t, c, hcRequest(t, "DELETE", s.url("/users/1"), nil))
			wantStatus(t, resp, body, 204)
			for _, tc := range []struct{ method, path, allow string }{
				{"POST", "/users/1", "DELETE, GET, HEAD"},
				{"PUT", "/users/new", "DELETE, GET, HEAD"},
				{"DELETE", "/notes/1/tags/x", "GET, HEAD"},
				{"POST", "/files/a/b", "GET, HEAD"},
			} {
				resp, body := hcDo(t, c, hcRequest(t, tc.method, s.url(tc.path), strings.NewReader("x")))
				wantStatus(t, resp, body, 405)
				wantField(t, tc.method+" "+tc.path+" Allow", resp.Header.Get("Allow"), tc.allow)
				wantField(t, tc.method+" "+tc.path+" body", string(body), "405 Method Not Allowed\n")
			}
		})

		t.Run("head-on-get-route", func(t *testing.T) {
			rc := dialRaw(t, s.addr())
			rc.send(t, "HEAD /head HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, body := rc.readResponse(t, "HEAD")
			if resp.StatusCode != 200 || len(body) != 0 {
				t.Errorf("HEAD /head: %q with %d body bytes", resp.Status, len(body))
			}
			wantField(t, "X-Head", resp.Header.Get("X-Head"), "yes")
			wantField(t, "Content-Length", resp.Header.Get("Content-Length"), "12")
			// No body bytes went out: the next response on the connection is whole.
			rc.send(t, "GET /head HTTP/1.1\r\nHost: x\r\n\r\n")
			if _, body := rc.readResponse(t, "GET"); string(body) != "body for get" {
				t.Errorf("GET /head after the HEAD: %q", body)
			}
		})

		t.Run("req-json", func(t *testing.T) {
			resp, body := post("/notes", `{"title":"hi","n":3}`)
			wantStatus(t, resp, body, 201)
			wantJSON(t, resp, body, `{"title":"hi","n":3,"id":42}`)
			wantField(t, "X-Id", resp.Header.Get("X-Id"), "42")
			wantField(t, "Set-Cookie", resp.Header.Get("Set-Cookie"), "last=42; Path=/")

			// Numbers, strings, booleans, lists, objects; null is nil in
			// Lua (the key goes), null in JS.
			resp, body = post("/echo", ` {"i": 42, "f": 1.5, "s": "x\u00e9", "b": true, "n": null, "l": [1, 2, {"k": "v"}], "o": {}} `)
			wantStatus(t, resp, body, 200)
			got := jsonBody(t, resp, body)
			if v, ok := got["n"]; ok && v != nil {
				t.Errorf("null came back as %v", v)
			}
			delete(got, "n")
			gb, _ := json.Marshal(got)
			wantField(t, "echo", string(gb), `{"b":true,"f":1.5,"i":42,"l":[1,2,{"k":"v"}],"o":{},"s":"xé"}`)
			if !strings.Contains(string(body), `"i":42,`) {
				t.Errorf("an integral number is not encoded as an integer: %s", body)
			}

			deep := strings.Repeat("[", 150) + strings.Repeat("]", 150)
			for _, tc := range []struct{ body, err string }{
				{"", "bad JSON body: empty body"},
				{"  \n", "bad JSON body: empty body"},
				{"{bad", "bad JSON body: invalid character 'b' looking for beginning of object key string"},
				{`{"a":1} x`, "bad JSON body: trailing data after the JSON value"},
				{`[1,2`, "bad JSON body: unexpected EOF"},
				{deep, "bad JSON body: nested deeper than 100 levels"},
			} {
				resp, body := post("/notes", tc.body)
				wantStatus(t, resp, body, 400)
				wantJSON(t, resp, body, `{"error":`+strconv.Quote(tc.err)+`}`)
			}
			// The handler stopped at req:json(): the client's mistake, not
			// a script error (logged at debug only).
			if strings.Contains(s.stderr.String(), "bad JSON body") {
				t.Errorf("a bad body was logged as a handler error:\n%s", s.stderr.String())
			}
		})

		t.Run("req-json-caught", func(t *testing.T) {
			resp, body := post("/safe", "nope")
			wantStatus(t, resp, body, 400)
			if e, _ := jsonBody(t, resp, body)["error"].(string); !strings.HasPrefix(e, "bad JSON body: invalid character") {
				t.Errorf("error %q", e)
			}
			waitOutput(t, s, "safe caught: ")
			if line := lineWith(s.stdout.String(), "safe caught: "); !strings.Contains(line, "bad JSON body: invalid character 'o' in literal null") {
				t.Errorf("the script caught %q", line)
			}
			waitOutput(t, s, "safe json after the 400: false\n")
			resp, body = post("/safe", `{}`)
			wantStatus(t, resp, body, 200)
			wantJSON(t, resp, body, `{"ok":true}`)
		})

		t.Run("res-json-status", func(t *testing.T) {
			resp, body := get("/created")
			wantStatus(t, resp, body, 201)
			wantJSON(t, resp, body, `{"created":true}`)
			waitOutput(t, s, "created json: true\n")
			// A Content-Type the script set stays.
			resp, body = get("/problem")
			wantStatus(t, resp, body, 422)
			wantField(t, "Content-Type", resp.Header.Get("Content-Type"), "application/problem+json")
			wantField(t, "body", string(body), `{"title":"nope"}`)
			// What JSON cannot hold is misuse: it raises, and the host answers 500.
			resp, body = get("/unencodable")
			wantStatus(t, resp, body, 500)
			waitLog(t, s, "res.json: cannot encode a function", "route GET /unencodable")
		})

		t.Run("chaining", func(t *testing.T) {
			rc := dialRaw(t, s.addr())
			rc.send(t, "GET /chain HTTP/1.1\r\nHost: x\r\n\r\n")
			line, h := rc.readHead(t)
			wantField(t, "status line", line, "HTTP/1.1 202 Accepted Here")
			wantField(t, "X-A", h.Get("X-A"), "1")
			wantField(t, "X-B", h.Get("X-B"), "2")
			wantField(t, "Set-Cookie", h.Get("Set-Cookie"), "c=v")
			wantField(t, "Content-Type", h.Get("Content-Type"), "application/json; charset=utf-8")
			n, _ := strconv.Atoi(h.Get("Content-Length"))
			wantField(t, "body", string(rc.readFull(t, n)), `{"chained":true}`)

			// Once the response is finished they still return res (a
			// warning in the log says what was ignored).
			resp, body := get("/late")
			wantStatus(t, resp, body, 200)
			wantField(t, "/late", string(body), "done")
			kind := map[string]string{"lua": "userdata", "js": "object"}[lang]
			waitOutput(t, s, "late chain: "+kind+" false\n")
			waitLog(t, s, "res.status ignored: response already started")
			waitLog(t, s, "res.header ignored: response already started")
		})

		t.Run("route-error-500", func(t *testing.T) {
			resp, body := get("/error")
			wantStatus(t, resp, body, 500)
			waitLog(t, s, "route boom", "route GET /error")
			resp, body = get("/users/after")
			wantStatus(t, resp, body, 200)
		})

		t.Run("async-routes", func(t *testing.T) {
			if lang != "js" {
				t.Skip("JS only: the Lua routes wait in the suspending style, without promises")
			}
			resp, body := get("/async/9")
			wantStatus(t, resp, body, 200)
			wantJSON(t, resp, body, `{"id":"9"}`)
			resp, body = post("/async-notes", `{"a":1}`)
			wantStatus(t, resp, body, 201)
			wantJSON(t, resp, body, `{"a":1}`)
			resp, body = post("/async-notes", `{"a":`)
			wantStatus(t, resp, body, 400)
			wantJSON(t, resp, body, `{"error":"bad JSON body: unexpected EOF"}`)
			resp, body = get("/async-error")
			wantStatus(t, resp, body, 500)
			waitLog(t, s, "async route boom", "route GET /async-error")
			// The rejection after req.json() answered 400 is not an error
			// (the later one is logged, so this one would be by now).
			if strings.Contains(s.stderr.String(), "bad JSON body: unexpected EOF") {
				t.Errorf("an async bad body was logged as a handler error:\n%s", s.stderr.String())
			}
		})

		t.Run("websocket-server", func(t *testing.T) {
			url := "http://" + wsAddr
			resp, body := hcGet(t, c, url+"/hello/bob")
			wantStatus(t, resp, body, 200)
			wantJSON(t, resp, body, `{"hello":"bob"}`)
			resp, body = hcGet(t, c, url+"/nothing") // no request handler: 404
			wantStatus(t, resp, body, 404)
			wantField(t, "/nothing", string(body), "404 Not Found\n")
			resp, body = hcDo(t, c, hcRequest(t, "POST", url+"/hello/x", nil))
			wantStatus(t, resp, body, 405)
			wantField(t, "Allow", resp.Header.Get("Allow"), "GET, HEAD")
		})

		t.Run("bad-patterns", func(t *testing.T) {
			for _, tc := range []struct{ pattern, msg string }{
				{"users", `starts with "/"`},
				{"/a/*/b", `"*" may only be the last segment`},
				{"/:id/x/:id", "parameter :id appears twice"},
				{"/x/:", "parameter names are letters, digits and _"},
				{"/files/*.txt", `"*" may only be a whole last segment`},
			} {
				line := lineWith(s.stdout.String(), "bad pattern "+tc.pattern+": ")
				if !strings.Contains(line, ": false") || !strings.Contains(line, tc.msg) {
					t.Errorf("pattern %q: %q, want an error with %q", tc.pattern, line, tc.msg)
				}
			}
			if line := lineWith(s.stdout.String(), "bad method: "); !strings.Contains(line, `"GE T" is not an HTTP method`) {
				t.Errorf("bad method: %q", line)
			}
		})
	})
}

// TestHTTPHelloAllocations: the server's Go heap allocations per request
// of the bench's hello handler (tests/bench/http_hello.*;
// go_memstats_mallocs_total around 20,000 keep-alive
// requests, pipelined 100 at a time), as the bench's allocs/op column
// counts them. What is left: the request with its req and res (one
// allocation), and the two script values standing for req and res (Lua:
// a userdata each; JS: a host object each, made with its goja object in
// one allocation, bindings/js/internal/goja). Before req, res and the
// response head were made in one go it was 14 (Lua) and 23 (JS); before
// goja kept its stack between calls and made a host object in one
// allocation (not three), 9 in JS.
func TestHTTPHelloAllocations(t *testing.T) {
	t.Parallel()
	limit := map[string]float64{"lua": 5, "js": 5}
	eachLang(t, func(t *testing.T, lang string) {
		mport := freePort(t)
		// The bench's own hello script, as the bench runs it.
		script := filepath.Join(repoRoot, "tests", "bench", "http_hello."+lang)
		s := start(t, script, runOpts{args: []string{"--metrics", "127.0.0.1:" + strconv.Itoa(mport)}})
		murl := "http://127.0.0.1:" + strconv.Itoa(mport) + "/metrics"
		rc := dialRaw(t, s.addr())
		const batch = 100
		reqs := strings.Repeat("GET / HTTP/1.1\r\nHost: x\r\n\r\n", batch)
		round := func() {
			rc.send(t, reqs)
			for range batch {
				line, h := rc.readHead(t)
				if line != "HTTP/1.1 200 OK" || h.Get("Content-Type") != "text/plain" || h.Get("Content-Length") != "11" {
					t.Fatalf("status line %q, headers %v", line, h)
				}
				if body := rc.readFull(t, 11); string(body) != "hello world" {
					t.Fatalf("body %q", body)
				}
			}
		}
		for range 20 { // warm-up: buffers, the VMs' stacks, the Date header
			round()
		}
		const rounds = 200
		before := mallocsTotal(t, murl)
		for range rounds {
			round()
		}
		per := (mallocsTotal(t, murl) - before) / (rounds * batch)
		t.Logf("%s: %.2f heap allocations per request", lang, per)
		if per > limit[lang] {
			t.Errorf("%s: %.2f heap allocations per hello request, want at most %v", lang, per, limit[lang])
		}
	})
}
