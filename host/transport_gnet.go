package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// gnetListener runs one TCP listener on gnet event loops: no goroutine per
// connection; framing happens on the loop, handlers on the workers.
type gnetListener struct {
	gnet.BuiltinEventEngine
	srv    *Server
	eng    gnet.Engine
	booted chan struct{}
	done   chan error

	mu    sync.Mutex
	loops []gnet.EventLoop // the loops it added to loopFlushers
}

// loopFlushers maps every running gnet event loop of the listeners to its
// loopFlusher: a connection keeps only its gnet.Conn, whose loop finds
// the flusher.
var loopFlushers sync.Map // gnet.EventLoop -> *loopFlusher

// loopFlusher batches output flushes for one event loop: however many
// connections of the loop get output meanwhile, the loop is asked once
// (one Execute, at most one wake-up) and writes them all.
type loopFlusher struct {
	el      gnet.EventLoop
	mu      sync.Mutex
	pending []*conn
	spare   []*conn
}

// register makes sure el has its loopFlusher (on the loop, at accept).
func (l *gnetListener) register(el gnet.EventLoop) {
	if _, ok := loopFlushers.Load(el); ok {
		return
	}
	if _, loaded := loopFlushers.LoadOrStore(el, &loopFlusher{el: el}); !loaded {
		l.mu.Lock()
		l.loops = append(l.loops, el)
		l.mu.Unlock()
	}
}

// unregister forgets the listener's loops (its engine stopped).
func (l *gnetListener) unregister() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, el := range l.loops {
		loopFlushers.Delete(el)
	}
	l.loops = nil
}

// gnetFlush implements conn.flush for a gnet connection: the write
// happens on the connection's loop. Once the engine is gone its
// connections are too, and their output with them.
func gnetFlush(c *conn) {
	f, ok := loopFlushers.Load(c.gnetConn().EventLoop())
	if !ok {
		c.takeOutput()
		return
	}
	f.(*loopFlusher).add(c)
}

func (f *loopFlusher) add(c *conn) {
	f.mu.Lock()
	first := len(f.pending) == 0
	f.pending = append(f.pending, c)
	f.mu.Unlock()
	if first {
		if err := f.el.Execute(context.Background(), f); err != nil {
			// The engine is shutting down; its connections go with it.
			f.mu.Lock()
			list := f.pending
			f.pending = nil
			f.mu.Unlock()
			for _, c := range list {
				c.takeOutput()
			}
		}
	}
}

// Run writes every pending connection's output, on the loop.
func (f *loopFlusher) Run(ctx context.Context) error {
	f.mu.Lock()
	list := f.pending
	f.pending, f.spare = f.spare[:0], nil
	f.mu.Unlock()
	for i, c := range list {
		_ = gnetWrite(c)
		list[i] = nil
	}
	f.mu.Lock()
	if f.spare == nil && cap(list) <= 4096 {
		f.spare = list[:0]
	}
	f.mu.Unlock()
	return nil
}

// A conn keeps its gnet.Conn in one word (conn.gcp): gnet has one
// connection type, so the interface's type word is the same for every
// connection; gnetTab is it, taken from the first, and the conn keeps the
// data word. A gnet.Conn of another type is refused (gnetConnData) rather
// than put together wrong.
var gnetTab atomic.Pointer[byte]

// ifaceWords is the layout of an interface value.
type ifaceWords struct{ tab, data unsafe.Pointer }

// gnetConnData is gc's data word, or false when gc's type is not the one
// of gnet's connections seen first.
func gnetConnData(gc gnet.Conn) (unsafe.Pointer, bool) {
	w := (*ifaceWords)(unsafe.Pointer(&gc))
	tab := (*byte)(w.tab)
	if t := gnetTab.Load(); t != nil && t != tab {
		return nil, false
	}
	if !gnetTab.CompareAndSwap(nil, tab) && gnetTab.Load() != tab {
		return nil, false
	}
	return w.data, w.data != nil
}

// gnetConn is the connection's gnet.Conn (c.gcp set).
func (c *conn) gnetConn() gnet.Conn {
	var gc gnet.Conn
	w := (*ifaceWords)(unsafe.Pointer(&gc))
	w.tab, w.data = unsafe.Pointer(gnetTab.Load()), c.gcp
	return gc
}

// gnetWriteNow implements directWriter for a gnet connection: one
// non-blocking write of the socket, from whichever goroutine holds the
// connection's lock. gnet calls OnClose (which marks the connection
// closed under that lock) before it closes the socket, so the fd is still
// this connection's.
func gnetWriteNow(gc gnet.Conn, b []byte) (int, error) {
	n, err := unix.Write(gc.Fd(), b)
	if n < 0 {
		n = 0
	}
	return n, err
}

