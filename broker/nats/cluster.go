package nats

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/imscript/imscript/broker"

	"github.com/nats-io/nats-server/v2/server"
)

// An embedded cluster: every node runs a nats-server with JetStream whose
// routes join the others' (Config.ClusterAddr, Config.Peers). The servers
// form one NATS cluster named "imscript": core NATS subjects reach every
// node over the routes, and JetStream keeps the history stream and the
// presence bucket replicated (three copies from three peers on; one below,
// where a copy more would not survive a node's loss anyway).
//
// A fresh cluster elects a JetStream meta leader only once a majority of
// the peers are up, which takes seconds; Open does not wait for it. The
// stream and the bucket are made in the background, retried with backoff
// (setup.go), and the calls that need them wait for them up to
// Config.Timeout.

// splitHostPort splits a route address "host:port" (host may be empty,
// meaning every interface).
func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("%q: bad port", addr)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	return host, port, nil
}

// routePeers is Peers without duplicates and with this node's ClusterAddr
// when no peer is this node, so that the list holds every node once.
func routePeers(cfg Config) []string {
	var out []string
	self := false
	for _, p := range cfg.Peers {
		p = strings.TrimSpace(p)
		if p == "" || slices.Contains(out, p) {
			continue
		}
		if isSelf(p, cfg.ClusterAddr) {
			if self {
				continue // this node under another name
			}
			self = true
		}
		out = append(out, p)
	}
	if !self {
		out = append(out, cfg.ClusterAddr)
	}
	return out
}

// clusterSize is the number of nodes Peers name, this one included.
func clusterSize(cfg Config) int { return len(routePeers(cfg)) }

// isSelf reports whether peer names this node's route listener at
// clusterAddr: the same address, or the same port on a host that is one of
// this machine's addresses.
func isSelf(peer, clusterAddr string) bool {
	if peer == clusterAddr {
		return true
	}
	ph, pp, err := net.SplitHostPort(peer)
	if err != nil {
		return false
	}
	sh, sp, err := net.SplitHostPort(clusterAddr)
	if err != nil || pp != sp {
		return false
	}
	if sh != "" && sh != "0.0.0.0" && sh != "::" {
		return sameHost(ph, sh)
	}
	// Listening on every interface: any address of this machine is us.
	if name, err := os.Hostname(); err == nil && strings.EqualFold(ph, name) {
		return true
	}
	local, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, ip := range resolve(ph) {
		if ip.IsLoopback() || ip.IsUnspecified() {
			return true
		}
		for _, a := range local {
			if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
				return true
			}
		}
	}
	return false
}

// sameHost reports whether a and b resolve to a common address.
func sameHost(a, b string) bool {
	if strings.EqualFold(a, b) {
		return true
	}
	bs := resolve(b)
	for _, x := range resolve(a) {
		for _, y := range bs {
			if x.Equal(y) {
				return true
			}
		}
	}
	return false
}

// resolve returns host's addresses, looked up for at most a second.
func resolve(host string) []net.IP {
	if ip := net.ParseIP(host); ip != nil {
		return []net.IP{ip}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return nil
	}
	out := make([]net.IP, len(addrs))
	for i, a := range addrs {
		out[i] = a.IP
	}
	return out
}

// openCluster starts a node of an embedded cluster.
func openCluster(cfg Config) (*Broker, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("nats broker: a cluster node needs a data directory")
	}
	if len(cfg.Peers) == 0 {
		return nil, errors.New("nats broker: a cluster node needs its peers (every node's route address)")
	}
	lock, srv, nc, err := embed(cfg)
	if err != nil {
		return nil, err
	}
	size := clusterSize(cfg)
	b := makeBroker(cfg, nc, srv, modeCluster)
	b.lock = lock
	b.peersConfigured = size - 1
	if b.replicas == 0 {
		b.replicas, b.raiseOnly = 1, true
		if size >= 3 {
			b.replicas = 3
		}
	}
	b.log.Info("nats broker: embedded cluster node",
		"node", b.node, "cluster", cfg.ClusterAddr, "peers", strings.Join(routePeers(cfg), ","),
		"nodes", size, "replicas", b.replicas, "client", srv.ClientURL(), "store", cfg.DataDir)
	b.startSetup()
	return b, nil
}

