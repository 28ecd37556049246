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

var monoBase = time.Now()

func nanotime() int64 { return int64(time.Since(monoBase)) }

// dialTCP opens a blocking TCP connection with TCP_NODELAY.
func dialTCP(addr netip.AddrPort) (int, error) {
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
	return fd, nil
}

// dialRaw opens a blocking TCP connection and returns its descriptor made
// non-blocking, with TCP_NODELAY.
func dialRaw(addr netip.AddrPort) (int, error) {
	fd, err := dialTCP(addr)
	if err != nil {
		return -1, err
	}
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
	conns := make([]*rrConn, 0, spec.conns)
	closeAll := func() {
		for _, c := range conns {
			closeFD(&c.fd, false)
		}
	}
	for i := 0; i < spec.conns; i++ {
		fd, err := dialRaw(spec.addr)
		if err != nil {
			closeAll()
			return nil, err
		}
		c := &rrConn{fd: fd, out: make([]byte, batch), in: make([]byte, batch)}
		for j := range c.out {
			c.out[j] = byte(i*7 + j*13 + j/spec.size)
		}
		conns = append(conns, c)
	}
	defer closeAll()

	var run loadRun
	for t := range spec.threads {
		run.start(&loadThread{conns: share(conns, t, spec.threads), size: spec.size})
	}
	res := run.measure(spec.warmup, spec.duration, spec.onMeasure, spec.onDone)
	if res.msgs == 0 {
		return res, errors.New("no message came back")
	}
	return res, nil
}

// loadThread is one load thread of a TCP echo or request/reply row: an
// epoll set over its connections, each with one batch or request
// outstanding.
type loadThread struct {
	poller
	phase *atomic.Int32
	conns []*rrConn
	size  int         // the TCP echo's message size
	parse replyParser // a request/reply row's parser; nil for the TCP echo
	msgs  uint64
	hist  *histogram
}

// loadRun runs the threads of one TCP echo or request/reply row through
// the phases: warm-up, the measured window, stop.
type loadRun struct {
	phase   atomic.Int32
	rst     bool // the threads close broken connections with a reset
	threads []*loadThread
	wg      sync.WaitGroup
}

// start starts a thread, in the warm-up phase.
func (r *loadRun) start(l *loadThread) {
	l.phase, l.hist, l.rst = &r.phase, newHistogram(), r.rst
	r.threads = append(r.threads, l)
	r.wg.Go(l.run)
}

// measure lets the threads warm up, then opens the measured window for
// duration (onMeasure and onDone, when set, run as it opens and closes),
// stops the threads and adds up what they measured.
func (r *loadRun) measure(warmup, duration time.Duration, onMeasure, onDone func()) *loadResult {
	time.Sleep(warmup)
	if onMeasure != nil {
		onMeasure()
	}
	start := time.Now()
	r.phase.Store(phaseMeasure)
	time.Sleep(duration)
	r.phase.Store(phaseStop)
	elapsed := time.Since(start)
	if onDone != nil {
		onDone()
	}
	r.wg.Wait()

	res := &loadResult{elapsed: elapsed, hist: newHistogram()}
	for _, l := range r.threads {
		res.msgs += l.msgs
		res.hist.merge(l.hist)
		res.errs = append(res.errs, l.errs...)
		res.brokenCn += l.broken
	}
	return res
}

// run writes every connection's first batch or request, then handles what
// comes back until the row stops or no connection is left. The two kinds
// of row differ only in what they do with a connection's bytes: a plain
// method each (echo, reply), chosen by a branch rather than called through
// a function value, so that an event costs no indirect call.
func (l *loadThread) run() {
	if !l.open() {
		return
	}
	defer l.close()
	for i, c := range l.conns {
		if l.add(i, &c.fd) {
			l.send(c)
		}
	}
	for l.live > 0 {
		ph := l.phase.Load()
		if ph == phaseStop {
			return
		}
		events, ok := l.wait(100)
		if !ok {
			return
		}
		for _, ev := range events {
			c := l.conns[ev.Fd]
			switch {
			case c.fd < 0:
			case l.parse == nil:
				l.echo(c, ph)
			default:
				l.reply(c, ph)
			}
		}
	}
}

// send writes c's batch or request and notes when.
func (l *loadThread) send(c *rrConn) {
	c.got = 0
	c.t0 = nanotime()
	l.write(&c.fd, c.out)
}

// echo reads what came back of c's batch, recording each message's
// latency as its last byte arrives, and sends the batch again once all of
// it came back unchanged.
func (l *loadThread) echo(c *rrConn, ph int32) {
	m := l.read(&c.fd, c.in[c.got:])
	if m == 0 {
		return
	}
	before := c.got / l.size
	c.got += m
	after := c.got / l.size
	if after > before && ph == phaseMeasure {
		l.hist.record(nanotime()-c.t0, uint64(after-before))
	}
	if c.got < len(c.out) {
		return
	}
	if !bytes.Equal(c.in, c.out) {
		l.fail(&c.fd, "echo", errors.New("reply differs from what was sent"))
		return
	}
	if ph == phaseMeasure {
		l.msgs += uint64(len(c.out) / l.size)
	}
	l.send(c)
}
