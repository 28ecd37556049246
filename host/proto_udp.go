package host

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"net"
	"net/netip"

	"github.com/imscript/imscript/script"
)

// The udp server type: datagrams on a socket of the net package, one
// reader goroutine per listener (not per peer). Datagrams from one peer
// always go to the same worker, so they are handled in order.

func init() {
	registerProtocol(&protocol{
		name:   "udp",
		events: append([]int{hPacket}, commonEvents...),
		listen: listenUDP,
	})
}

var udpSeed = maphash.MakeSeed()

// udpListener is a udp server's socket.
type udpListener struct {
	s    *Server
	conn *net.UDPConn
}

func listenUDP(s *Server) (listener, error) {
	addr := joinHostPort(s.decl.Host, s.decl.Port)
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen udp %s: %w", addr, err)
	}
	conn, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, fmt.Errorf("listen udp %s: %w", addr, err)
	}
	s.port.Store(int64(conn.LocalAddr().(*net.UDPAddr).Port))
	l := &udpListener{s: s, conn: conn}
	go l.read()
	return l, nil
}

func (l *udpListener) stop(context.Context) error { return l.conn.Close() }

func (l *udpListener) read() {
	s := l.s
	buf := make([]byte, 65536)
	for {
		n, from, err := l.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.host.log.Warn("udp read", "server", s.addr(), "err", err)
			continue
		}
		if s.host.stopping.Load() {
			continue
		}
		data := make([]byte, n)
		copy(data, buf[:n])
		s.requestNum.Add(1)
		s.bytesIn.Add(int64(n))
		b := from.Addr().As16()
		h := maphash.Bytes(udpSeed, b[:]) ^ uint64(from.Port())
		w := s.host.workers[h%uint64(len(s.host.workers))]
		s.post(w, event{u: datagram{from: from}, srv: s, data: data})
	}
}

// datagram fires packet with one datagram and its sender.
type datagram struct{ from netip.AddrPort }

func (d datagram) run(w *worker, ev *event) {
	addr := script.Map{"address": d.from.Addr().Unmap().String(), "port": int64(d.from.Port())}
	w.fire(ev.srv, hPacket, ev.srv.obj, ev.data, addr)
}

// sendTo sends one datagram from the server's socket (srv:sendto).
func (l *udpListener) sendTo(ip string, port int, data []byte) (bool, string) {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return false, fmt.Sprintf("bad ip address %q", ip)
	}
	if _, err := l.conn.WriteToUDPAddrPort(data, netip.AddrPortFrom(addr, uint16(port))); err != nil {
		return false, err.Error()
	}
	l.s.bytesOut.Add(int64(len(data)))
	l.s.msgsOut.Add(1)
	return true, ""
}

// sendTo sends one datagram from a udp server's socket.
func (s *Server) sendTo(ip string, port int, data []byte) (bool, string) {
	l, ok := s.ln.(*udpListener)
	if !ok {
		return false, "not a listening udp server"
	}
	return l.sendTo(ip, port, data)
}
