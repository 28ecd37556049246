package host

import "context"

// Transports carry connections' bytes. There are two: the gnet event loops
// (plain TCP, transport_gnet.go) and, for TLS, the standard net package
// (transport_net.go). Datagram servers have their own socket (proto_udp.go).
// The layers above see only conn (output) and inbound (input).

// transport is one connection's side of a transport.
type transport interface {
	// Flush asks the transport to write the connection's pending output
	// (conn.takeOutput). Called from any goroutine, once per batch.
	Flush(c *conn)
}

// directWriter is a transport that can write a connection's socket from
// any goroutine (conn.flushNow). writeNow never blocks: it returns how
// many bytes the socket took. The transport must mark the connection
// closed (conn.markClosed, under its lock) before it closes the socket.
type directWriter interface {
	writeNow(b []byte) (int, error)
}

// inbound is a connection's received bytes not yet consumed, as its
// transport buffers them. gnet.Conn implements it; so does the net
// transport's buffer. Protocol code reads only through it, so it runs
// unchanged on either transport.
type inbound interface {
	// Peek returns the next n buffered bytes without consuming them
	// (n < 0: everything buffered).
	Peek(n int) ([]byte, error)
	// Discard consumes n bytes.
	Discard(n int) (int, error)
	// InboundBuffered is how many bytes are buffered.
	InboundBuffered() int
}

// listener is a server's open socket on a transport.
type listener interface {
	// stop closes the socket and the connections it accepted.
	stop(ctx context.Context) error
}

// onData hands a connection's buffered input to its protocol. It runs on
// the transport's goroutine (the event loop for gnet) and never blocks.
func (c *conn) onData(in inbound) {
	if c.bad {
		_, _ = in.Discard(in.InboundBuffered())
		return
	}
	c.lastTime.Store(c.srv.host.now())
	c.proto().input(c, in)
}

// badInput drops the rest of a connection's input and closes it through
// its worker's queue, so the units already framed still get their replies.
func (c *conn) badInput(err error) {
	s := c.srv
	s.host.log.Warn("bad input, closing connection", "server", s.addr(), "fd", c.id, "remote", addrString(c.remoteAddr()), "err", err)
	c.bad = true
	c.srv.post(c.worker(), event{fn: func() { c.Close() }})
}

func addrString(a interface{ String() string }) string {
	if a == nil {
		return ""
	}
	return a.String()
}
