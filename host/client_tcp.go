package host

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"

	"github.com/panjf2000/gnet/v2"
)

// TCP clients run on a gnet client engine of the host's, started on first
// use and stopped with the host; it logs through the host's logger.

// clientEngine is a host's gnet client engine (the zero value is ready).
type clientEngine struct {
	mu      sync.Mutex
	cli     *gnet.Client
	stopped bool
}

// tcpClientEngine returns the host's gnet client engine, starting it.
func (h *Host) tcpClientEngine() (*gnet.Client, error) {
	e := &h.clientEngine
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped {
		return nil, errors.New("the host is stopping")
	}
	if e.cli != nil {
		return e.cli, nil
	}
	loops := runtime.NumCPU()
	if loops > 4 {
		loops = 4
	}
	cli, err := gnet.NewClient(&tcpClientEvents{},
		gnet.WithMulticore(true),
		gnet.WithNumEventLoop(loops),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithLogger(gnetLogger{h.log.With("component", "gnet-client")}),
	)
	if err != nil {
		return nil, fmt.Errorf("gnet client: %w", err)
	}
	if err := cli.Start(); err != nil {
		return nil, fmt.Errorf("gnet client: %w", err)
	}
	e.cli = cli
	return cli, nil
}

// stopClientEngine stops the host's client engine, if it started; its
// connections close with it.
func (h *Host) stopClientEngine() {
	e := &h.clientEngine
	e.mu.Lock()
	cli := e.cli
	e.cli, e.stopped = nil, true
	e.mu.Unlock()
	if cli != nil {
		if err := cli.Stop(); err != nil {
			h.log.Warn("stopping the client engine", "err", err)
		}
	}
}

// tcpLink is one TCP connection of a client. Output is queued here from the
// worker and written on the connection's event loop, as for accepted
// connections.
type tcpLink struct {
	cli    *client
	addr   string
	cancel context.CancelFunc
	limit  int

	mu       sync.Mutex
	gc       gnet.Conn // set on the loop when the connection opens
	out      []byte
	flushing bool
	closing  bool // close once the output is written
	aborted  bool // no more events
	ended    bool // the loop closed it
}

func init() {
	clientDialers["tcp"] = func(cli *client, addr string) clientLink { return dialTCPClient(cli, addr) }
}

func dialTCPClient(cli *client, addr string) *tcpLink {
	ctx, cancel := clientDialContext(context.Background(), cli.timeout)
	l := &tcpLink{cli: cli, addr: addr, cancel: cancel, limit: cli.st.BufferOutputSize}
	timeout := cli.timeout
	go func() {
		defer cancel()
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			if !l.isAborted() {
				cli.post(l, func() { cli.connectFailed(clientDialError(addr, timeout, err)) })
			}
			return
		}
		eng, err := cli.inst.host.tcpClientEngine()
		if err == nil {
			// OnOpen runs on the loop before EnrollContext returns; it
			// reports the connection.
			_, err = eng.EnrollContext(conn, l)
		} else {
			conn.Close()
		}
		if err != nil && !l.isAborted() {
			cli.post(l, func() { cli.connectFailed(fmt.Errorf("connect %s: %w", addr, err)) })
		}
	}()
	return l
}

func (l *tcpLink) isAborted() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.aborted
}

func (l *tcpLink) send(b []byte) (bool, string) {
	l.mu.Lock()
	if l.gc == nil || l.closing || l.ended || l.aborted {
		l.mu.Unlock()
		return false, "not connected"
	}
	if len(l.out)+len(b) > l.limit {
		l.closing = true
		sched := !l.flushing
		l.flushing = true
		l.mu.Unlock()
		l.cli.inst.host.log.Warn("client output buffer full, closing the connection", "addr", l.addr, "limit", l.limit)
		l.cli.post(l, func() { l.cli.failed("output buffer full") })
		if sched {
			l.schedule()
		}
		return false, "output buffer full"
	}
	l.out = append(l.out, b...)
	sched := !l.flushing
	l.flushing = true
	l.mu.Unlock()
	if sched {
		l.schedule()
	}
	return true, ""
}

