package host

import (
	"github.com/imscript/imscript/host/internal/wire/framing"
)

// The tcp server type: a byte stream, raw or split into packages by
// Swoole's length or EOF framing (host/internal/wire/framing); each
// package is one receive event.

func init() {
	registerProtocol(&protocol{
		name:    "tcp",
		events:  append([]int{hConnect, hReceive, hClose}, commonEvents...),
		framing: true,
		tls:     true,
		newConn: func(*Server, *conn) *httpConn { return nil },
	})
}

// tcpConn is a tcp connection's protocol: it holds no state (the framer is
// the server's), so it costs a connection nothing.
type tcpConn struct{}

// input frames the buffered stream and posts each whole package.
func (tcpConn) input(c *conn, in inbound) {
	s := c.srv
	f := s.framer()
	for {
		buf, _ := in.Peek(-1)
		if len(buf) == 0 {
			return
		}
		n, err := f.Next(buf)
		if err != nil {
			c.badInput(err)
			return
		}
		if n == 0 {
			return
		}
		data := make([]byte, n) // the transport reuses buf
		copy(data, buf[:n])
		s.requestNum.Add(1)
		s.bytesIn.Add(int64(n))
		c.post(tcpPackage{}, data)
		_, _ = in.Discard(n)
	}
}

// push writes a hub message as it is: framing is the script's on tcp.
func (tcpConn) push(c *conn, m *message) bool {
	ok, _ := c.Send(m.data)
	return ok
}

func (tcpConn) gone(*conn) {}

// tcpPackage fires receive with one package.
type tcpPackage struct{}

func (tcpPackage) run(w *worker, ev *event) {
	w.fire(ev.srv, hReceive, ev.srv.obj, ev.conn.idv(), ev.data)
}

// newFramer is the framer a server's (or a client's) settings ask for.
func newFramer(st *settings) *framing.Framer {
	c := framing.Config{Max: st.PackageMaxLength}
	switch {
	case st.OpenLengthCheck:
		c.Mode = framing.Length
		c.LengthType = st.PackageLengthType
		c.LengthOffset = st.PackageLengthOffset
		c.BodyOffset = st.PackageBodyOffset
	case st.OpenEOFCheck:
		c.Mode = framing.EOF
		c.EOF = []byte(st.PackageEOF)
		c.Split = st.OpenEOFSplit
	}
	return framing.New(c)
}
