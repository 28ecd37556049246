package host

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/imscript/imscript/script"
)

// request is the req object of a request (and WebSocket open) handler.
// Its fields are computed when the script first reads them, so a handler
// that reads nothing costs nothing.
type request struct {
	srv    *Server
	c      *conn
	p      *httpRequest
	res    *response  // the response of a request handler (nil for open)
	params script.Map // the route's parameters (nil: none)
	cache  map[string]script.Value

	json    script.Value // req:json()'s result, once decoded
	jsonErr error
	jsonRan bool
}

var requestType = &script.Type{Name: "http_request", Transient: true,
	Doc: "An HTTP request (and a WebSocket's upgrade request); fields are read-only.",
	Fields: map[string]script.Field{
		"method":      {Type: "string", Doc: `"GET", "POST", ...`},
		"uri":         {Type: "string", Doc: "The request target as sent (path and query)."},
		"path":        {Type: "string", Doc: "The path, decoded."},
		"protocol":    {Type: "string", Doc: `"HTTP/1.1"`},
		"fd":          {Type: "integer", Doc: "The connection."},
		"server_port": {Type: "integer", Doc: "The port of the server that took it."},
		"remote_ip":   {Type: "string?", Doc: "The client's address."},
		"remote_port": {Type: "integer?", Doc: "The client's port."},
		"body":        {Type: "bytes", Doc: "The body."},
		"header":      {Type: "{[string]: string}", Doc: "The headers, by lower-case name."},
		"query":       {Type: "{[string]: string}", Doc: "The query parameters."},
		"cookie":      {Type: "{[string]: string}", Doc: "The cookies."},
		"post":        {Type: "{[string]: string}", Doc: "The urlencoded or multipart form fields."},
		"files":       {Type: "{[string]: UploadedFile}", Doc: "The multipart files."},
		"params":      {Type: "{[string]: string}", Doc: "The route's parameters (/users/:id: params.id)."},
	}}

var requestFields = map[string]func(r *request) script.Value{
	"method":      func(r *request) script.Value { return r.p.Method() },
	"uri":         func(r *request) script.Value { return r.p.Target() },
	"path":        func(r *request) script.Value { return r.p.Path() },
	"protocol":    func(r *request) script.Value { return r.p.Proto() },
	"fd":          func(r *request) script.Value { return r.c.id },
	"server_port": func(r *request) script.Value { return int64(r.srv.Port()) },
	"remote_ip": func(r *request) script.Value {
		if ip, _, ok := r.c.remoteIPPort(); ok {
			return ip
		}
		return nil
	},
	"remote_port": func(r *request) script.Value {
		if _, port, ok := r.c.remoteIPPort(); ok {
			return port
		}
		return nil
	},
	"body": func(r *request) script.Value {
		if r.p.Body == nil {
			return []byte{}
		}
		return r.p.Body
	},
	"header": func(r *request) script.Value {
		h := make(script.Map, r.p.NumFields())
		for i := range r.p.NumFields() {
			name, value := r.p.Field(i)
			name = strings.ToLower(name)
			if prev, ok := h[name]; ok {
				value = prev.(string) + ", " + value
			}
			h[name] = value
		}
		if host := r.p.Host(); host != "" {
			h["host"] = host // an absolute target's, as net/http has it
		}
		return h
	},
	"query": func(r *request) script.Value {
		q := script.Map{}
		vals, _ := url.ParseQuery(r.p.RawQuery())
		for k, vs := range vals {
			if len(vs) > 0 {
				q[k] = vs[0]
			}
		}
		return q
	},
	"cookie": func(r *request) script.Value {
		m := script.Map{}
		hr := http.Request{Header: http.Header{"Cookie": slices.Collect(r.p.Values("Cookie"))}}
		for _, ck := range hr.Cookies() {
			m[ck.Name] = ck.Value
		}
		return m
	},
	"post":  func(r *request) script.Value { return r.form("post") },
	"files": func(r *request) script.Value { return r.form("files") },
	"params": func(r *request) script.Value {
		if r.params == nil {
			return script.Map{}
		}
		return r.params
	},
}

// builtFields make a table each: computed once per request and kept, so
// that req.header is the same table on every read. The other fields are
// read from the request as they are, without a cache (a cache map per
// request was most of what a WebSocket open handler reading req.fd
// allocated).
var builtFields = map[string]bool{"header": true, "query": true, "cookie": true, "post": true, "files": true, "params": true}

func init() {
	requestType.Define(map[string]script.Method{
		"json": {Fn: reqJSON, Returns: "any", Doc: "The body decoded as JSON (a bad body is answered 400)."},
	})
	requestType.Props = map[string]func(o *script.Object) script.Value{}
	for name, get := range requestFields {
		if builtFields[name] {
			requestType.Props[name] = func(o *script.Object) script.Value { return o.Data.(*request).field(name, get) }
		} else {
			requestType.Props[name] = func(o *script.Object) script.Value { return get(o.Data.(*request)) }
		}
	}
}

// field computes a field once per request.
func (r *request) field(name string, get func(*request) script.Value) script.Value {
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

func (r *request) form(which string) script.Value {
	post, files := script.Map{}, script.Map{}
	if len(r.p.Body) > 0 {
		if p, f := parseForm(r.p.Header("Content-Type"), r.p.Body); p != nil {
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

// reqJSON is req:json(): the body decoded as JSON (as imscript.json.decode
// does). A body that is not JSON (an empty one included) is the client's
// fault: the request is answered 400 with {"error": "bad JSON body: ..."}
// (when the response has not started) and the call raises an error with
// that message, so the handler stops there unless it catches it.
func reqJSON(c script.Call) {
	r := script.Receiver[*request](c, "request method called without its request object (use req:json() in Lua)")
	if !r.jsonRan {
		r.jsonRan = true
		r.json, r.jsonErr = decodeJSONBody(r.p.Body)
	}
	if r.jsonErr != nil {
		msg := "bad JSON body: " + r.jsonErr.Error()
		if res := r.res; res != nil && !res.started {
			res.status, res.reason = http.StatusBadRequest, ""
			res.setHeader("Content-Type", jsonContentType)
			body, _ := json.Marshal(map[string]string{"error": msg})
			res.end(body)
			// The client has its answer: the handler stopping here is
			// not a script error (worker.callErr logs it at debug).
			instOf(c).worker.answered = msg
			res.refused = msg
		}
		script.Usagef("%s", msg)
	}
	c.Return(r.json)
}

// requestObject is the req a handler gets.
func (s *Server) requestObject(c *conn, p *httpRequest) *script.Object {
	return &script.Object{Type: requestType, Data: &request{srv: s, c: c, p: p}}
}

// parseForm reads urlencoded and multipart bodies.
func parseForm(contentType string, body []byte) (post, files script.Map) {
	ct, params, err := mime.ParseMediaType(contentType)
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
