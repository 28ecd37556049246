package host

import (
	"context"
	"errors"
	"net"
	"sync"
	"syscall"
)

// udpLink is a UDP client: a connected UDP socket (datagrams only to and
// from the peer) with one reader goroutine. Each datagram is one receive
// event; framing settings do not apply.
type udpLink struct {
	cli    *client
	cancel context.CancelFunc

	mu      sync.Mutex
	conn    *net.UDPConn
	closing bool
	aborted bool
}

func init() {
	clientDialers["udp"] = func(cli *client, addr string) clientLink { return dialUDPClient(cli, addr) }
}

func dialUDPClient(cli *client, addr string) *udpLink {
	ctx, cancel := clientDialContext(context.Background(), cli.timeout)
	l := &udpLink{cli: cli, cancel: cancel}
	timeout := cli.timeout
	go func() {
		defer cancel()
		var d net.Dialer
		c, err := d.DialContext(ctx, "udp", addr) // resolves the name; sends nothing
		if err != nil {
			if !l.isAborted() {
				cli.post(l, func() { cli.connectFailed(clientDialError(addr, timeout, err)) })
			}
			return
		}
		conn := c.(*net.UDPConn)
		l.mu.Lock()
		if l.aborted {
			l.mu.Unlock()
			conn.Close()
			return
		}
		l.conn = conn
		l.mu.Unlock()
		cli.post(l, cli.connected)
		l.read(conn)
	}()
	return l
}

func (l *udpLink) isAborted() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.aborted
}

// read delivers datagrams until the socket is closed. A refused datagram
// (ICMP port unreachable) is an error event and the client stays open; any
// other read error is an error event, then close.
func (l *udpLink) read(conn *net.UDPConn) {
	max := l.cli.st.PackageMaxLength
	if max > 65536 {
		max = 65536
	}
	buf := make([]byte, max)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				if !l.isAborted() {
					l.cli.post(l, l.cli.closed)
				}
				return
			}
			if !l.isAborted() {
				msg := clientNetErr(err)
				l.cli.post(l, func() { l.cli.failed(msg) })
			}
			if !errors.Is(err, syscall.ECONNREFUSED) {
				_ = conn.Close() // the next read reports the close
			}
			continue
		}
		data := make([]byte, n)
		copy(data, buf[:n])
		l.cli.post(l, func() { l.cli.received(data) })
	}
}

func (l *udpLink) send(b []byte) (bool, string) {
	l.mu.Lock()
	conn := l.conn
	closed := l.closing || l.aborted
	l.mu.Unlock()
	if conn == nil || closed {
		return false, "not connected"
	}
	if _, err := conn.Write(b); err != nil {
		return false, clientNetErr(err)
	}
	return true, ""
}

func (l *udpLink) close() {
	l.mu.Lock()
	conn := l.conn
	l.closing = true
	l.mu.Unlock()
	if conn != nil {
		_ = conn.Close() // the reader sees ErrClosed and reports close
	}
}

func (l *udpLink) abort() {
	l.cancel()
	l.mu.Lock()
	l.aborted = true
	conn := l.conn
	l.mu.Unlock()
	if conn != nil {
		_ = conn.Close()
	}
}
