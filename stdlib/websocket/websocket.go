// Package websocket is imscript.websocket: WebSocket client connections
// from scripts, on gorilla/websocket. connect returns the client at once;
// its events (open, message, close, error) run on the worker of the script
// instance that made it, in order.
package websocket

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/imscript/imscript/script"
	"github.com/imscript/imscript/stdlib/internal/opts"
)

const (
	defaultTimeout    = 10 * time.Second
	defaultMaxMessage = 2 << 20 // as package_max_length
	defaultMaxOutput  = 2 << 20 // as buffer_output_size
	writeTimeout      = 30 * time.Second
	closeWait         = 5 * time.Second // for the peer's close frame after ours
	closeAbnormal     = 1006
)

// Events, in the order of eventNames.
const (
	evOpen = iota
	evMessage
	evClose
	evError
	numEvents
)

var eventNames = [numEvents]string{"open", "message", "close", "error"}

type state uint8

const (
	connecting state = iota
	open
	closing
	closed
)

var stateNames = [...]string{"connecting", "open", "closing", "closed"}

// Module builds imscript.websocket for one instance.
func Module(script.Instance) script.Value { return script.Funcs(API.Funcs) }

// API describes imscript.websocket for editors.
var API = &script.API{
	Doc: "WebSocket clients.",
	Funcs: map[string]script.Method{
		"connect": {Fn: connect, Args: "options: {url: string, headers?: {[string]: string}, timeout?: number, subprotocols?: string[], compression?: boolean, max_message_size?: integer, buffer_output_size?: integer, ca_file?: string, insecure?: boolean}", Returns: "WebsocketClient", Doc: "Connects to a WebSocket server; the client is returned at once."},
	},
	Types: []*script.Type{clientType},
}

// Client is one imscript.websocket.connect client. The script-facing fields
// are touched only by the worker; the connection's goroutines (dial, read,
// write) report back through Instance.Post.
type Client struct {
	inst    script.Instance
	release func() // Own: the instance aborts the client when it closes first
	obj     *script.Object
	url     string

	on       [numEvents]script.Callback
	st       state
	protocol string
	conn     *conn // set when open
	cancel   context.CancelFunc

	// dead is set when the instance closes; a dial that completes after
	// it closes its connection at once.
	mu   sync.Mutex
	dead bool
	ws   *websocket.Conn
}

var clientType = &script.Type{
	Name: "websocket.client",
	Doc:  "A WebSocket client made with imscript.websocket.connect.",
	Fields: map[string]script.Field{
		"url":      {Type: "string", Doc: "The URL."},
		"protocol": {Type: "string", Doc: "The subprotocol the server chose."},
		"state":    {Type: `"connecting"|"open"|"closing"|"closed"`, Doc: "The connection's state."},
	},
	Events: []script.Event{
		{Name: "open", Args: "ws: WebsocketClient", Doc: "Connected."},
		{Name: "message", Args: `ws: WebsocketClient, frame: {data: string|bytes, opcode: "text"|"binary", finish: boolean}`, Doc: "A message arrived."},
		{Name: "close", Args: "ws: WebsocketClient, code: integer, reason: string", Doc: "The connection closed."},
		{Name: "error", Args: "ws: WebsocketClient, err: string", Doc: "Connecting failed or the connection broke."},
	},
	Props: map[string]func(o *script.Object) script.Value{
		"url":      func(o *script.Object) script.Value { return o.Data.(*Client).url },
		"protocol": func(o *script.Object) script.Value { return o.Data.(*Client).protocol },
		"state":    func(o *script.Object) script.Value { return stateNames[o.Data.(*Client).st] },
	},
}

func init() {
	clientType.Define(map[string]script.Method{
		"on":    {Fn: wsOn, Args: "event: string, handler: function", Doc: "Sets the handler of an event."},
		"send":  {Fn: wsSend, Args: `data: string|bytes, opcode?: "text"|"binary"`, Returns: "boolean, string?", Doc: "Sends a message (binary for bytes unless told)."},
		"close": {Fn: wsClose, Args: "code?: integer, reason?: string", Returns: "boolean, string?", Doc: "Closes the connection."},
	})
}

