package host

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/imscript/imscript/host/internal/wire/httpwire"
	"github.com/imscript/imscript/host/internal/wire/wsframe"
	"github.com/imscript/imscript/script"
)

// WebSocket (RFC 6455) on a websocket server's connections: the upgrade
// request is parsed as HTTP (proto_http.go), then frames are parsed from the
// connection's buffer (host/internal/wire/wsframe); control frames are
// answered on the loop, whole messages go to the worker.

// wsHandshake is an accepted upgrade: what the 101 response says.
type wsHandshake struct {
	accept   string
	protocol string
	deflate  bool
}

// response is the 101, with the headers and cookies res holds (a
// handshake handler's) after the server's own; those the handshake itself
// owns are left out, with a warning.
func (hs *wsHandshake) response(h *Host, res *response) []byte {
	b := wsframe.HandshakeResponse(hs.accept, hs.protocol, hs.deflate)
	if len(res.hdr) == 0 && len(res.cookies) == 0 {
		return b
	}
	b = b[:len(b)-2] // before the blank line
	for i := 0; i+1 < len(res.hdr); i += 2 {
		name := res.hdr[i]
		if wsOwnHeader(name) {
			h.log.Warn("res.header ignored in an accepted websocket handshake: the server sets "+name,
				"server", res.srv.addr(), "fd", res.c.id)
			continue
		}
		b = append(b, name...)
		b = append(b, ": "...)
		b = append(b, res.hdr[i+1]...)
		b = append(b, "\r\n"...)
	}
	for _, ck := range res.cookies {
		b = append(b, "Set-Cookie: "...)
		b = append(b, ck...)
		b = append(b, "\r\n"...)
	}
	return append(b, "\r\n"...)
}

// wsOwnHeader says whether a header belongs to the 101 itself.
func wsOwnHeader(name string) bool {
	for _, h := range []string{"Upgrade", "Connection", "Sec-WebSocket-Accept", "Sec-WebSocket-Protocol", "Sec-WebSocket-Extensions"} {
		if strings.EqualFold(name, h) {
			return true
		}
	}
	return false
}

// wsAccept validates an upgrade request against the server's settings.
func wsAccept(st *settings, r *httpwire.Request) (*wsHandshake, *httpwire.Error) {
	refuse := func(status int, err error) (*wsHandshake, *httpwire.Error) {
		return nil, &httpwire.Error{Status: status, Err: err}
	}
	if r.Method() != http.MethodGet {
		return refuse(400, errors.New("websocket upgrade must be a GET"))
	}
	if !r.ProtoAtLeast(1, 1) || !r.HasToken("Connection", "upgrade") {
		return refuse(400, errors.New("websocket upgrade without Connection: upgrade"))
	}
	if v := r.Header("Sec-WebSocket-Version"); v != "13" {
		return refuse(426, fmt.Errorf("websocket version %q not supported (13)", v))
	}
	key := r.Header("Sec-WebSocket-Key")
	if !wsframe.ValidKey(key) {
		return refuse(400, errors.New("bad Sec-WebSocket-Key"))
	}
	if len(st.WebsocketOrigins) > 0 {
		origin := r.Header("Origin")
		ok := false
		for _, o := range st.WebsocketOrigins {
			if strings.EqualFold(o, origin) {
				ok = true
			}
		}
		if !ok {
			return refuse(403, fmt.Errorf("origin %q not allowed", origin))
		}
	}
	hs := &wsHandshake{accept: wsframe.AcceptKey(key)}
	if len(st.WebsocketSubprotocols) > 0 {
	pick:
		for v := range r.Values("Sec-WebSocket-Protocol") {
			for _, offered := range strings.Split(v, ",") {
				offered = strings.TrimSpace(offered)
				for _, p := range st.WebsocketSubprotocols {
					if p == offered {
						hs.protocol = p
						break pick
					}
				}
			}
		}
	}
	if st.WebsocketCompression {
		hs.deflate = wsframe.OffersDeflate(slices.Collect(r.Values("Sec-WebSocket-Extensions")))
	}
	return hs, nil
}

// wsConn is a connection's WebSocket state after its upgrade request.
type wsConn struct {
	reader  wsframe.Reader // the transport goroutine only
	deflate bool           // permessage-deflate, fixed at the handshake

	open      atomic.Bool // the 101 went out (worker): isEstablished, push
	refused   atomic.Bool // the handshake handler refused it (worker): input is dropped
	closeSent atomic.Bool // a close frame went out (from the loop or a worker)
}

