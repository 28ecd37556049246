package main

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// What the load generators' threads have in common (the TCP echo loader,
// the request/reply loader and the broadcast rows' readers): each has an
// OS thread to itself, with one epoll set over its share of the
// connections, and a connection that breaks is closed, counted and its
// error kept while the others go on. The helpers take a connection by a
// pointer to its descriptor, which is -1 once the connection broke, so that
// one set of them serves all the connection types; they are plain methods
// on a concrete type, as they run for every read and write.

// poller is one load thread's epoll set. A connection's event data is its
// index in the thread's share of the connections.
type poller struct {
	ep     int
	events []unix.EpollEvent
	rst    bool     // close broken connections with a reset (see closeFD)
	live   int      // connections added and not broken
	broken int      // connections that broke
	errs   []string // the first few errors
}

// open locks the calling goroutine to its OS thread and creates the epoll
// set. When that fails it keeps the error and returns false; otherwise
// the thread calls close when it ends.
func (p *poller) open() bool {
	runtime.LockOSThread()
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		runtime.UnlockOSThread()
		p.errs = append(p.errs, "epoll_create: "+err.Error())
		return false
	}
	p.ep = ep
	p.events = make([]unix.EpollEvent, 256)
	return true
}

func (p *poller) close() {
	_ = unix.Close(p.ep)
	runtime.UnlockOSThread()
}

// add watches connection i of the thread (descriptor *fd) for reading.
// When that fails the connection is broken, and add returns false.
func (p *poller) add(i int, fd *int) bool {
	p.live++
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(i)}
	if err := unix.EpollCtl(p.ep, unix.EPOLL_CTL_ADD, *fd, &ev); err != nil {
		p.fail(fd, "epoll_ctl", err)
		return false
	}
	return true
}

// wait waits up to ms milliseconds for events. It returns none when a
// signal interrupted it, so that the caller looks at its stop condition
// again, and ok false when epoll_wait failed: the thread must end.
func (p *poller) wait(ms int) (events []unix.EpollEvent, ok bool) {
	n, err := unix.EpollWait(p.ep, p.events, ms)
	if err == unix.EINTR {
		return nil, true
	}
	if err != nil {
		p.errs = append(p.errs, "epoll_wait: "+err.Error())
		return nil, false
	}
	return p.events[:n], true
}

// read reads what connection *fd has into b and returns how many bytes
// came: 0 when none were there yet, or when the read failed or the server
// closed the connection, which then broke.
func (p *poller) read(fd *int, b []byte) int {
	m, err := unix.Read(*fd, b)
	if err == unix.EAGAIN || err == unix.EINTR {
		return 0
	}
	if err != nil || m == 0 {
		if err == nil {
			err = errors.New("server closed the connection")
		}
		p.fail(fd, "read", err)
		return 0
	}
	return m
}

// write writes all of b on connection *fd, which breaks if that fails.
func (p *poller) write(fd *int, b []byte) {
	if err := writeAll(*fd, b); err != nil {
		p.fail(fd, "write", err)
	}
}

// fail breaks a connection: closes it, counts it and keeps the first few
// errors.
func (p *poller) fail(fd *int, what string, err error) {
	closeFD(fd, p.rst)
	p.live--
	p.broken++
	if len(p.errs) < 5 {
		p.errs = append(p.errs, fmt.Sprintf("%s: %v", what, err))
	}
}

// closeFD closes connection *fd, unless it is closed already, and sets *fd
// to -1 (before the close, as another goroutine may look at it). With rst
// the close is a reset, so that no TIME_WAIT is left behind by rows of
// many connections.
func closeFD(fd *int, rst bool) {
	c := *fd
	if c < 0 {
		return
	}
	*fd = -1
	if rst {
		_ = unix.SetsockoptLinger(c, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
	}
	_ = unix.Close(c)
}

// share is thread t's share of all among n threads: every n-th element,
// from the t-th on.
func share[T any](all []T, t, n int) []T {
	var s []T
	for i := t; i < len(all); i += n {
		s = append(s, all[i])
	}
	return s
}

// dialAll runs dial(i) for every i below n, par at a time, and returns the
// first error. A dialer stops at its error while the others go on; the
// caller closes whatever dial opened, error or not.
func dialAll(n, par int, dial func(i int) error) error {
	var next atomic.Int64
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for range max(1, par) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := dial(i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return firstErr
}
