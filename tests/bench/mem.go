package main

import (
	"fmt"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// memResult is a server's memory before and after n idle connections.
type memResult struct {
	conns         int
	before, after memInfo
}

func (m memResult) pssPerConn() float64 {
	return float64(m.after.pss-m.before.pss) / float64(m.conns)
}

func (m memResult) rssPerConn() float64 {
	return float64(m.after.rss-m.before.rss) / float64(m.conns)
}

// measureIdle opens n idle connections to s and reads its memory before
// and after. It waits until the server holds all n descriptors, then lets
// it settle before reading.
func measureIdle(s *server, n int, settle time.Duration, heapProfile bool, dial func(addr netip.AddrPort, n, par int) ([]int, error)) (memResult, error) {
	res := memResult{conns: n}
	time.Sleep(settle)
	before, err := readMem(s.pid)
	if err != nil {
		return res, err
	}
	res.before = before
	fdBase := countFDs(s.pid)

	fds, err := dial(s.addr, n, 32)
	defer closeRST(fds)
	if err != nil {
		return res, err
	}
	deadline := time.Now().Add(60 * time.Second)
	for countFDs(s.pid) < fdBase+n {
		if !s.alive() {
			return res, errServerDied
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("server holds %d of %d connections after 60s", countFDs(s.pid)-fdBase, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Let the server finish its per-connection work (connect events, GC
	// cycles), then read memory a few times and keep the last reading.
	for i := 0; i < 3; i++ {
		time.Sleep(settle)
		if res.after, err = readMem(s.pid); err != nil {
			return res, err
		}
	}
	if !s.alive() {
		return res, errServerDied
	}
	if heapProfile {
		// sigprof: SIGUSR2 writes a heap profile while the connections are open.
		s.signal(syscall.SIGUSR1)
		time.Sleep(100 * time.Millisecond)
		s.signal(syscall.SIGUSR2)
		time.Sleep(500 * time.Millisecond)
	}
	return res, nil
}

// dialMany opens n connections with par dialers.
func dialMany(addr netip.AddrPort, n, par int) ([]int, error) {
	return dialManyWith(addr, n, par, dialRaw)
}

// dialManyWS opens n upgraded WebSocket connections with par dialers.
func dialManyWS(addr netip.AddrPort, n, par int) ([]int, error) {
	return dialManyWith(addr, n, par, func(addr netip.AddrPort) (int, error) {
		fd, _, err := wsDial(addr, 10*time.Second)
		return fd, err
	})
}

func dialManyWith(addr netip.AddrPort, n, par int, dialOne func(netip.AddrPort) (int, error)) ([]int, error) {
	fds := make([]int, 0, n)
	var mu sync.Mutex
	var firstErr error
	next := make(chan struct{}, n)
	for i := 0; i < n; i++ {
		next <- struct{}{}
	}
	close(next)
	var wg sync.WaitGroup
	for w := 0; w < par; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				fd, err := dialOne(addr)
				mu.Lock()
				if err != nil {
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				fds = append(fds, fd)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return fds, fmt.Errorf("opened %d of %d connections: %w", len(fds), n, firstErr)
	}
	return fds, nil
}

// closeRST closes connections with a reset, so no TIME_WAIT is left behind.
func closeRST(fds []int) {
	for _, fd := range fds {
		_ = unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
		_ = unix.Close(fd)
	}
}