// connect is imscript.websocket.connect{ url, headers, timeout,
// subprotocols, compression, max_message_size, buffer_output_size,
// ca_file, insecure }.
func connect(c script.Call) {
	inst := c.Instance()
	o := opts.New("websocket.connect", c.Table(0, "options"),
		"url", "headers", "timeout", "subprotocols", "compression", "max_message_size", "buffer_output_size", "ca_file", "insecure")
	raw := o.Need("url")
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		script.Usagef("websocket.connect: option url: %q is not a ws:// or wss:// URL", raw)
	}
	headers := http.Header(o.Headers("headers"))
	timeout := o.Seconds("timeout", defaultTimeout)
	maxMsg := o.Int("max_message_size", defaultMaxMessage, 1, 1<<30)
	maxOut := int(o.Int("buffer_output_size", defaultMaxOutput, 1, 1<<30))
	d := &websocket.Dialer{
		Proxy:             http.ProxyFromEnvironment,
		HandshakeTimeout:  timeout,
		Subprotocols:      o.Strings("subprotocols"),
		EnableCompression: o.Bool("compression", false),
	}
	tlsCfg, tlsErr := o.TLS(inst.ScriptDir(), "")
	d.TLSClientConfig = tlsCfg

	cl := &Client{inst: inst, url: raw}
	cl.obj = &script.Object{Type: clientType, Data: cl}
	cl.release = inst.Own(script.CloserFunc(cl.abort))
	ctx, cancel := context.WithCancel(context.Background())
	cl.cancel = cancel
	go func() {
		defer cancel()
		if tlsErr != nil {
			cl.post(func() { cl.failed(fmt.Errorf("websocket.connect: %w", tlsErr)) })
			return
		}
		ws, resp, err := d.DialContext(ctx, raw, headers)
		if err != nil {
			if ctx.Err() == context.Canceled {
				return
			}
			cl.post(func() { cl.failed(dialError(raw, timeout, resp, err)) })
			return
		}
		cl.mu.Lock()
		dead := cl.dead
		cl.ws = ws
		cl.mu.Unlock()
		if dead {
			ws.Close()
			return
		}
		ws.SetReadLimit(maxMsg)
		cn := newConn(cl, ws, maxOut)
		cl.inst.Post(func() {
			if cl.st != connecting {
				ws.Close() // closed by the script meanwhile
				return
			}
			cl.st = open
			cl.conn = cn
			cl.protocol = ws.Subprotocol()
			go cn.writeLoop()
			go cn.readLoop()
			cl.fire(evOpen)
		})
	}()
	c.Return(cl.obj)
}

func dialError(raw string, timeout time.Duration, resp *http.Response, err error) error {
	if errors.Is(err, websocket.ErrBadHandshake) && resp != nil {
		return fmt.Errorf("connect %s: handshake refused: HTTP %s", raw, resp.Status)
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Errorf("connect %s: timed out after %v", raw, timeout)
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		err = oe.Err
		var se *os.SyscallError
		if errors.As(err, &se) {
			err = se.Err
		}
	}
	return fmt.Errorf("connect %s: %v", raw, err)
}

func self(c script.Call) *Client {
	cl := script.Receiver[*Client](c, "websocket client method called without a client (use ws:method() in Lua)")
	if cl.inst != c.Instance() {
		script.Usagef("websocket: this client belongs to another worker or version of the script")
	}
	return cl
}

func wsOn(c script.Call) {
	cl := self(c)
	i, fn := script.OnArgs(c, "websocket.on", eventNames[:])
	cl.on[i] = fn
}

// wsSend is send(data [, "text"|"binary"]): text unless told otherwise or
// given a JS Buffer, as srv:push does.
func wsSend(c script.Call) {
	cl := self(c)
	data := c.Bytes(0, "data")
	kind := ""
	if !c.Absent(1) {
		kind = c.Str(1, "opcode")
	} else if _, isBytes := c.Arg(0).([]byte); isBytes {
		kind = "binary"
	}
	op := websocket.TextMessage
	switch kind {
	case "", "text":
	case "binary":
		op = websocket.BinaryMessage
	default:
		script.Usagef("websocket.send: opcode must be \"text\" or \"binary\", got %q", kind)
	}
	if op == websocket.TextMessage && !utf8.Valid(data) {
		script.Usagef("websocket.send: text frames must be valid UTF-8 (send binary data with \"binary\")")
	}
	if cl.st != open {
		c.Fail("not open")
		return
	}
	if !cl.conn.queue(frame{op: op, data: append([]byte(nil), data...)}) {
		c.Fail("output buffer full")
		return
	}
	c.ReturnBool(true)
}

// wsClose is close([code, reason]): it sends a close frame; the close event
// follows when the peer answers. Closing a client still connecting cancels
// it, with no events.
func wsClose(c script.Call) {
	cl := self(c)
	code := c.OptInt(0, "code", websocket.CloseNormalClosure)
	reason := c.OptStr(1, "reason", "")
	if !(code == 1000 || (code >= 3000 && code <= 4999)) {
		script.Usagef("websocket.close: %d is not a close code a client may send (1000, 3000-4999)", code)
	}
	if len(reason) > 123 || !utf8.ValidString(reason) {
		script.Usagef("websocket.close: reason must be valid UTF-8 of at most 123 bytes")
	}
	switch cl.st {
	case connecting:
		cl.abort()
		cl.release()
	case open:
		cl.st = closing
		cl.conn.queue(frame{op: websocket.CloseMessage, data: websocket.FormatCloseMessage(int(code), reason)})
	default:
		c.Fail("not open")
		return
	}
	c.ReturnBool(true)
}

