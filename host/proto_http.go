package host

import (
	"errors"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/imscript/imscript/host/internal/wire/httpwire"
	"github.com/imscript/imscript/script"
)

// The http and websocket server types: HTTP/1.1 requests parsed on the
// event loop (host/internal/wire/httpwire), keep-alive and pipelining with
// responses in request order, Expect: 100-continue; a websocket server is
// an http server whose connections may upgrade (proto_ws.go).

func init() {
	httpEvents := append([]int{hConnect, hClose, hRequest}, commonEvents...)
	registerProtocol(&protocol{
		name:    "http",
		events:  httpEvents,
		tls:     true,
		http:    true,
		alpn:    []string{"http/1.1"},
		newConn: func(*Server, *conn) *httpConn { return &httpConn{} },
	})
	registerProtocol(&protocol{
		name:    "websocket",
		events:  append(httpEvents, hHandshake, hOpen, hMessage),
		tls:     true,
		http:    true,
		alpn:    []string{"http/1.1"},
		newConn: func(*Server, *conn) *httpConn { return &httpConn{upgrades: true} },
	})
}

// httpConn is an HTTP connection's protocol state.
type httpConn struct {
	upgrades bool // a websocket server's connection: Upgrade: websocket is taken

	// Request parsing: the transport goroutine only.
	seq          uint64         // requests parsed so far
	sentContinue bool           // 100 Continue answered for the request being read
	closing      bool           // a request asked to close: parse nothing after it
	next         *httpRequest   // the request being parsed (reused until complete)
	arena        httpwire.Arena // the heads of requests, owned (they outlive the read buffer)

	// ws is set on the transport goroutine at an upgrade, before the open
	// unit is posted; from then on the connection carries frames.
	ws atomic.Pointer[wsConn]

	// Response ordering: the worker only. A pipelined request's response
	// waits (buffered) until the responses before it are finished.
	queue []*response
}

// httpRequest is one complete request on its way to the worker. Its head
// was copied out of the connection's read buffer (Own) before the buffer
// moved on, so the worker reads it while the loop reads the next.
type httpRequest struct {
	httpwire.Request
	seq uint64

	// The req and res a request handler gets, allocated with the request
	// (run): one allocation per request on this path, not five.
	req    request
	res    response
	reqObj script.Object
	resObj script.Object
}

// input parses requests; after an upgrade it hands the rest to the
// WebSocket protocol.
func (h *httpConn) input(c *conn, in inbound) {
	if ws := h.ws.Load(); ws != nil {
		ws.input(c, in)
		return
	}
	s := c.srv
	st := s.settings()
	for !c.bad {
		if h.closing {
			_, _ = in.Discard(in.InboundBuffered())
			return
		}
		buf, _ := in.Peek(-1)
		if len(buf) == 0 {
			return
		}
		if h.next == nil {
			h.next = &httpRequest{}
		}
		p := &h.next.Request
		n, err := p.Parse(buf, st.HTTPMaxHeaderSize, st.PackageMaxLength)
		if err != nil {
			var he *httpwire.Error
			if !errors.As(err, &he) {
				he = &httpwire.Error{Status: http.StatusBadRequest, Err: err}
			}
			h.refuse(c, he)
			return
		}
		if n == 0 {
			// Incomplete: answer Expect: 100-continue once the head is in.
			if p.HeadComplete() && !h.sentContinue && httpwire.ExpectsContinue(p) {
				h.sentContinue = true
				c.Send([]byte("HTTP/1.1 100 Continue\r\n\r\n"))
			}
			return
		}
		p.Own(&h.arena) // before Discard: buf is the transport's
		_, _ = in.Discard(n)
		h.sentContinue = false
		h.seq++
		req := h.next
		h.next = nil
		req.seq = h.seq
		s.requestNum.Add(1)
		s.bytesIn.Add(int64(n))
		if h.upgrades && p.HasToken("Upgrade", "websocket") {
			hs, herr := wsAccept(st, p)
			if herr != nil {
				h.refuse(c, herr)
				return
			}
			ws := newWSConn(hs, st)
			h.ws.Store(ws)
			c.post(&wsOpen{req: req, hs: hs}, nil)
			ws.input(c, in) // what follows are frames
			return
		}
		if !p.KeepAlive {
			h.closing = true
		}
		c.post(req, nil)
	}
}