func (s *Server) listenTCP() (listener, error) {
	l := &gnetListener{srv: s, booted: make(chan struct{}), done: make(chan error, 1)}
	addr := fmt.Sprintf("tcp://%s", joinHostPort(s.decl.Host, s.decl.Port))
	go func() {
		err := gnet.Run(l, addr,
			gnet.WithMulticore(true),
			gnet.WithReuseAddr(true),
			gnet.WithTCPNoDelay(gnet.TCPNoDelay),
			gnet.WithLogger(gnetLogger{s.host.log.With("component", "gnet")}),
		)
		l.unregister()
		l.done <- err
	}()
	select {
	case <-l.booted:
	case err := <-l.done:
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	port, err := l.boundPort()
	if err != nil {
		_ = l.eng.Stop(context.Background())
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	s.port.Store(int64(port))
	return l, nil
}

// stop stops the engine: its loops close every connection.
func (l *gnetListener) stop(ctx context.Context) error {
	// Engine.Stop polls for the end every 500 ms; gnet.Run returning says
	// the same at once.
	stopped := make(chan error, 1)
	go func() { stopped <- l.eng.Stop(ctx) }()
	select {
	case <-l.done:
		return nil
	case err := <-stopped:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *gnetListener) boundPort() (int, error) {
	fd, err := l.eng.Dup()
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return 0, err
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return a.Port, nil
	case *unix.SockaddrInet6:
		return a.Port, nil
	}
	return 0, errors.New("unknown socket address")
}

func (l *gnetListener) OnBoot(eng gnet.Engine) gnet.Action {
	l.eng = eng
	close(l.booted)
	return gnet.None
}

func (l *gnetListener) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	s := l.srv
	h := s.host
	if h.stopping.Load() || s.closing.Load() {
		return nil, gnet.Close
	}
	if s.connNum.Load() >= int64(s.settings().MaxConnection) {
		s.rejectCount.Add(1)
		return nil, gnet.Close
	}
	data, ok := gnetConnData(gc)
	if !ok {
		h.log.Error("gnet handed over a connection of an unknown type", "server", s.addr(), "type", fmt.Sprintf("%T", gc))
		return nil, gnet.Close
	}
	l.register(gc.EventLoop())
	c := h.newConn(s)
	c.gcp = data
	c.clean = true // a gnet connection is a directWriter
	gc.SetContext(c)
	h.accept(c)
	return nil, gnet.None
}

func (l *gnetListener) OnTraffic(gc gnet.Conn) gnet.Action {
	c, ok := gc.Context().(*conn)
	if !ok {
		return gnet.Close
	}
	c.onData(gc)
	return gnet.None
}

func (l *gnetListener) OnClose(gc gnet.Conn, err error) gnet.Action {
	c, ok := gc.Context().(*conn)
	if !ok {
		return gnet.None
	}
	l.srv.host.closed(c) // marks it closed: a flush still queued does nothing
	return gnet.None
}

// gnetWrite writes c's pending output on its event loop
// (loopFlusher.Run). Once gnet closed the connection (OnClose marked it
// closed and dropped its output) there is nothing to write: takeOutput
// gives no bytes and no close.
func gnetWrite(c *conn) error {
	gc := c.gnetConn()
	out, closeAfter := c.takeOutput()
	if len(out) > 0 {
		_, _ = gc.Write(out)
		c.written(out, gc.OutboundBuffered() == 0)
		if limit := c.srv.settings().BufferOutputSize; gc.OutboundBuffered() > limit {
			c.srv.host.log.Warn("slow reader past buffer_output_size, closing connection",
				"server", c.srv.addr(), "fd", c.id, "buffered", gc.OutboundBuffered(), "limit", limit)
			closeAfter = true
		}
	}
	if closeAfter {
		c.markClosing()
		return gc.EventLoop().Close(gc)
	}
	return nil
}

// gnetLogger sends gnet's own log lines (listeners' and the client
// engine's) to the host's logger; gnet's info lines are debug here.
type gnetLogger struct{ l *slog.Logger }

func (g gnetLogger) Debugf(f string, a ...any) { g.l.Debug(fmt.Sprintf(f, a...)) }
func (g gnetLogger) Infof(f string, a ...any)  { g.l.Debug(fmt.Sprintf(f, a...)) }
func (g gnetLogger) Warnf(f string, a ...any)  { g.l.Warn(fmt.Sprintf(f, a...)) }
func (g gnetLogger) Errorf(f string, a ...any) { g.l.Error(fmt.Sprintf(f, a...)) }
func (g gnetLogger) Fatalf(f string, a ...any) { g.l.Error(fmt.Sprintf(f, a...)) }