// post runs fn on the client's worker unless the client is closed.
func (cl *Client) post(fn func()) {
	cl.inst.Post(func() {
		if cl.st != closed {
			fn()
		}
	})
}

func (cl *Client) fire(ev int, args ...script.Value) {
	if fn := cl.on[ev]; fn != nil {
		cl.inst.Call("websocket "+eventNames[ev], fn, append([]script.Value{cl.obj}, args...)...)
	}
}

// failed reports a connection that could not be made: error, then close
// with 1006 (as browsers do).
func (cl *Client) failed(err error) {
	cl.st = closed
	cl.release()
	cl.fire(evError, err.Error())
	cl.fire(evClose, int64(closeAbnormal), "")
}

func (cl *Client) message(op int, data []byte) {
	if cl.st != open {
		return
	}
	var v script.Value = data
	opcode := "binary"
	if op == websocket.TextMessage {
		v, opcode = string(data), "text"
	}
	cl.fire(evMessage, script.Map{"data": v, "opcode": opcode, "finish": true})
}

func (cl *Client) ended(code int, reason string, errMsg string) {
	cl.st = closed
	cl.release()
	if errMsg != "" {
		cl.fire(evError, errMsg)
	}
	cl.fire(evClose, int64(code), reason)
}

// abort drops the client with no events (its instance is closing).
func (cl *Client) abort() {
	cl.st = closed
	cl.cancel()
	cl.mu.Lock()
	cl.dead = true
	ws := cl.ws
	cl.mu.Unlock()
	if ws != nil {
		ws.Close()
	}
}

// conn is an open connection: a reader and a writer goroutine around the
// gorilla connection (which allows one of each at a time).
type conn struct {
	cl     *Client
	ws     *websocket.Conn
	maxOut int

	mu      sync.Mutex
	q       []frame
	qBytes  int
	werr    error // the write that failed, reported by the reader
	wake    chan struct{}
	done    chan struct{}
	doneOne sync.Once
}

type frame struct {
	op   int
	data []byte
}

func newConn(cl *Client, ws *websocket.Conn, maxOut int) *conn {
	return &conn{cl: cl, ws: ws, maxOut: maxOut, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// queue adds a frame for the writer; false when the output is past
// buffer_output_size.
func (cn *conn) queue(f frame) bool {
	cn.mu.Lock()
	if f.op != websocket.CloseMessage && cn.qBytes+len(f.data) > cn.maxOut {
		cn.mu.Unlock()
		return false
	}
	cn.q = append(cn.q, f)
	cn.qBytes += len(f.data)
	cn.mu.Unlock()
	select {
	case cn.wake <- struct{}{}:
	default:
	}
	return true
}

func (cn *conn) stop() { cn.doneOne.Do(func() { close(cn.done) }) }

func (cn *conn) writeLoop() {
	for {
		select {
		case <-cn.done:
			return
		case <-cn.wake:
		}
		cn.mu.Lock()
		batch := cn.q
		cn.q, cn.qBytes = nil, 0
		cn.mu.Unlock()
		for _, f := range batch {
			deadline := time.Now().Add(writeTimeout)
			if f.op == websocket.CloseMessage {
				_ = cn.ws.WriteControl(websocket.CloseMessage, f.data, deadline)
				// The reader ends with the peer's answer, or at this
				// deadline.
				_ = cn.ws.SetReadDeadline(time.Now().Add(closeWait))
				return
			}
			_ = cn.ws.SetWriteDeadline(deadline)
			if err := cn.ws.WriteMessage(f.op, f.data); err != nil {
				cn.mu.Lock()
				cn.werr = err
				cn.mu.Unlock()
				cn.ws.Close() // the reader reports it
				return
			}
		}
	}
}

func (cn *conn) readLoop() {
	defer cn.stop()
	defer cn.ws.Close()
	for {
		op, data, err := cn.ws.ReadMessage()
		if err != nil {
			cn.mu.Lock()
			if cn.werr != nil {
				err = cn.werr
			}
			cn.mu.Unlock()
			code, reason, msg := closeInfo(err)
			cn.cl.post(func() { cn.cl.ended(code, reason, msg) })
			return
		}
		cn.cl.post(func() { cn.cl.message(op, data) })
	}
}

// closeInfo turns the reader's final error into the close event's code and
// reason, plus an error message for an abnormal end.
func closeInfo(err error) (code int, reason string, msg string) {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code, ce.Text, ""
	}
	if errors.Is(err, websocket.ErrReadLimit) {
		return websocket.CloseMessageTooBig, "message too big", "message larger than max_message_size"
	}
	if errors.Is(err, net.ErrClosed) {
		return closeAbnormal, "", ""
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return closeAbnormal, "", "no close frame from the peer in time"
	}
	return closeAbnormal, "", err.Error()
}
