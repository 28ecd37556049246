package main

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// The request/reply load generator of the HTTP and WebSocket echo rows,
// built like the TCP one (a few epoll threads, raw non-blocking reads and
// writes, no goroutine per connection) but for protocols with framing:
// every connection keeps exactly one request outstanding, as wrk does, and
// a protocol-specific parser finds where the reply ends in the bytes read
// so far. A request is prepared once per connection and written with a
// single write each time.

// rrConn is one connection of a request/reply row.
type rrConn struct {
	fd   int
	out  []byte // one request, ready to write
	want []byte // what the reply must carry (HTTP body, WebSocket payload)
	in   []byte // read buffer
	got  int    // bytes in in
	t0   int64  // when the outstanding request was written
	dead bool
}

// replyParser reports how many bytes at the start of b form one whole,
// correct reply to c's request: 0 when more bytes are needed.
type replyParser func(c *rrConn, b []byte) (int, error)

// rrSpec is one request/reply row.
type rrSpec struct {
	conns    int
	threads  int
	warmup   time.Duration
	duration time.Duration
	// dial opens connection i, ready for its first request.
	dial   func(i int) (*rrConn, error)
	parse  replyParser
	dialer int // dials in parallel
	// onMeasure and onDone run when the measured window opens and closes.
	onMeasure func()
	onDone    func()
}

// runRR runs one request/reply row: connect, warm up, measure.
func runRR(spec rrSpec) (*loadResult, error) {
	spec.threads = max(1, min(spec.threads, spec.conns))
	conns := make([]*rrConn, spec.conns)
	var dialErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for w := 0; w < max(1, spec.dialer); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= spec.conns {
					return
				}
				c, err := spec.dial(i)
				mu.Lock()
				if err != nil {
					if dialErr == nil {
						dialErr = fmt.Errorf("connection %d: %w", i, err)
					}
					mu.Unlock()
					return
				}
				conns[i] = c
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	defer func() {
		for _, c := range conns {
			if c != nil && c.fd >= 0 {
				_ = unix.SetsockoptLinger(c.fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
				_ = unix.Close(c.fd)
			}
		}
	}()
	if dialErr != nil {
		return nil, dialErr
	}

	var phase atomic.Int32
	threads := make([]*rrLoader, spec.threads)
	for t := range threads {
		l := &rrLoader{phase: &phase, parse: spec.parse, hist: newHistogram()}
		for i := t; i < len(conns); i += spec.threads {
			l.conns = append(l.conns, conns[i])
		}
		threads[t] = l
	}
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
		return res, fmt.Errorf("no reply came back (%s)", orDash(firstN(res.errs, 3)))
	}
	return res, nil
}

func firstN(errs []string, n int) string {
	if len(errs) > n {
		errs = errs[:n]
	}
	var b bytes.Buffer
	for i, e := range errs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e)
	}
	return b.String()
}

// rrLoader is one load thread of a request/reply row.
type rrLoader struct {
	phase *atomic.Int32
	parse replyParser
	conns []*rrConn
	msgs  uint64
	hist  *histogram
	errs  []string
}

func (l *rrLoader) fail(c *rrConn, what string, err error) {
	c.dead = true
	_ = unix.SetsockoptLinger(c.fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
	_ = unix.Close(c.fd)
	c.fd = -1
	if len(l.errs) < 5 {
		l.errs = append(l.errs, fmt.Sprintf("%s: %v", what, err))
	}
}

const rrMaxBuffer = 1 << 20

func (l *rrLoader) run() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		l.errs = append(l.errs, "epoll_create: "+err.Error())
		return
	}
	defer unix.Close(ep)
	alive := 0
	for i, c := range l.conns {
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(i)}
		if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, c.fd, &ev); err != nil {
			l.fail(c, "epoll_ctl", err)
			continue
		}
		c.t0 = nanotime()
		if err := writeAll(c.fd, c.out); err != nil {
			l.fail(c, "write", err)
			continue
		}
		alive++
	}
	events := make([]unix.EpollEvent, 256)
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
			if c.got == len(c.in) {
				if len(c.in) >= rrMaxBuffer {
					l.fail(c, "read", fmt.Errorf("no whole reply in %d bytes", c.got))
					alive--
					continue
				}
				c.in = append(c.in, make([]byte, len(c.in))...)
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
			c.got += m
			k, err := l.parse(c, c.in[:c.got])
			if err != nil {
				l.fail(c, "reply", err)
				alive--
				continue
			}
			if k == 0 {
				continue
			}
			if k < c.got {
				l.fail(c, "reply", fmt.Errorf("%d unexpected bytes after a whole reply: %q", c.got-k, clip(c.in[k:c.got], 80)))
				alive--
				continue
			}
			if ph == phaseMeasure {
				l.msgs++
				l.hist.record(nanotime()-c.t0, 1)
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

func clip(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// HTTP

var crlfcrlf = []byte("\r\n\r\n")

// httpRequest is the hello row's request: a keep-alive GET.
func httpRequest(host string) []byte {
	return []byte("GET / HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: imscript-bench\r\nAccept: */*\r\n\r\n")
}

// parseHTTPReply accepts one "200" response with a Content-Length body
// equal to c.want, on a connection the server keeps open.
func parseHTTPReply(c *rrConn, b []byte) (int, error) {
	end := bytes.Index(b, crlfcrlf)
	if end < 0 {
		if len(b) > 64<<10 {
			return 0, errors.New("response header over 64 KiB")
		}
		return 0, nil
	}
	head := b[:end+2]
	if !bytes.HasPrefix(head, []byte("HTTP/1.1 200")) {
		line, _, _ := bytes.Cut(head, []byte("\r\n"))
		return 0, fmt.Errorf("status line %q", line)
	}
	v, ok := headerValue(head, "content-length")
	if !ok {
		if te, ok := headerValue(head, "transfer-encoding"); ok {
			return 0, fmt.Errorf("response without Content-Length (Transfer-Encoding %q)", te)
		}
		return 0, errors.New("response without Content-Length")
	}
	size, err := strconv.Atoi(string(v))
	if err != nil || size < 0 {
		return 0, fmt.Errorf("Content-Length %q", v)
	}
	if cv, ok := headerValue(head, "connection"); ok && equalFoldLower(cv, "close") {
		return 0, errors.New("the server closes the connection (Connection: close)")
	}
	total := end + 4 + size
	if len(b) < total {
		return 0, nil
	}
	if body := b[end+4 : total]; !bytes.Equal(body, c.want) {
		return 0, fmt.Errorf("body %q, want %q", clip(body, 80), c.want)
	}
	return total, nil
}

// WebSocket echo

// parseWSEcho accepts one final text frame carrying c.want.
func parseWSEcho(c *rrConn, b []byte) (int, error) {
	f, n, err := parseServerFrame(b)
	if err != nil || n == 0 {
		return 0, err
	}
	switch {
	case f.opcode == opClose:
		return 0, errors.New(closeReason(f.payload))
	case f.opcode != opText || !f.fin:
		return 0, fmt.Errorf("frame opcode %#x fin %v, want a final text frame", f.opcode, f.fin)
	case !bytes.Equal(f.payload, c.want):
		return 0, fmt.Errorf("payload %q, want %q", clip(f.payload, 80), clip(c.want, 80))
	}
	return n, nil
}

// wsEchoPayload is connection i's message: printable ASCII (valid UTF-8).
func wsEchoPayload(i, size int) []byte {
	p := make([]byte, size)
	for j := range p {
		p[j] = byte('!' + (i*7+j*13)%94)
	}
	return p
}
