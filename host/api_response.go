package host

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/imscript/imscript/host/internal/wire/httpwire"
	"github.com/imscript/imscript/script"
)

// res, the response object of a request handler: status, header, cookie,
// json, write, send/end, sendfile, redirect. Each runs on the connection's
// worker. status, header and cookie return res, so calls chain
// (res:status(404):json{...}); once the response has started they change
// nothing, and say so in the log (a warning) rather than by their result.

var responseType = &script.Type{Name: "http_response", Transient: true,
	Doc: "The response of a request (status, header and cookie return it, so calls chain)."}

func init() {
	responseType.Define(map[string]script.Method{
		"status":   {Fn: resStatus, Args: "code: integer, reason?: string", Returns: "HttpResponse", Doc: "Sets the status code."},
		"header":   {Fn: resHeader, Args: "name: string, value: string", Returns: "HttpResponse", Doc: "Sets a response header."},
		"cookie":   {Fn: resCookie, Args: "name: string, value?: string, options?: CookieOptions", Returns: "HttpResponse", Doc: "Sets a cookie."},
		"json":     {Fn: resJSON, Args: "value: any, status?: integer", Returns: "boolean, string?", Doc: "Sends value as JSON and finishes the response."},
		"write":    {Fn: resWrite, Args: "chunk: string|bytes", Returns: "boolean, string?", Doc: "Sends a chunk (chunked encoding)."},
		"send":     {Fn: resSend, Args: "body?: string|bytes", Returns: "boolean, string?", Doc: "Sends the body and finishes the response."},
		"end":      {Fn: resSend, Args: "body?: string|bytes", Returns: "boolean, string?", Doc: "send, by Node's name."},
		"sendfile": {Fn: resSendfile, Args: "path: string", Returns: "boolean, string?", Doc: "Sends a file and finishes the response."},
		"redirect": {Fn: resRedirect, Args: "url: string, code?: integer", Returns: "boolean, string?", Doc: "Redirects (302 unless told) and finishes the response."},
	})
}

func resSelf(c script.Call) *response {
	return script.Receiver[*response](c, "response method called without its response object")
}

// chain ends status, header and cookie: it returns res, and logs what
// could not be done.
func (r *response) chain(c script.Call, method, failure string) {
	if failure != "" {
		r.srv.host.log.Warn("res."+method+" ignored: "+failure, "worker", instOf(c).WorkerID(),
			"server", r.srv.addr(), "fd", r.c.id)
	}
	c.ReturnSelf()
}

// statusArg reads argument i, named name, as a status code.
func statusArg(c script.Call, i int, name, what string) int {
	code := c.Int(i, name)
	if code < 100 || code > 999 {
		script.Usagef("%s: code %d is not an HTTP status", what, code)
	}
	return int(code)
}

func resStatus(c script.Call) {
	r := resSelf(c)
	code := statusArg(c, 0, "code", "res.status")
	reason := c.OptStr(1, "reason", "")
	if strings.ContainsAny(reason, "\r\n") {
		script.Usagef("res.status: reason must not contain CR or LF")
	}
	if r.started {
		r.chain(c, "status", "response already started")
		return
	}
	r.status, r.reason, r.statusSet = code, reason, true
	r.chain(c, "status", "")
}

func resHeader(c script.Call) {
	r := resSelf(c)
	name := c.Str(0, "name")
	value := c.Str(1, "value")
	if !httpwire.ValidHeaderName(name) {
		script.Usagef("res.header: %q is not a valid header name", name)
	}
	if strings.ContainsAny(value, "\r\n\x00") {
		script.Usagef("res.header: the value of %s must not contain CR, LF or NUL", name)
	}
	if strings.EqualFold(name, "Content-Length") || strings.EqualFold(name, "Transfer-Encoding") {
		script.Usagef("res.header: %s is set by the server", name)
	}
	if r.started {
		r.chain(c, "header", "response already started")
		return
	}
	r.setHeader(name, value)
	r.chain(c, "header", "")
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
		r.chain(c, "cookie", "response already started")
		return
	}
	r.cookies = append(r.cookies, ck.String())
	r.chain(c, "cookie", "")
}

// resJSON is res:json(value [, status]): value encoded as JSON (as
// imscript.json.encode does) as the whole body, with Content-Type
// application/json (unless the script set one); it finishes the response
// and returns true, or false (Lua: and the reason) as send does, and also
// when a streamed body has already started.
func resJSON(c script.Call) {
	r := resSelf(c)
	v := c.Arg(0)
	code := 0
	if !c.Absent(1) {
		code = statusArg(c, 1, "status", "res.json")
	}
	body, err := encodeJSON(v)
	if err != nil {
		script.Usagef("res.json: %v", err)
	}
	switch {
	case r.finished:
		c.Fail("response already finished")
		return
	case r.started:
		c.Fail("response already started")
		return
	}
	if code != 0 {
		r.status, r.reason = code, ""
	}
	if !r.hasCT {
		r.setHeader("Content-Type", jsonContentType)
	}
	if !r.end(body) {
		c.Fail("connection closed")
		return
	}
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
	if !c.Absent(0) {
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
