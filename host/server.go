package host

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imscript/imscript/host/internal/wire/framing"
	"github.com/imscript/imscript/script"
)

// Server is one listener declared by the script, keyed by type and address.
// It outlives script versions: a reload that declares the same address gets
// the same Server, with its connections.
type Server struct {
	host  *Host
	key   string
	obj   *script.Object
	decl  *settings // settings it was opened with (type, host, port)
	proto *protocol // what decl.Type names (proto.go)

	cfg  atomic.Pointer[serverConfig]
	port atomic.Int64

	listening bool
	closing   atomic.Bool
	// wsGoingAway is set when the host, stopping, sends every open
	// WebSocket connection its 1001 (proto_ws.go).
	wsGoingAway atomic.Bool
	ln          listener
	hbStop      chan struct{}
	// gate holds the events of a listener opened before its version is
	// active (a reload binds new listeners first): see post.
	gate atomic.Pointer[eventGate]

	startTime   int64
	connNum     atomic.Int64
	acceptCount atomic.Int64
	closeCount  atomic.Int64
	rejectCount atomic.Int64
	requestNum  atomic.Int64
	bytesIn     atomic.Int64
	bytesOut    atomic.Int64
	msgsOut     atomic.Int64 // sends: TCP writes, WebSocket frames, datagrams, HTTP answers
}

type serverConfig struct {
	s    *settings
	f    *framing.Framer // tcp: open_length_check / open_eof_check
	root *os.Root        // http: document_root, opened
}

func (s *Server) settings() *settings     { return s.cfg.Load().s }
func (s *Server) framer() *framing.Framer { return s.cfg.Load().f }

func (s *Server) setSettings(st *settings) {
	cfg := &serverConfig{s: st, f: newFramer(st)}
	if st.DocumentRoot != "" {
		dir := st.DocumentRoot
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(filepath.Dir(s.host.cfg.Script), dir)
		}
		root, err := os.OpenRoot(dir)
		if err != nil {
			s.host.log.Error("document_root unavailable, serving no static files", "server", s.key, "err", err)
		} else {
			cfg.root = root
		}
	}
	s.cfg.Store(cfg)
}

// Type is the server's type: "tcp", "udp", "http" or "websocket".
func (s *Server) Type() string { return s.proto.name }

// Port is the bound port (the chosen one when the script asked for 0).
func (s *Server) Port() int { return int(s.port.Load()) }

// addr is host:port as bound.
func (s *Server) addr() string { return joinHostPort(s.decl.Host, s.Port()) }

func joinHostPort(h string, p int) string { return net.JoinHostPort(h, strconv.Itoa(p)) }

// serverKey names a listener across versions: the address, or for port 0 the
// declaration's rank among port-0 servers of its type.
func serverKey(st *settings, rank int) string {
	if st.Port == 0 {
		return fmt.Sprintf("%s://%s:0#%d", st.Type, st.Host, rank)
	}
	return fmt.Sprintf("%s://%s", st.Type, joinHostPort(st.Host, st.Port))
}

// listen opens the server's socket. Its events are held (post) until
// openGate: the version that declared it is not active yet.
func (s *Server) listen() error {
	// Set before the listener's goroutines start: workers read it (stats)
	// while handling events those goroutines post.
	s.startTime = time.Now().Unix()
	s.gate.Store(&eventGate{})
	var ln listener
	var err error
	switch {
	case s.proto.listen != nil:
		ln, err = s.proto.listen(s)
	case s.decl.SSLCertFile != "":
		ln, err = s.listenTLS()
	default:
		ln, err = s.listenTCP()
	}
	if err != nil {
		s.gate.Store(nil)
		return err
	}
	s.ln = ln
	s.listening = true
	s.startHeartbeat()
	return nil
}

// eventGate holds a server's events until its version is active.
type eventGate struct {
	mu   sync.Mutex
	open bool
	held []heldEvent
}

type heldEvent struct {
	w  *worker
	ev event
}