// refuse answers a refused request through the worker (after the
// responses of the requests before it) and closes the connection.
func (h *httpConn) refuse(c *conn, he *httpwire.Error) {
	c.srv.host.log.Warn("bad http request, closing connection", "server", c.srv.addr(), "fd", c.id,
		"remote", addrString(c.remoteAddr()), "status", he.Status, "err", he.Err)
	c.bad = true
	c.post(httpRefusal{status: he.Status}, nil)
}

// push sends a hub message once the connection is a WebSocket.
func (h *httpConn) push(c *conn, m *message) bool {
	if ws := h.ws.Load(); ws != nil {
		return ws.push(c, m)
	}
	return false
}

// gone forgets the responses the closed connection was owed.
func (h *httpConn) gone(*conn) {
	for _, r := range h.queue {
		r.done()
	}
}

// httpOf is c's HTTP state (nil on other servers).
func httpOf(c *conn) *httpConn { return c.http }

// run answers one request: a static file, else the route that takes it
// (api_server_route.go), else the request handler, else 404 (405 when routes
// match the path for other methods only). A handler error before the
// response started answers 500; so does an async (JS) handler whose
// promise rejects later.
func (p *httpRequest) run(w *worker, ev *event) {
	s, c := ev.srv, ev.conn
	res := &p.res
	initResponse(res, &p.resObj, s, c, p)
	if s.serveStatic(res, &p.Request) {
		return
	}
	inst := w.inst
	inst.owe(res)
	req := &p.req
	*req = request{srv: s, c: c, p: p, res: res}
	p.reqObj = script.Object{Type: requestType, Data: req}
	st := w.cur
	prev := st.res
	st.res = res
	ran, _, v, err := p.dispatch(w, inst, req)
	st.res = prev
	if !ran {
		return
	}
	if pend, ok := v.(script.Pending); ok && err == nil {
		// fireValue reported a rejection; the response is owed still.
		pend.Then(func(_ script.Value, err error) {
			if err != nil {
				res.fail(http.StatusInternalServerError)
			}
		})
		return
	}
	if err != nil {
		res.fail(http.StatusInternalServerError)
	}
}

// dispatch calls the handler that takes the request: its route, else the
// request handler. what names it in the log. When no handler ran, dispatch
// has answered: 405 (with Allow) when routes match the path for other
// methods, else 404.
func (p *httpRequest) dispatch(w *worker, inst *instance, req *request) (ran bool, what string, v script.Value, err error) {
	s, res := req.srv, req.res
	reqObj := &p.reqObj
	if rt := routerOf(inst, s); rt != nil {
		r, params, allow := rt.match(p.Method(), p.EscapedPath())
		switch {
		case r != nil:
			req.params = params
			v, err = w.callHandler(inst, r.fn, hRequest, r.what, reqObj, res.obj)
			return true, r.what, v, err
		case len(allow) > 0:
			res.setHeader("Allow", strings.Join(allow, ", "))
			res.fail(http.StatusMethodNotAllowed)
			return false, "", nil, nil
		}
	}
	ran, v, err = w.fireValue(s, hRequest, reqObj, res.obj)
	if !ran {
		res.fail(http.StatusNotFound)
	}
	return ran, handlerNames[hRequest], v, err
}

// httpRefusal answers a request the parser refused, in its turn.
type httpRefusal struct{ status int }

func (r httpRefusal) run(_ *worker, ev *event) {
	newResponse(ev.srv, ev.conn, nil).fail(r.status)
}
