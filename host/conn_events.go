package host

import "time"

// A connection's life as the workers see it: the transport accepts it
// (newConn, accept), its protocol posts units of input, the transport
// reports it gone (closed). Its connect and close events run on the
// worker the connection is pinned to, in order with its input.

// newConn makes the state of an accepted connection (transport goroutine);
// the transport sets its side (gc, or x with t and remote) before accept.
func (h *Host) newConn(s *Server) *conn {
	c := &conn{
		id:       h.nextID.Add(1),
		srv:      s,
		openedAt: uint32(time.Now().Unix()),
	}
	c.http = s.proto.newConn(s, c)
	c.lastTime.Store(h.now())
	return c
}

// accept publishes a new connection and queues its connect event.
func (h *Host) accept(c *conn) {
	h.conns.put(c)
	c.srv.connNum.Add(1)
	c.srv.acceptCount.Add(1)
	c.post(connectUnit{}, nil)
}

// closed is called by a transport when a connection is gone.
func (h *Host) closed(c *conn) {
	c.markClosed()
	c.srv.connNum.Add(-1)
	c.srv.closeCount.Add(1)
	c.post(closeUnit{}, nil)
}

// connectUnit fires connect.
type connectUnit struct{}

func (connectUnit) run(w *worker, ev *event) {
	if w.handles(ev.srv, hConnect) {
		w.fire(ev.srv, hConnect, ev.srv.obj, ev.conn.idv())
	}
}

// closeUnit lets the protocol forget the connection, fires close, and
// takes the connection out of the hub and the fd table.
type closeUnit struct{}

func (closeUnit) run(w *worker, ev *event) {
	c := ev.conn
	c.proto().gone(c)
	if w.handles(ev.srv, hClose) {
		w.fire(ev.srv, hClose, ev.srv.obj, c.idv())
	}
	w.host.hub.drop(c)
	w.host.conns.del(c.id)
}