// post queues an event of this server's connections for worker w, or
// holds it while the server's gate is closed. Every event a transport or
// protocol makes goes through here, so the events of one connection keep
// their order.
func (s *Server) post(w *worker, ev event) {
	if g := s.gate.Load(); g != nil {
		g.mu.Lock()
		if !g.open {
			g.held = append(g.held, heldEvent{w, ev})
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
	}
	w.q.post(ev)
}

// openGate posts the held events, in order, and lets the next ones
// through.
func (s *Server) openGate() {
	g := s.gate.Load()
	if g == nil {
		return
	}
	g.mu.Lock()
	for _, h := range g.held {
		h.w.q.post(h.ev)
	}
	g.held, g.open = nil, true
	g.mu.Unlock()
	s.gate.Store(nil)
}

// stop closes the listener and its connections.
func (s *Server) stop(ctx context.Context) {
	if !s.listening {
		return
	}
	s.closing.Store(true)
	if s.hbStop != nil {
		close(s.hbStop)
		s.hbStop = nil
	}
	if s.ln != nil {
		if err := s.ln.stop(ctx); err != nil {
			s.host.log.Warn("stopping listener", "server", s.addr(), "err", err)
		}
	}
	s.listening = false
	s.openGate() // what was held (a reload that failed) still runs: close events
}

// startHeartbeat closes connections idle for heartbeat_idle_time, checking
// every heartbeat_check_interval (values of the current version).
func (s *Server) startHeartbeat() {
	if !s.proto.stream() {
		return
	}
	stop := make(chan struct{})
	s.hbStop = stop
	go func() {
		t := time.NewTimer(time.Second)
		defer t.Stop()
		for {
			st := s.settings()
			wait := time.Second
			if st.HeartbeatCheckInterval > 0 {
				wait = time.Duration(st.HeartbeatCheckInterval * float64(time.Second))
			}
			t.Reset(wait)
			select {
			case <-stop:
				return
			case <-t.C:
			}
			st = s.settings()
			if st.HeartbeatIdleTime <= 0 {
				continue
			}
			idle := time.Duration(st.HeartbeatIdleTime * float64(time.Second))
			now := s.host.now()
			s.host.conns.each(func(c *conn) {
				if c.srv == s && time.Duration(now-c.lastTime.Load())*time.Millisecond >= idle {
					if c.Close() {
						s.host.log.Debug("heartbeat: closing idle connection", "server", s.addr(), "fd", c.id)
					}
				}
			})
		}
	}()
}

// conn finds a live connection of this server.
func (s *Server) conn(fd int64) *conn {
	c := s.host.conns.get(fd)
	if c == nil || c.srv != s {
		return nil
	}
	return c
}

// send writes data to connection fd of this server.
func (s *Server) send(w *worker, fd int64, data []byte) (bool, string) {
	c := s.conn(fd)
	if c == nil {
		return false, "no such connection"
	}
	return c.sendFrom(w, nil, data)
}

// info describes a connection as srv:info(fd) does, or returns nil.
func (s *Server) info(fd int64) script.Map {
	c := s.conn(fd)
	if c == nil {
		return nil
	}
	m := script.Map{
		"fd":           c.id,
		"server_port":  int64(s.Port()),
		"connect_time": int64(c.openedAt),
		"last_time":    c.lastTime.Load() / 1000,
		"worker_id":    int64(c.worker().id),
		"uid":          s.host.hub.uidOf(c),
	}
	if ip, port, ok := c.remoteIPPort(); ok {
		m["remote_ip"], m["remote_port"] = ip, port
	}
	return m
}

// connections lists every live fd of this server, across workers.
func (s *Server) connections() []int64 {
	var ids []int64
	s.host.conns.each(func(c *conn) {
		if c.srv == s && c.Open() {
			ids = append(ids, c.id)
		}
	})
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// stats is srv:stats().
func (s *Server) stats() script.Map {
	return script.Map{
		"start_time":        s.startTime,
		"connection_num":    s.connNum.Load(),
		"accept_count":      s.acceptCount.Load(),
		"close_count":       s.closeCount.Load(),
		"reject_count":      s.rejectCount.Load(),
		"request_count":     s.requestNum.Load(),
		"bytes_in":          s.bytesIn.Load(),
		"bytes_out":         s.bytesOut.Load(),
		"worker_num":        int64(len(s.host.workers)),
		"task_queue_num":    int64(len(s.host.tasks.ch)),
		"task_worker_num":   int64(len(s.host.all) - len(s.host.workers)),
		"reload_count":      s.host.reloadCount.Load(),
		"error_count":       s.host.errorCount.Load(),
		"node":              s.host.cfg.Node,
		"cluster_nodes":     int64(s.host.clusterNodes()),
		"history_recovered": s.host.recovered.Load(),
		"broker_errors":     s.host.brokerErrors.Load(),
		"broker_waiting":    s.host.brokerWaiting.Load(),
	}
}

// clusterLister is a broker that knows the nodes it shares channels with.
type clusterLister interface {
	// Nodes lists the names of the nodes that are up, this one included.
	Nodes() []string
}

// clusterNodes is how many nodes the broker sees up, this one included (1
// for a broker that cannot tell).
func (h *Host) clusterNodes() int {
	if l, ok := h.hub.b.(clusterLister); ok {
		if n := len(l.Nodes()); n > 0 {
			return n
		}
	}
	return 1
}