func newWSConn(hs *wsHandshake, st *settings) *wsConn {
	return &wsConn{reader: wsframe.Reader{Deflate: hs.deflate, Max: st.PackageMaxLength}, deflate: hs.deflate}
}

// wsOf is c's WebSocket state, nil before an upgrade or on other servers.
func wsOf(c *conn) *wsConn {
	if h := httpOf(c); h != nil {
		return h.ws.Load()
	}
	return nil
}

// input parses frames: pings are answered here, a close is answered and
// closes, messages go to the worker.
func (ws *wsConn) input(c *conn, in inbound) {
	s := c.srv
	if ws.refused.Load() {
		_, _ = in.Discard(in.InboundBuffered())
		return
	}
	ws.reader.Max = s.settings().PackageMaxLength
	for !c.bad {
		buf, _ := in.Peek(-1)
		f, n, err := ws.reader.Next(buf)
		if n > 0 {
			_, _ = in.Discard(n)
			s.bytesIn.Add(int64(n))
		}
		if err != nil {
			var pe *wsframe.ProtocolError
			if errors.As(err, &pe) {
				ws.fail(c, pe.Code, pe.Reason)
			} else {
				ws.fail(c, wsframe.CloseProtocolError, err.Error())
			}
			return
		}
		if n == 0 {
			return
		}
		switch f.Kind {
		case wsframe.Ping:
			// A client waits for the 101 before it sends (RFC 6455 4.1):
			// a pong must not go out ahead of it (or of a refusal).
			// A ping read before the worker marked the connection open
			// (the 101 may be out already: clients ping at once) is
			// answered by the worker after the handshake's event.
			if ws.open.Load() {
				c.Send(wsframe.Encode(wsframe.OpPong, f.Data, false))
			} else {
				c.post(&earlyPing{data: append([]byte(nil), f.Data...)}, nil)
			}
		case wsframe.Close:
			if !ws.open.Load() {
				c.bad = true
				c.Close() // no close frame ahead of the handshake's answer
				return
			}
			ws.closeReceived(c, f.Data)
			return
		case wsframe.Message:
			s.requestNum.Add(1)
			c.post(wsMessage(f.Op), f.Data)
		}
	}
}

// closeReceived answers a close frame and closes the connection.
func (ws *wsConn) closeReceived(c *conn, payload []byte) {
	c.bad = true // nothing after a close frame counts
	code, perr := wsframe.ParseClose(payload)
	if perr != nil {
		ws.fail(c, perr.Code, perr.Reason)
		return
	}
	if !ws.closeSent.Swap(true) {
		var body []byte
		if code != wsframe.CloseNoStatus {
			body = wsframe.CloseBody(code, "")
		}
		c.Send(wsframe.Encode(wsframe.OpClose, body, false))
	}
	c.Close()
}

// fail closes a connection for a protocol error with the right code.
func (ws *wsConn) fail(c *conn, code int, reason string) {
	c.srv.host.log.Warn("websocket protocol error, closing connection", "server", c.srv.addr(), "fd", c.id,
		"remote", addrString(c.remoteAddr()), "code", code, "err", reason)
	c.bad = true
	if !ws.closeSent.Swap(true) {
		c.Send(wsframe.Encode(wsframe.OpClose, wsframe.CloseBody(code, reason), false))
	}
	c.Close()
}

// The message slots (hub_message.go) of WebSocket frames.
const (
	encWSPlain = iota
	encWSDeflate
)

// push sends a hub message as a text (or binary) frame, once open.
func (ws *wsConn) push(c *conn, m *message) bool {
	if !ws.open.Load() {
		return false
	}
	ok, _ := c.Send(ws.frameFor(m))
	return ok
}

// frameFor is m as a frame for this connection: plain, or compressed when
// the connection negotiated permessage-deflate (made once per message,
// however many connections take it).
func (ws *wsConn) frameFor(m *message) []byte {
	op := wsframe.OpText
	if m.binary {
		op = wsframe.OpBinary
	}
	if ws.deflate && len(m.data) >= wsframe.MinCompress {
		if m.enc[encWSDeflate] == nil {
			if z, err := wsframe.Deflate(m.data); err == nil && len(z) < len(m.data) {
				m.enc[encWSDeflate] = wsframe.Encode(op, z, true)
			} else {
				m.enc[encWSDeflate] = wsPlain(m, op) // incompressible: as it is
			}
		}
		return m.enc[encWSDeflate]
	}
	return wsPlain(m, op)
}

