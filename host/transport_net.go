package host

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sync"
	"time"
)

// The net transport carries TLS listeners (gnet has no TLS): a reader and a
// writer goroutine per connection, feeding the same protocol code through
// inbound and draining the same conn output queue as the gnet transport.

const (
	tlsHandshakeTimeout = 10 * time.Second
	netWriteTimeout     = 30 * time.Second
	netReadChunk        = 32 << 10
)

type netConn struct {
	nc   net.Conn
	c    *conn
	wake chan struct{}
	in   netInbound
	once sync.Once
}

// netInbound is a growable buffer implementing Inbound.
type netInbound struct {
	buf []byte
	off int
}

func (b *netInbound) Peek(n int) ([]byte, error) {
	avail := b.buf[b.off:]
	if n < 0 || n > len(avail) {
		if n > len(avail) {
			return avail, io.ErrShortBuffer
		}
		return avail, nil
	}
	return avail[:n], nil
}

func (b *netInbound) Discard(n int) (int, error) {
	if avail := len(b.buf) - b.off; n > avail {
		n = avail
	}
	b.off += n
	if b.off == len(b.buf) {
		b.buf, b.off = b.buf[:0], 0
		if cap(b.buf) > 256<<10 {
			b.buf = nil // a large message is done: give the memory back
		}
	}
	return n, nil
}

func (b *netInbound) InboundBuffered() int { return len(b.buf) - b.off }

// fill reads once from r into the buffer.
func (b *netInbound) fill(r io.Reader) error {
	if b.off > 0 && b.off == len(b.buf) {
		b.buf, b.off = b.buf[:0], 0
	}
	if b.off > 0 && cap(b.buf)-len(b.buf) < netReadChunk {
		n := copy(b.buf, b.buf[b.off:])
		b.buf, b.off = b.buf[:n], 0
	}
	if cap(b.buf)-len(b.buf) < netReadChunk {
		nb := make([]byte, len(b.buf), len(b.buf)+netReadChunk)
		copy(nb, b.buf)
		b.buf = nb
	}
	n, err := r.Read(b.buf[len(b.buf):cap(b.buf)])
	b.buf = b.buf[:len(b.buf)+n]
	return err
}

func (s *Server) listenTLS() (listener, error) {
	st := s.decl
	certFile, keyFile := st.SSLCertFile, st.SSLKeyFile
	dir := filepath.Dir(s.host.cfg.Script)
	if !filepath.IsAbs(certFile) {
		certFile = filepath.Join(dir, certFile)
	}
	if !filepath.IsAbs(keyFile) {
		keyFile = filepath.Join(dir, keyFile)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("listen %s: load certificate: %w", s.key, err)
	}
	addr := joinHostPort(st.Host, st.Port)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	s.port.Store(int64(ln.Addr().(*net.TCPAddr).Port))
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	cfg.NextProtos = s.proto.alpn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			nc, err := ln.Accept()
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				s.host.log.Warn("accept", "server", s.addr(), "err", err)
				time.Sleep(10 * time.Millisecond)
				continue
			}
			go s.serveTLS(tls.Server(nc, cfg))
		}
	}()
	return &netListener{s: s, ln: ln, done: done}, nil
}

// netListener is a TLS server's listening socket.
type netListener struct {
	s    *Server
	ln   net.Listener
	done chan struct{} // the accept loop ended
}

// stop closes the socket and every connection it accepted.
func (l *netListener) stop(context.Context) error {
	err := l.ln.Close()
	<-l.done
	l.s.host.conns.each(func(c *conn) {
		if nt, ok := c.transport().(*netConn); ok && c.srv == l.s {
			nt.close()
		}
	})
	return err
}

func (s *Server) serveTLS(tc *tls.Conn) {
	h := s.host
	if h.stopping.Load() || s.closing.Load() || s.connNum.Load() >= int64(s.settings().MaxConnection) {
		if !h.stopping.Load() && !s.closing.Load() {
			s.rejectCount.Add(1)
		}
		_ = tc.Close()
		return
	}
	_ = tc.SetDeadline(time.Now().Add(tlsHandshakeTimeout))
	if err := tc.Handshake(); err != nil {
		h.log.Debug("tls handshake failed", "server", s.addr(), "remote", tc.RemoteAddr().String(), "err", err)
		_ = tc.Close()
		return
	}
	_ = tc.SetDeadline(time.Time{})
	c := h.newConn(s)
	t := &netConn{nc: tc, c: c, wake: make(chan struct{}, 1)}
	c.x.Store(&connExt{t: t, remote: tc.RemoteAddr()})
	h.accept(c)
	go t.writer()
	t.reader()
}

func (t *netConn) reader() {
	s := t.c.srv
	for {
		err := t.in.fill(t.nc)
		if t.in.InboundBuffered() > 0 {
			t.c.onData(&t.in)
		}
		if err != nil {
			break
		}
	}
	t.close()
	s.host.closed(t.c)
	// Wake the writer so it sees the closed state and exits.
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

func (t *netConn) writer() {
	for range t.wake {
		out, closeAfter := t.c.takeOutput()
		if len(out) > 0 {
			_ = t.nc.SetWriteDeadline(time.Now().Add(netWriteTimeout))
			if _, err := t.nc.Write(out); err != nil {
				t.close()
				return
			}
			t.c.recycle(out)
		}
		if closeAfter || t.c.closedState() {
			t.close()
			return
		}
	}
}

// Flush implements Transport.
func (t *netConn) Flush(*conn) {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

func (t *netConn) close() {
	t.once.Do(func() {
		if tc, ok := t.nc.(*tls.Conn); ok {
			_ = tc.SetWriteDeadline(time.Now().Add(time.Second))
			_ = tc.CloseWrite()
		}
		_ = t.nc.Close()
	})
}
