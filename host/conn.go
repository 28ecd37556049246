package host

import (
	"net"
	"strconv"
	"sync"
	"sync/atomic"
)

// Transport carries one connection's bytes. There are two: the gnet event
// loop (plain TCP) and, for TLS, the standard net package. The layers above
// see only Conn.
type Transport interface {
	// Flush asks the transport to write the connection's pending output
	// (Conn.takeOutput). Called from any goroutine, once per batch.
	Flush(c *Conn)
}

type connState uint8

const (
	connOpen connState = iota
	connClosing
	connClosed
)

// Conn is one accepted connection. Its fd is a host-wide id (not the OS
// descriptor). Output is queued here from any goroutine and written by the
// transport; the queue is bounded by buffer_output_size.
type Conn struct {
	id       int64
	srv      *Server
	worker   *Worker
	t        Transport
	remote   net.Addr
	openedAt int64        // unix seconds
	lastTime atomic.Int64 // unix milliseconds of the last input

	// Protocol state, touched only by the transport's goroutine.
	bad bool     // bad input seen: the rest is dropped until it closes
	hp  *httpIn  // http/websocket servers: request parsing
	ws  *wsState // after a WebSocket upgrade

	// Worker-side protocol state, touched only by the owning worker.
	hw *httpOut // response ordering

	// IM state (uid, rooms), guarded by the host's im lock; nil until
	// the connection is bound or joins a room.
	im *connIM

	wsOpen atomic.Bool // WebSocket handshake done (isEstablished)

	mu       sync.Mutex
	state    connState
	flushing bool
	out      []byte
	spare    []byte
}

// ID is the connection's fd as scripts see it.
func (c *Conn) ID() int64 { return c.id }

// Server is the server that accepted the connection.
func (c *Conn) Server() *Server { return c.srv }

// RemoteAddr is the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// remoteIPPort splits the peer's address for info() and req.
func (c *Conn) remoteIPPort() (ip string, port int64, ok bool) {
	if ta, isTCP := c.remote.(*net.TCPAddr); isTCP {
		return ta.IP.String(), int64(ta.Port), true
	}
	if c.remote == nil {
		return "", 0, false
	}
	h, p, err := net.SplitHostPort(c.remote.String())
	if err != nil {
		return "", 0, false
	}
	pn, _ := strconv.Atoi(p)
	return h, int64(pn), true
}

// Open reports whether the connection still accepts output.
func (c *Conn) Open() bool {
	c.mu.Lock()
	ok := c.state == connOpen
	c.mu.Unlock()
	return ok
}

// Send queues b for writing. It returns false with a reason when the
// connection is gone or its output queue would pass buffer_output_size (the
// connection is then closed: a slow reader is cut off, not buffered for).
// b is copied.
func (c *Conn) Send(b []byte) (bool, string) {
	limit := c.srv.settings().BufferOutputSize
	c.mu.Lock()
	if c.state != connOpen {
		c.mu.Unlock()
		return false, "connection closed"
	}
	if len(c.out)+len(b) > limit {
		c.state = connClosing
		sched := !c.flushing
		c.flushing = true
		c.mu.Unlock()
		c.srv.host.log.Warn("output buffer full, closing connection", "server", c.srv.Addr(), "fd", c.id, "limit", limit)
		if sched {
			c.t.Flush(c)
		}
		return false, "output buffer full"
	}
	if c.out == nil && c.spare != nil {
		c.out, c.spare = c.spare, nil
	}
	c.out = append(c.out, b...)
	sched := !c.flushing
	c.flushing = true
	c.mu.Unlock()
	c.srv.bytesOut.Add(int64(len(b)))
	if sched {
		c.t.Flush(c)
	}
	return true, ""
}

// Close closes the connection after its queued output is written.
func (c *Conn) Close() bool {
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
		c.t.Flush(c)
	}
	return true
}

// takeOutput is called by the transport: it returns the pending bytes and
// whether the connection should be closed once they are written.
func (c *Conn) takeOutput() (out []byte, closeAfter bool) {
	c.mu.Lock()
	out = c.out
	c.out = nil
	c.flushing = false
	closeAfter = c.state == connClosing
	c.mu.Unlock()
	return out, closeAfter
}

// recycle hands a written output slice back for reuse; large ones are
// dropped so idle connections hold no memory.
func (c *Conn) recycle(b []byte) {
	if cap(b) == 0 || cap(b) > 64<<10 {
		return
	}
	c.mu.Lock()
	if c.spare == nil && c.state == connOpen {
		c.spare = b[:0]
	}
	c.mu.Unlock()
}

// markClosing stops further output (the transport is closing it).
func (c *Conn) markClosing() {
	c.mu.Lock()
	if c.state == connOpen {
		c.state = connClosing
	}
	c.mu.Unlock()
}

// closedState reports whether the transport has closed the connection.
func (c *Conn) closedState() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state == connClosed
}

// markClosed records that the transport closed the connection.
func (c *Conn) markClosed() {
	c.mu.Lock()
	c.state = connClosed
	c.out, c.spare = nil, nil
	c.mu.Unlock()
}

// connTable maps fds to connections, sharded so workers and loops rarely
// contend.
type connTable struct {
	shards [64]connShard
}

type connShard struct {
	mu sync.RWMutex
	m  map[int64]*Conn
}

func (t *connTable) shard(id int64) *connShard { return &t.shards[uint64(id)%64] }

func (t *connTable) put(c *Conn) {
	s := t.shard(c.id)
	s.mu.Lock()
	if s.m == nil {
		s.m = make(map[int64]*Conn)
	}
	s.m[c.id] = c
	s.mu.Unlock()
}

func (t *connTable) get(id int64) *Conn {
	s := t.shard(id)
	s.mu.RLock()
	c := s.m[id]
	s.mu.RUnlock()
	return c
}

func (t *connTable) del(id int64) {
	s := t.shard(id)
	s.mu.Lock()
	delete(s.m, id)
	s.mu.Unlock()
}

func (t *connTable) each(fn func(*Conn)) {
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.RLock()
		list := make([]*Conn, 0, len(s.m))
		for _, c := range s.m {
			list = append(list, c)
		}
		s.mu.RUnlock()
		for _, c := range list {
			fn(c)
		}
	}
}
