package host

// Inbound is a connection's received bytes not yet consumed, as its
// transport buffers them. gnet.Conn implements it; so does the net
// transport's buffer. Protocol code (framing, HTTP, WebSocket) reads only
// through it, so it runs unchanged on either transport.
type Inbound interface {
	// Peek returns the next n buffered bytes without consuming them
	// (n < 0: everything buffered).
	Peek(n int) ([]byte, error)
	// Discard consumes n bytes.
	Discard(n int) (int, error)
	// InboundBuffered is how many bytes are buffered.
	InboundBuffered() int
}

// onData turns a connection's buffered input into events for its worker.
// It runs on the transport's goroutine (the event loop for gnet), never
// blocks, and consumes only complete units (packages, requests, frames).
func (s *Server) onData(c *Conn, in Inbound) {
	if c.bad {
		_, _ = in.Discard(in.InboundBuffered())
		return
	}
	c.lastTime.Store(s.host.now())
	switch {
	case c.ws != nil:
		s.wsData(c, in)
	case s.decl.Type == "http" || s.decl.Type == "websocket":
		s.httpData(c, in)
	default:
		s.tcpData(c, in)
	}
}

// tcpData frames a plain TCP stream (raw, length or EOF framing).
func (s *Server) tcpData(c *Conn, in Inbound) {
	f := s.framer()
	for {
		buf, _ := in.Peek(-1)
		if len(buf) == 0 {
			return
		}
		n, err := f.next(buf)
		if err != nil {
			s.badInput(c, err)
			return
		}
		if n == 0 {
			return
		}
		s.deliver(c, buf[:n])
		_, _ = in.Discard(n)
	}
}

// badInput drops the rest of a connection's input and closes it through
// its worker's queue, so the units already framed still get their replies.
func (s *Server) badInput(c *Conn, err error) {
	s.host.log.Warn("bad input, closing connection", "server", s.Addr(), "fd", c.id, "remote", addrString(c.remote), "err", err)
	c.bad = true
	c.worker.Post(func() { c.Close() })
}

func addrString(a interface{ String() string }) string {
	if a == nil {
		return ""
	}
	return a.String()
}
