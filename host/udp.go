package host

import (
	"errors"
	"fmt"
	"hash/maphash"
	"net"
)

// UDP listeners use the net package: one reader goroutine per listener (not
// per peer). Datagrams from one peer always go to the same worker, so they
// are handled in order.

var udpSeed = maphash.MakeSeed()

func (s *Server) listenUDP() error {
	addr := joinHostPort(s.decl.Host, s.decl.Port)
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return fmt.Errorf("listen udp %s: %w", addr, err)
	}
	conn, err := net.ListenUDP("udp", ua)
	if err != nil {
		return fmt.Errorf("listen udp %s: %w", addr, err)
	}
	s.udp = conn
	s.port.Store(int64(conn.LocalAddr().(*net.UDPAddr).Port))
	go s.readUDP(conn)
	return nil
}

func (s *Server) readUDP(conn *net.UDPConn) {
	buf := make([]byte, 65536)
	for {
		n, from, err := conn.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.host.log.Warn("udp read", "server", s.Addr(), "err", err)
			continue
		}
		if s.host.stopping.Load() {
			continue
		}
		data := make([]byte, n)
		copy(data, buf[:n])
		s.requestNum.Add(1)
		s.bytesIn.Add(int64(n))
		w := s.host.workers[maphash.Bytes(udpSeed, []byte(from.String()))%uint64(len(s.host.workers))]
		w.q.post(event{kind: evPacket, srv: s, data: data, addr: from})
	}
}

// SendTo sends one datagram from a udp server's socket.
func (s *Server) SendTo(ip string, port int, data []byte) (bool, string) {
	if s.udp == nil {
		return false, "not a listening udp server"
	}
	addr := net.UDPAddr{IP: net.ParseIP(ip), Port: port}
	if addr.IP == nil {
		return false, fmt.Sprintf("bad ip address %q", ip)
	}
	if _, err := s.udp.WriteToUDP(data, &addr); err != nil {
		return false, err.Error()
	}
	s.bytesOut.Add(int64(len(data)))
	return true, ""
}
