package main

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// The load generator is deliberately lean, because it shares the machine's
// cores with the server under test: a few OS threads, each with its own
// epoll set over its share of the connections, raw non-blocking read and
// write calls, no goroutine per connection. One batch costs it one write,
// about one read and a share of one epoll_wait.

// loadSpec is one measured row: conns connections, each writing depth
// messages of size bytes, then reading depth*size bytes back, repeatedly.
type loadSpec struct {
	addr     netip.AddrPort
	conns    int
	size     int
	depth    int
	threads  int
	warmup   time.Duration
	duration time.Duration
	// onMeasure and onDone run when the measured window opens and closes
	// (used to sample the server's CPU and syscalls, and to profile it).
	onMeasure func()
	onDone    func()
}

// loadResult is what one row measured.
type loadResult struct {
	msgs     uint64
	elapsed  time.Duration
	hist     *histogram
	errs     []string
	brokenCn int
}

func (r *loadResult) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.msgs) / r.elapsed.Seconds()
}

const (
	phaseWarmup int32 = iota
	phaseMeasure
	phaseStop
)

// clientConn is one load connection, owned by one loader thread.
type clientConn struct {
	fd    int
	out   []byte // one batch: depth messages
	in    []byte
	got   int   // bytes of the current batch read so far
	t0    int64 // when the current batch was written (ns since epoch base)
	dead  bool
	batch int
}

var monoBase = time.Now()

func nanotime() int64 { return int64(time.Since(monoBase)) }

// dialRaw opens a blocking TCP connection and returns its descriptor made
// non-blocking, with TCP_NODELAY.
func dialRaw(addr netip.AddrPort) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	sa := &unix.SockaddrInet4{Port: int(addr.Port()), Addr: addr.Addr().As4()}
	for {
		err = unix.Connect(fd, sa)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		_ = unix.Close(fd)
		return -1, fmt.Errorf("connect %s: %w", addr, err)
	}
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	if err := unix.SetNonblock(fd, true); err != nil {
		_ = unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			runtime.Gosched()
			continue
		case err != nil:
			return err
		}
		b = b[n:]
	}
	return nil
}

// runLoad runs one row: warm-up, then the measured window.
func runLoad(spec loadSpec) (*loadResult, error) {
	if spec.threads < 1 {
		spec.threads = 1
	}
	if spec.threads > spec.conns {
		spec.threads = spec.conns
	}
	batch := spec.depth * spec.size
	conns := make([]*clientConn, 0, spec.conns)
	closeAll := func() {
		for _, c := range conns {
			_ = unix.Close(c.fd)
		}
	}
	for i := 0; i < spec.conns; i++ {
		fd, err := dialRaw(spec.addr)
		if err != nil {
			closeAll()
			return nil, err
		}
		c := &clientConn{fd: fd, out: make([]byte, batch), in: make([]byte, batch), batch: batch}
		for j := range c.out {
			c.out[j] = byte(i*7 + j*13 + j/spec.size)
		}
		conns = append(conns, c)
	}
	defer closeAll()

	var phase atomic.Int32
	threads := make([]*loader, spec.threads)
	for t := range threads {
		l := &loader{phase: &phase, size: spec.size, hist: newHistogram()}
		for i := t; i < len(conns); i += spec.threads {
			l.conns = append(l.conns, conns[i])
		}
		threads[t] = l
	}
	var wg sync.WaitGroup
	for _, l := range threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.run()
		}()
	}
	time.Sleep(spec.warmup)
	if spec.onMeasure != nil {
		spec.onMeasure()
	}
	start := time.Now()
	phase.Store(phaseMeasure)
	time.Sleep(spec.duration)
	phase.Store(phaseStop)
	elapsed := time.Since(start)
	if spec.onDone != nil {
		spec.onDone()
	}
	wg.Wait()

	res := &loadResult{elapsed: elapsed, hist: newHistogram()}
	for _, l := range threads {
		res.msgs += l.msgs
		res.hist.merge(l.hist)
		res.errs = append(res.errs, l.errs...)
		for _, c := range l.conns {
			if c.dead {
				res.brokenCn++
			}
		}
	}
	if res.msgs == 0 {
		return res, errors.New("no message came back")
	}
	return res, nil
}

// loader is one load thread: an epoll set over its connections.
type loader struct {
	phase *atomic.Int32
	size  int
	conns []*clientConn
	msgs  uint64
	hist  *histogram
	errs  []string
}

func (l *loader) fail(c *clientConn, what string, err error) {
	c.dead = true
	_ = unix.Close(c.fd)
	c.fd = -1
	if len(l.errs) < 5 {
		l.errs = append(l.errs, fmt.Sprintf("%s: %v", what, err))
	}
}

func (l *loader) run() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		l.errs = append(l.errs, "epoll_create: "+err.Error())
		return
	}
	defer unix.Close(ep)
	for i, c := range l.conns {
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(i)}
		if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, c.fd, &ev); err != nil {
			l.fail(c, "epoll_ctl", err)
			continue
		}
		c.t0 = nanotime()
		if err := writeAll(c.fd, c.out); err != nil {
			l.fail(c, "write", err)
		}
	}
	events := make([]unix.EpollEvent, 256)
	alive := len(l.conns)
	for alive > 0 {
		ph := l.phase.Load()
		if ph == phaseStop {
			return
		}
		n, err := unix.EpollWait(ep, events, 100)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			l.errs = append(l.errs, "epoll_wait: "+err.Error())
			return
		}
		for i := 0; i < n; i++ {
			c := l.conns[events[i].Fd]
			if c.dead {
				continue
			}
			m, err := unix.Read(c.fd, c.in[c.got:])
			if err == unix.EAGAIN || err == unix.EINTR {
				continue
			}
			if err != nil || m == 0 {
				if err == nil {
					err = errors.New("server closed the connection")
				}
				l.fail(c, "read", err)
				alive--
				continue
			}
			before := c.got / l.size
			c.got += m
			after := c.got / l.size
			if after > before && ph == phaseMeasure {
				l.hist.record(nanotime()-c.t0, uint64(after-before))
			}
			if c.got < c.batch {
				continue
			}
			if !bytes.Equal(c.in, c.out) {
				l.fail(c, "echo", errors.New("reply differs from what was sent"))
				alive--
				continue
			}
			if ph == phaseMeasure {
				l.msgs += uint64(c.batch / l.size)
			}
			c.got = 0
			c.t0 = nanotime()
			if err := writeAll(c.fd, c.out); err != nil {
				l.fail(c, "write", err)
				alive--
			}
		}
	}
}