func wsPlain(m *message, op wsframe.Op) []byte {
	if m.enc[encWSPlain] == nil {
		m.enc[encWSPlain] = wsframe.Encode(op, m.data, false)
	}
	return m.enc[encWSPlain]
}

// push sends one WebSocket message to connection fd of this server, from
// a handler on worker w: the frame's header and payload go into the
// connection's output queue at once (compressed, it is made first).
func (s *Server) push(w *worker, fd int64, data []byte, binary bool) (bool, string) {
	c, ws, why := s.openWS(fd)
	if ws == nil {
		return false, why
	}
	if ws.deflate && len(data) >= wsframe.MinCompress {
		return c.Send(ws.frameFor(&message{data: data, binary: binary}))
	}
	op := wsframe.OpText
	if binary {
		op = wsframe.OpBinary
	}
	var h [wsframe.MaxHeaderLen]byte
	return c.sendFrom(w, wsframe.AppendHeader(h[:0], op, len(data), false), data)
}

// openWS finds connection fd of this server as an open WebSocket, or says
// why it is not one.
func (s *Server) openWS(fd int64) (*conn, *wsConn, string) {
	c := s.conn(fd)
	if c == nil {
		return nil, nil, "no such connection"
	}
	ws := wsOf(c)
	if ws == nil || !ws.open.Load() {
		return nil, nil, "not a websocket connection"
	}
	return c, ws, ""
}

// wsCloseWait is how long a connection waits for the peer's answer to a
// close frame the server sent before it closes all the same.
const wsCloseWait = 3 * time.Second

// disconnect sends a close frame and closes the connection once the peer
// answers (or after wsCloseWait).
func (s *Server) disconnect(fd int64, code int, reason string) (bool, string) {
	c, ws, why := s.openWS(fd)
	if ws == nil {
		return false, why
	}
	return ws.sendClose(c, code, reason)
}

// sendClose starts the closing handshake from the server's side.
func (ws *wsConn) sendClose(c *conn, code int, reason string) (bool, string) {
	// Mark the close as sent first: the peer's answer may arrive before
	// Send returns, and must not be answered with a second close frame.
	if ws.closeSent.Swap(true) {
		return false, "already closing"
	}
	if ok, why := c.Send(wsframe.Encode(wsframe.OpClose, wsframe.CloseBody(code, reason), false)); !ok {
		return false, why
	}
	time.AfterFunc(wsCloseWait, func() { c.Close() })
	return true, ""
}

// goingAway starts the closing handshake (1001, going away) on every open
// WebSocket connection of the server: the host is stopping. It returns the
// connections that are closing.
func (s *Server) goingAway() []*conn {
	// A handshake completing now, its 101 sent but not yet marked open,
	// sees the flag and says going away itself (wsOpen.accept).
	s.wsGoingAway.Store(true)
	var closing []*conn
	s.host.conns.each(func(c *conn) {
		if c.srv != s {
			return
		}
		if ws := wsOf(c); ws != nil && ws.open.Load() && c.Open() {
			if ok, _ := ws.sendClose(c, wsframe.CloseGoingAway, "server shutting down"); ok {
				closing = append(closing, c)
			}
		}
	})
	return closing
}

// wsOpen completes a handshake on the worker: the handshake handler, when
// the script has one, says whether the upgrade happens; then the 101 goes
// out and open fires.
type wsOpen struct {
	req *httpRequest
	hs  *wsHandshake
}

func (o *wsOpen) run(w *worker, ev *event) {
	s, c := ev.srv, ev.conn
	res := newResponse(s, c, o.req)
	if inst := w.inst; inst != nil {
		if hs := inst.handlers[s]; hs != nil && hs[hHandshake] != nil {
			o.handshake(w, inst, hs[hHandshake], s, c, res)
			return
		}
	}
	o.accept(w, s, c, res)
}