// PeerStats is what this node's server knows of a peer's route.
type PeerStats struct {
	Name string        // the peer's node name
	Addr string        // its address, as the route sees it ("" while down)
	Up   bool          // a route to it is open
	RTT  time.Duration // the route's round trip time, when measured
}

// Stats are the broker's counters and its view of the cluster.
type Stats struct {
	Mode       string // "single", "cluster" (embedded servers) or "external"
	Node       string
	Publishes  uint64 // publications made on this node
	Deliveries uint64 // publications from other nodes handed to the handler
	Dropped    uint64 // live messages dropped (before Start, after Close, or a slow subscription)
	Errors     uint64 // calls that failed
	Conflicts  uint64 // publications that lost their channel's next seq to another node and retried
	Reconnects uint64 // reconnections to NATS (external)
	// Unreached counts subscriptions that returned before every node
	// listed had answered (a node dead and not yet dropped, or starting):
	// a publication on such a node right after may have missed this one.
	Unreached uint64
	Presence  int  // this node's presence keys ((channel, uid) pairs)
	Ready     bool // the history stream (and presence bucket) are there
	Replicas  int  // copies of the history stream and presence
	// Peers are the embedded cluster's other nodes seen since Open, by
	// name; PeersConfigured the number Config.Peers names besides this one
	// (some may not have been seen yet).
	Peers           []PeerStats
	PeersConfigured int
}

// Stats returns the broker's counters; it does not block on NATS.
func (b *Broker) Stats() Stats {
	s := Stats{
		Mode:       b.mode,
		Node:       b.node,
		Publishes:  uint64(b.publishes.Load()),
		Deliveries: uint64(b.deliveries.Load()),
		Dropped:    uint64(b.dropped.Load()),
		Errors:     uint64(b.errors.Load()),
		Conflicts:  uint64(b.conflicts.Load()),
		Reconnects: uint64(b.reconnects.Load()),
		Unreached:  uint64(b.unreached.Load()),
		Ready:      b.isReady(),
		Replicas:   int(b.copies.Load()),
	}
	if b.kv != nil {
		s.Presence = b.kv.count()
	}
	if b.mode == modeCluster && b.srv != nil {
		s.Peers = b.peers()
		s.PeersConfigured = b.peersConfigured
	}
	return s
}

// peers lists the routes of the embedded server, one per peer (the server
// keeps a pool of routes to each), with the peers seen before and now down.
func (b *Broker) peers() []PeerStats {
	rz, err := b.srv.Routez(&server.RoutezOptions{})
	if err != nil {
		return nil
	}
	up := map[string]PeerStats{}
	for _, r := range rz.Routes {
		name := strings.TrimPrefix(r.RemoteName, "imscript-")
		p := up[name]
		p.Name, p.Up = name, true
		if p.Addr == "" {
			p.Addr = net.JoinHostPort(r.IP, strconv.Itoa(r.Port))
		}
		if d, err := time.ParseDuration(r.RTT); err == nil && (p.RTT == 0 || d < p.RTT) {
			p.RTT = d
		}
		up[name] = p
	}
	b.peerMu.Lock()
	for name := range up {
		b.seenPeers[name] = struct{}{}
	}
	var out []PeerStats
	for name := range b.seenPeers {
		if p, ok := up[name]; ok {
			out = append(out, p)
		} else {
			out = append(out, PeerStats{Name: name})
		}
	}
	b.peerMu.Unlock()
	slices.SortFunc(out, func(x, y PeerStats) int { return strings.Compare(x.Name, y.Name) })
	return out
}

// Nodes returns the names of the imscript nodes alive in the cluster, this
// one included, sorted: the nodes whose keys were in the presence bucket at
// the last heartbeat (a dead node drops out within the presence TTL). A
// single node returns itself.
func (b *Broker) Nodes() []string {
	if b.kv == nil {
		return []string{b.node}
	}
	return b.kv.nodeList()
}

// Peers implements broker.PeerLister: an embedded cluster's routes to the
// other nodes (nil in the other modes).
func (b *Broker) Peers() []broker.Peer {
	if b.mode != modeCluster || b.srv == nil {
		return nil
	}
	var out []broker.Peer
	for _, p := range b.peers() {
		out = append(out, broker.Peer{Name: p.Name, Addr: p.Addr, Up: p.Up, RTT: p.RTT})
	}
	return out
}
