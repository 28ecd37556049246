// Package http is imscript.http: outbound HTTP requests from scripts, on
// net/http (timeouts, redirects, TLS, connection reuse). A request runs on
// its own goroutine and its result comes back on the calling worker: Lua
// gets a callback fn(result, err), JS a Promise.
package http

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/imscript/imscript/script"
	"github.com/imscript/imscript/stdlib/internal/opts"
)

const (
	defaultTimeout   = 30 * time.Second
	defaultRedirects = 10
	defaultMaxBody   = 16 << 20
)

// Module builds imscript.http for one instance.
func Module(script.Instance) script.Value { return script.Funcs(API.Funcs) }

// API describes imscript.http for editors.
var API = &script.API{
	Doc: "HTTP requests.",
	Funcs: map[string]script.Method{
		"request": {Fn: request, Args: "options: HttpRequestOptions", Returns: "async HttpResult", Doc: "Makes an HTTP request."},
	},
	Records: []script.Record{
		{Name: "HttpRequestOptions", Doc: "imscript.http.request's options.", Fields: map[string]script.Field{
			"url":            {Type: "string", Doc: "The URL (http or https)."},
			"method?":        {Type: "string", Doc: "GET unless told."},
			"headers?":       {Type: "{[string]: string}", Doc: "Request headers."},
			"body?":          {Type: "string|bytes", Doc: "The body."},
			"timeout?":       {Type: "number", Doc: "Seconds for the whole request."},
			"redirects?":     {Type: "integer", Doc: "Redirects followed."},
			"max_body_size?": {Type: "integer", Doc: "The largest response body accepted."},
			"ca_file?":       {Type: "string", Doc: "CA certificates (PEM) to trust."},
			"insecure?":      {Type: "boolean", Doc: "Skip certificate checks."},
		}},
		{Name: "HttpResult", Doc: "An HTTP response.", Fields: map[string]script.Field{
			"status":  {Type: "integer", Doc: "The status code."},
			"headers": {Type: "{[string]: string}", Doc: "The headers, by lower-case name."},
			"body":    {Type: "bytes", Doc: "The body."},
			"url":     {Type: "string", Doc: "The final URL (after redirects)."},
		}},
	},
}

// request is imscript.http.request{ method, url, headers, body, timeout,
// redirects, max_body_size, ca_file, insecure, cancel } [, fn(result, err)].
// cancel, a function, is called (on the worker, as the next event) with a
// function that cancels the request: it then fails with "canceled" (what
// fetch's AbortSignal uses).
func request(c script.Call) {
	inst := c.Instance()
	m := c.Table(0, "options")
	o := opts.New("http.request", m,
		"method", "url", "headers", "body", "timeout", "redirects", "max_body_size", "ca_file", "insecure", "cancel")
	var onCancel script.Callback
	if v := m["cancel"]; v != nil {
		cb, ok := v.(script.Callback)
		if !ok {
			script.Usagef("http.request: option cancel: a function expected, got %s", script.TypeName(v))
		}
		onCancel = cb
	}
	method := strings.ToUpper(o.Str("method", "GET"))
	rawURL := o.Need("url")
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		script.Usagef("http.request: option url: %q is not an http:// or https:// URL", rawURL)
	}
	headers := o.Headers("headers")
	body := o.Bytes("body")
	timeout := o.Seconds("timeout", defaultTimeout)
	redirects := int(o.Int("redirects", defaultRedirects, 0, 100))
	maxBody := o.Int("max_body_size", defaultMaxBody, 0, 1<<31)
	tlsCfg, tlsErr := o.TLS(inst.ScriptDir(), "")

	settle := c.Async(1)
	if tlsErr != nil {
		settle(nil, fmt.Errorf("http.request: %w", tlsErr))
		return
	}
	tr := transport(inst, o.Str("ca_file", ""), o.Bool("insecure", false), tlsCfg)
	parent := inst.Context() // a reload (once the old version has drained) cancels it
	ctx, cancel := context.WithCancel(parent)
	if onCancel != nil {
		stop := script.Function(func(script.Call) { cancel() })
		inst.Post(func() { inst.Call("http.request cancel", onCancel, stop) })
	}
	go func() {
		defer cancel()
		res, err := do(ctx, tr, method, u, headers, body, timeout, redirects, maxBody)
		if err != nil && parent.Err() == nil && errors.Is(ctx.Err(), context.Canceled) {
			err = fmt.Errorf("%s %s: canceled", method, u.Redacted())
		}
		settle(res, err)
	}()
}

// do performs one request and reads the whole response.
func do(ctx context.Context, tr *http.Transport, method string, u *url.URL, headers map[string][]string, body []byte,
	timeout time.Duration, redirects int, maxBody int64) (script.Value, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, u.Redacted(), err)
	}
	for k, vs := range headers {
		if strings.EqualFold(k, "host") && len(vs) > 0 {
			req.Host = vs[0]
			continue
		}
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "imscript/"+script.Version)
	}
	cl := &http.Client{
		Transport: tr,
		CheckRedirect: func(_ *http.Request, via []*http.Request) error {
			if redirects == 0 {
				return http.ErrUseLastResponse
			}
			if len(via) > redirects {
				return fmt.Errorf("stopped after %d redirects", redirects)
			}
			return nil
		},
	}
	resp, err := cl.Do(req)
	if err != nil {
		return nil, describe(method, u, timeout, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, describe(method, u, timeout, err)
	}
	if int64(len(data)) > maxBody {
		return nil, fmt.Errorf("%s %s: response body larger than max_body_size (%d bytes)", method, u.Redacted(), maxBody)
	}
	hdr := make(script.Map, len(resp.Header))
	for k, vs := range resp.Header {
		hdr[strings.ToLower(k)] = strings.Join(vs, ", ")
	}
	return script.Map{
		"status":  int64(resp.StatusCode),
		"headers": hdr,
		"body":    data,
		"url":     resp.Request.URL.String(),
	}, nil
}

// describe words a failed request: the method and URL, then what went
// wrong, without Go's quoting.
func describe(method string, u *url.URL, timeout time.Duration, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s %s: timed out after %v", method, u.Redacted(), timeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%s %s: timed out after %v", method, u.Redacted(), timeout)
	}
	return fmt.Errorf("%s %s: %v", method, u.Redacted(), err)
}

// transports are kept host-wide (and across reloads), one per TLS setup,
// so connections to a server are reused.
type transports struct {
	mu sync.Mutex
	m  map[string]*http.Transport
}

func transport(h script.Instance, caFile string, insecure bool, cfg *tls.Config) *http.Transport {
	ts := h.Shared("stdlib/http.transports", func() any {
		return &transports{m: map[string]*http.Transport{}}
	}).(*transports)
	key := fmt.Sprintf("%s|%v", caFile, insecure)
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if tr := ts.m[key]; tr != nil {
		return tr
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg
	tr.MaxIdleConnsPerHost = 16
	ts.m[key] = tr
	return tr
}
