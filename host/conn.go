package host

import (
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/imscript/imscript/script"
)

type connState uint8

const (
	connOpen connState = iota
	connClosing
	connClosed
)

// conn is one accepted connection. Its fd is a host-wide id (not the OS
// descriptor). Output is queued here from any goroutine and written by the
// transport; the queue is bounded by buffer_output_size.
//
// An idle connection costs its size class (80 bytes) and nothing more of
// its own: its worker follows from its id (worker), a gnet connection's
// transport is its gnet.Conn, inline in one word (gcp), and the peer's
// address is gnet's (remoteAddr). What only some connections use, or use
// only while busy, hangs off a pointer that stays nil until then (x, o);
// the events held for a handler in flight are the worker's
// (worker_order.go); the protocol's state is a pointer, as only HTTP
// keeps any (http).
type conn struct {
	id  int64
	srv *Server
	// gcp is the data word of the connection's gnet.Conn when it came
	// through the gnet event loops (gnetConn puts the interface back
	// together, transport_gnet.go); nil for another transport's, which is
	// x.t.
	gcp      unsafe.Pointer
	lastTime atomic.Int64 // unix milliseconds of the last input

	// http is the connection's HTTP (and WebSocket) state on an http or
	// websocket server; nil on a tcp server, whose protocol keeps none
	// (proto, proto.go).
	http *httpConn
	// x is what only some connections have (connExt); nil until then.
	x atomic.Pointer[connExt]

	// Under mu: the output queue and its spare buffer; nil while the
	// connection has neither (an idle connection).
	o  *connOut
	mu sync.Mutex

	// The small fields last, packed.

	// queued counts the connection's units posted and not yet run: while
	// more wait, its worker keeps its answers for one write (flushOutput).
	queued   atomic.Int32
	openedAt uint32 // unix seconds
	// waits is the worker's: its handlers in flight (a few at most); its
	// later events wait meanwhile in the worker's held (worker_order.go).
	waits uint16
	// bad is set on the transport's goroutine when the connection sent bad
	// input: the rest is dropped until it closes.
	bad bool
	// Under mu.
	state    connState
	flushing bool
	// clean says nothing of the output is being written or buffered by
	// the transport, so flushNow may write it from the worker (a
	// transport that is a directWriter).
	clean bool
	// wrote is set after the first write: its buffer (a handshake's answer,
	// a greeting) is not kept, so a connection that then goes idle holds
	// none; from the second write on the buffer is reused.
	wrote bool
}

// connExt is what only some connections have, allocated once one of its
// fields is needed (conn.ext): a transport other than gnet's, the peer's
// address where the transport does not keep it, hub state.
type connExt struct {
	// t is the transport of a connection that is not gnet's (TLS: a
	// netConn); set before the connection is published.
	t transport
	// remote is the peer's address of a connection that is not gnet's
	// (set before it is published), and of a gnet connection once it is
	// closed (gnet forgets it then; written under the conn's mu, by
	// markClosed).
	remote net.Addr
	// hub is the connection's uid and rooms, guarded by the hub's lock;
	// nil until the connection is bound or joins a room (hub.go).
	hub *hubConn
}

// proto is the connection's protocol: its HTTP state, or tcp's.
func (c *conn) proto() connProto {
	if c.http != nil {
		return c.http
	}
	return tcpConn{}
}

// ext returns c's connExt, allocating it on first use (from any
// goroutine: the first one stored wins).
func (c *conn) ext() *connExt {
	if x := c.x.Load(); x != nil {
		return x
	}
	x := &connExt{}
	if c.x.CompareAndSwap(nil, x) {
		return x
	}
	return c.x.Load()
}

// worker is the worker the connection is pinned to: its id picks one of
// the host's event workers, which do not change once the host runs.
func (c *conn) worker() *worker {
	ws := c.srv.host.workers
	return ws[c.id%int64(len(ws))]
}

// hubState is c's hub state, nil if it has none (the hub's lock held).
func (c *conn) hubState() *hubConn {
	if x := c.x.Load(); x != nil {
		return x.hub
	}
	return nil
}

// flush asks the connection's transport to write its pending output
// (takeOutput), once per batch.
func (c *conn) flush() {
	if c.gcp != nil {
		gnetFlush(c)
		return
	}
	c.x.Load().t.Flush(c)
}

// transport is the transport of a connection that is not gnet's (nil
// for a gnet connection).
func (c *conn) transport() transport {
	if x := c.x.Load(); x != nil {
		return x.t
	}
	return nil
}