// handshake runs the script's handshake(req, res) before the upgrade. It
// may suspend (Lua) or return a promise (JS): the connection's later
// events (frames a client sent too early, its close) wait for the verdict
// whatever the server's ordered setting says, since nothing may run on a
// connection the script has not accepted.
func (o *wsOpen) handshake(w *worker, inst *instance, fn script.Callback, s *Server, c *conn, res *response) {
	// The connection carries frames from here on (the loop parses them
	// already): a refusal's answer closes it.
	res.keepAlive = false
	inst.owe(res)
	st := w.cur
	took := !st.held
	if took {
		// While it runs (and while a Lua handler is suspended in it).
		st.held = true
		c.waits++
	}
	prev := st.res
	st.res = res
	req := &script.Object{Type: requestType, Data: &request{srv: s, c: c, p: o.req, res: res}}
	v, err := w.callErr(inst, fn, hHandshake, handlerNames[hHandshake], req, res.obj)
	st.res = prev
	pend, pending := v.(script.Pending)
	pending = pending && err == nil
	if pending {
		w.holdPromise(inst, pend, hHandshake, handlerNames[hHandshake], c, func(v script.Value, err error) {
			// In the promise job: the verdict runs as c's next event,
			// before the events it held.
			w.holdFirst(c, event{u: &wsVerdict{open: o, res: res, v: v, err: err}, srv: s, conn: c})
		})
	}
	if took {
		// From here on open (and its suspending) waits as ordered says;
		// what was held runs after this event.
		st.held = false
		w.unwait(c)
	}
	if !pending {
		o.decide(w, s, c, res, v, err)
	}
}

// wsVerdict is a handshake whose promise settled, as the connection's
// next event.
type wsVerdict struct {
	open *wsOpen
	res  *response
	v    script.Value
	err  error
}

func (u *wsVerdict) run(w *worker, ev *event) { u.open.decide(w, ev.srv, ev.conn, u.res, u.v, u.err) }

// decide upgrades or answers after the handshake handler: an error is a
// 500; returning false refuses (403 unless res:status set another code);
// so does answering (res:send, res:json, ...) or setting a status; else
// the upgrade happens, with the headers and cookies the handler set.
func (o *wsOpen) decide(w *worker, s *Server, c *conn, res *response, v script.Value, err error) {
	refuse := func(status int) {
		if ws := wsOf(c); ws != nil {
			ws.refused.Store(true)
		}
		if status < 200 {
			status = http.StatusForbidden
		}
		res.fail(status) // the script's answer when it gave one
	}
	switch {
	case res.finished: // answered by the script (or abandoned: 503)
		refuse(res.status)
	case err != nil:
		refuse(http.StatusInternalServerError)
	case v == false:
		if res.statusSet {
			refuse(res.status)
		} else {
			refuse(http.StatusForbidden)
		}
	case res.started || res.statusSet:
		refuse(res.status)
	default:
		o.accept(w, s, c, res)
	}
}

// accept sends the 101 (with the headers and cookies a handshake handler
// set) and fires open.
func (o *wsOpen) accept(w *worker, s *Server, c *conn, res *response) {
	res.keepAlive = true
	res.started = true
	if !res.emit(o.hs.response(w.host, res)) {
		return
	}
	res.finish()
	if ws := wsOf(c); ws != nil {
		ws.open.Store(true)
		if s.wsGoingAway.Load() { // the host is stopping and its goingAway may have missed this one
			ws.sendClose(c, wsframe.CloseGoingAway, "server shutting down")
		}
	}
	w.fire(s, hOpen, s.obj, s.requestObject(c, o.req))
}

// wsMessage is a whole message read, its opcode (text or binary); the
// event's data is its payload. A one-byte unit: posting it allocates
// nothing.
type wsMessage wsframe.Op

// run fires message with the frame (api_frame.go): only once the
// connection is open (a frame sent before the 101, on a connection its
// handshake refused, is dropped).
func (u wsMessage) run(w *worker, ev *event) {
	if ws := wsOf(ev.conn); ws == nil || !ws.open.Load() {
		return
	}
	w.fire(ev.srv, hMessage, ev.srv.obj, &newMessageFrame(ev.conn, wsframe.Op(u), ev.data).obj)
}

// earlyPing is a ping read before the connection was marked open: the
// worker answers it after wsOpen (the connection's earlier event) has
// sent the 101, or drops it when the handshake was refused.
type earlyPing struct{ data []byte }

func (p *earlyPing) run(w *worker, ev *event) {
	if ws := wsOf(ev.conn); ws != nil && ws.open.Load() {
		ev.conn.Send(wsframe.Encode(wsframe.OpPong, p.data, false))
	}
}