func (l *tcpLink) close() {
	l.mu.Lock()
	if l.closing || l.aborted {
		l.mu.Unlock()
		return
	}
	l.closing = true
	sched := !l.flushing && l.gc != nil
	l.flushing = true
	l.mu.Unlock()
	if sched {
		l.schedule()
	}
}

func (l *tcpLink) abort() {
	l.cancel()
	l.mu.Lock()
	l.aborted = true
	gc := l.gc
	l.out = nil
	l.mu.Unlock()
	if gc != nil {
		_ = gc.Close()
	}
}

// schedule has the loop write the pending output (Run).
func (l *tcpLink) schedule() {
	l.mu.Lock()
	gc := l.gc
	l.mu.Unlock()
	if err := gc.EventLoop().Execute(context.Background(), l); err != nil {
		l.mu.Lock()
		l.out, l.flushing = nil, false
		l.mu.Unlock()
	}
}

// Run writes the pending output on the event loop (gnet.Runnable).
func (l *tcpLink) Run(context.Context) error {
	l.mu.Lock()
	out, closeAfter, gc := l.out, l.closing || l.aborted, l.gc
	l.out, l.flushing = nil, false
	ended := l.ended
	l.mu.Unlock()
	if ended {
		return nil
	}
	if len(out) > 0 {
		_, _ = gc.Write(out)
		if gc.OutboundBuffered() > l.limit {
			l.cli.inst.host.log.Warn("client: slow peer past buffer_output_size, closing the connection",
				"addr", l.addr, "buffered", gc.OutboundBuffered(), "limit", l.limit)
			l.cli.post(l, func() { l.cli.failed("output buffer full") })
			closeAfter = true
		}
	}
	if closeAfter {
		return gc.EventLoop().Close(gc)
	}
	return nil
}

// tcpClientEvents are the engine's callbacks; each connection's context is
// its *tcpLink.
type tcpClientEvents struct{ gnet.BuiltinEventEngine }

func (*tcpClientEvents) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	l, ok := gc.Context().(*tcpLink)
	if !ok {
		return nil, gnet.Close
	}
	l.mu.Lock()
	if l.aborted {
		l.mu.Unlock()
		return nil, gnet.Close
	}
	l.gc = gc
	l.mu.Unlock()
	l.cli.post(l, l.cli.connected)
	return nil, gnet.None
}

func (*tcpClientEvents) OnTraffic(gc gnet.Conn) gnet.Action {
	l, ok := gc.Context().(*tcpLink)
	if !ok {
		return gnet.Close
	}
	if l.isAborted() {
		_, _ = gc.Discard(gc.InboundBuffered())
		return gnet.Close
	}
	f := l.cli.f
	for {
		buf, _ := gc.Peek(-1)
		if len(buf) == 0 {
			return gnet.None
		}
		n, err := f.Next(buf)
		if err != nil {
			msg := err.Error()
			l.cli.post(l, func() { l.cli.failed(msg) })
			_, _ = gc.Discard(gc.InboundBuffered())
			return gnet.Close
		}
		if n == 0 {
			return gnet.None
		}
		data := make([]byte, n)
		copy(data, buf[:n])
		_, _ = gc.Discard(n)
		l.cli.post(l, func() { l.cli.received(data) })
	}
}

func (*tcpClientEvents) OnClose(gc gnet.Conn, err error) gnet.Action {
	l, ok := gc.Context().(*tcpLink)
	if !ok {
		return gnet.None
	}
	l.mu.Lock()
	l.ended = true
	l.out = nil
	quiet := l.aborted
	l.mu.Unlock()
	if quiet {
		return gnet.None
	}
	if msg := clientConnError(err); msg != "" {
		l.cli.post(l, func() { l.cli.failed(msg) })
	}
	l.cli.post(l, l.cli.closed)
	return gnet.None
}