// direct says the connection's transport is a directWriter: a gnet
// connection's is.
func (c *conn) direct() bool {
	if c.gcp != nil {
		return true
	}
	_, ok := c.x.Load().t.(directWriter)
	return ok
}

// writeNow is the directWriter's writeNow of the connection's transport.
func (c *conn) writeNow(b []byte) (int, error) {
	if c.gcp != nil {
		return gnetWriteNow(c.gnetConn(), b)
	}
	return c.x.Load().t.(directWriter).writeNow(b)
}

// remoteAddr is the peer's address (nil if unknown). A gnet connection's
// is gnet's while it is open, kept by markClosed once it closed.
func (c *conn) remoteAddr() net.Addr {
	if c.gcp == nil {
		if x := c.x.Load(); x != nil {
			return x.remote
		}
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == connClosed {
		if x := c.x.Load(); x != nil {
			return x.remote
		}
		return nil
	}
	return c.gnetConn().RemoteAddr()
}

// connOut is a connection's output queue and the buffer kept for its
// next output (conn.keep), allocated by the first send.
type connOut struct {
	out, spare []byte
}

// int64Type is the type word of an int64 in an interface.
var int64Type = func() unsafe.Pointer {
	var v any = int64(1 << 40)
	return (*[2]unsafe.Pointer)(unsafe.Pointer(&v))[0]
}()

// idv is the connection's id as a script value, which handlers get every
// event, with no allocation and no field of its own: the interface points
// at c.id, which never changes (the runtime boxes small integers the same
// way, pointing at a static array).
func (c *conn) idv() script.Value {
	var v any
	e := (*[2]unsafe.Pointer)(unsafe.Pointer(&v))
	e[0], e[1] = int64Type, unsafe.Pointer(&c.id)
	return v
}

// pendingOut is how many bytes are queued (c.mu held).
func (c *conn) pendingOut() int {
	if c.o == nil {
		return 0
	}
	return len(c.o.out)
}

// remoteIPPort splits the peer's address for info() and req.
func (c *conn) remoteIPPort() (ip string, port int64, ok bool) {
	remote := c.remoteAddr()
	if ta, isTCP := remote.(*net.TCPAddr); isTCP {
		return ta.IP.String(), int64(ta.Port), true
	}
	if remote == nil {
		return "", 0, false
	}
	h, p, err := net.SplitHostPort(remote.String())
	if err != nil {
		return "", 0, false
	}
	pn, _ := strconv.Atoi(p)
	return h, int64(pn), true
}

// Open reports whether the connection still accepts output.
func (c *conn) Open() bool {
	c.mu.Lock()
	ok := c.state == connOpen
	c.mu.Unlock()
	return ok
}

// Send queues b for writing. It returns false with a reason when the
// connection is gone or its output queue would pass buffer_output_size (the
// connection is then closed: a slow reader is cut off, not buffered for).
// b is copied.
func (c *conn) Send(b []byte) (bool, string) { return c.send2(nil, b, nil) }

// sendFrom is Send of head followed by b, as one message (a frame's
// header and its payload), by a handler running on worker w. When w is
// the connection's own worker and the transport can write from any
// goroutine (a gnet connection), the bytes wait in the queue until the
// event is handled, or until the connection's last event queued is, and
// w writes them itself (worker.flushOutput): a handler's answers then
// cost the event loop nothing, and what one event or a pipelined run of
// requests answers goes out in one write.
func (c *conn) sendFrom(w *worker, head, b []byte) (bool, string) {
	if w != c.worker() || !c.direct() {
		w = nil
	}
	return c.send2(head, b, w)
}

// send2 is Send and sendFrom: head and b are copied, in one go.
func (c *conn) send2(head, b []byte, w *worker) (bool, string) {
	n := len(head) + len(b)
	limit := c.srv.settings().BufferOutputSize
	c.mu.Lock()
	if c.state != connOpen {
		c.mu.Unlock()
		return false, "connection closed"
	}
	if c.pendingOut()+n > limit {
		c.state = connClosing
		sched := !c.flushing
		c.flushing = true
		c.mu.Unlock()
		c.srv.host.log.Warn("output buffer full, closing connection", "server", c.srv.addr(), "fd", c.id, "limit", limit)
		if sched {
			c.flush()
		}
		return false, "output buffer full"
	}
	o := c.o
	if o == nil {
		o = &connOut{}
		c.o = o
	}
	if o.out == nil && o.spare != nil {
		o.out, o.spare = o.spare, nil
	}
	o.out = append(append(o.out, head...), b...)
	sched := !c.flushing
	c.flushing = true
	c.mu.Unlock()
	c.srv.bytesOut.Add(int64(n))
	c.srv.msgsOut.Add(1)
	if sched {
		if w != nil {
			w.unflushed = append(w.unflushed, c)
		} else {
			c.flush()
		}
	}
	return true, ""
}

// flushNow writes the queued output on the calling goroutine (the
// connection's worker, worker.flushOutput) when nothing of it is being
// written or buffered by the transport; what the socket does not take,
// and everything of a connection that is closing or not clean, goes the
// transport's way (Flush).
func (c *conn) flushNow() {
	c.mu.Lock()
	if o := c.o; c.clean && c.state == connOpen && o != nil && len(o.out) > 0 {
		// The lock keeps the transport from closing the socket
		// meanwhile (it marks the connection closed first).
		w, _ := c.writeNow(o.out)
		if w == len(o.out) {
			out := o.out
			o.out = nil
			c.flushing = false
			c.keep(out)
			c.mu.Unlock()
			return
		}
		if w > 0 {
			o.out = o.out[:copy(o.out, o.out[w:])]
		}
		c.clean = false // the rest is the transport's to write
	}
	c.mu.Unlock()
	c.flush()
}

// post queues a unit of the connection's input for its worker, through
// its server (which holds events while a new version is not yet active).
func (c *conn) post(u unit, data []byte) {
	c.queued.Add(1)
	c.srv.post(c.worker(), event{u: u, srv: c.srv, conn: c, data: data, queued: true})
}

// Close closes the connection after its queued output is written.
func (c *conn) Close() bool {
	c.mu.Lock()
	if c.state != connOpen {
		c.mu.Unlock()
		return false
	}
	c.state = connClosing
	sched := !c.flushing
	c.flushing = true
	c.mu.Unlock()
	if sched {
		c.flush()
	}
	return true
}

// takeOutput is called by the transport: it returns the pending bytes and
// whether the connection should be closed once they are written.
func (c *conn) takeOutput() (out []byte, closeAfter bool) {
	c.mu.Lock()
	if c.o != nil {
		out = c.o.out
		c.o.out = nil
	}
	c.flushing = false
	if len(out) > 0 {
		c.clean = false // being written: nothing may overtake it
	}
	closeAfter = c.state == connClosing
	c.mu.Unlock()
	return out, closeAfter
}

// recycle hands a written output slice back for reuse; large ones are
// dropped so idle connections hold no memory.
func (c *conn) recycle(b []byte) { c.written(b, false) }

// written is recycle for a transport that can write from any goroutine
// (directWriter): drained says the transport buffers nothing of the
// connection's output, so flushNow may write again once nothing is
// queued.
func (c *conn) written(b []byte, drained bool) {
	c.mu.Lock()
	c.keep(b)
	if drained && c.pendingOut() == 0 && !c.flushing {
		c.clean = true
	}
	c.mu.Unlock()
}

// keep keeps a written buffer as the spare (c.mu held): not the first
// one (a handshake's answer, a greeting), so that a connection that then
// goes idle holds none, nor a large one. A connection left with neither
// output nor spare drops its connOut too.
func (c *conn) keep(b []byte) {
	o := c.o
	if o == nil {
		return
	}
	if cap(b) > 0 && cap(b) <= 64<<10 {
		if o.spare == nil && c.state == connOpen && c.wrote {
			o.spare = b[:0]
		}
		c.wrote = true
	}
	if o.out == nil && o.spare == nil {
		c.o = nil
	}
}

// markClosing stops further output (the transport is closing it).
func (c *conn) markClosing() {
	c.mu.Lock()
	if c.state == connOpen {
		c.state = connClosing
	}
	c.mu.Unlock()
}

// ownAddr is a, or a copy of a TCP address whose zone gnet hands back to
// its pool when it releases the connection.
func ownAddr(a net.Addr) net.Addr {
	if ta, ok := a.(*net.TCPAddr); ok && ta.Zone != "" {
		return &net.TCPAddr{IP: slices.Clone(ta.IP), Port: ta.Port, Zone: strings.Clone(ta.Zone)}
	}
	return a
}

// closedState reports whether the transport has closed the connection.
func (c *conn) closedState() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state == connClosed
}

// markClosed records that the transport closed the connection. A gnet
// connection's peer address is kept: gnet forgets it once OnClose returns.
func (c *conn) markClosed() {
	c.mu.Lock()
	if c.gcp != nil && c.state != connClosed {
		if a := ownAddr(c.gnetConn().RemoteAddr()); a != nil {
			c.ext().remote = a
		}
	}
	c.state = connClosed
	c.o = nil
	c.mu.Unlock()
}
