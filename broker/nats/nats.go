// Package nats is the broker.Broker on NATS: history in a JetStream stream
// (on disk, surviving restarts and kill -9), live delivery between nodes on
// core NATS subjects, cluster-wide presence in a JetStream key-value bucket.
//
// It runs three ways (Open picks by Config):
//   - one node (DataDir alone): an embedded nats-server with JetStream
//     storing under DataDir, listening on no port (the broker talks to it
//     in-process); presence is node-local.
//   - an embedded cluster (ClusterAddr, Peers, DataDir): each node embeds a
//     server whose routes join the others' into one NATS cluster; history
//     and presence are replicated (three copies from three nodes on).
//     cluster.go.
//   - external NATS (URLs): the nodes connect to an existing NATS deployment
//     with JetStream (nats-server 2.11 or later: per-message TTLs, subject
//     delete markers and batch direct gets); nothing is embedded.
//     external.go.
//
// # History
//
// One stream, IMSCRIPT_HISTORY, file storage, holds every channel's history
// on its own subject (imh.room.<token>, imh.user.<token>; see subject.go).
// Each message carries headers: Imscript-Seq (the channel's seq, 1, 2, 3,
// … per channel), Imscript-Time (unix ms), Imscript-Node, Imscript-Size and
// Imscript-Ttl (the HistorySize and HistoryTTL, in ms, it was published
// with), and repeats them in front of the data in its body, which is what
// reads use (envelope.go says why). A publication's seq is the seq of the
// channel's last message + 1, stored with Nats-Expected-Last-Subject-Sequence
// = that message's stream sequence, so two writers can never give the same
// seq: the loser gets "wrong last sequence", reads the channel's last
// message again (or takes it from the winner's live publication, which
// carries its stream sequence) and retries. A node serialises its own
// publications of one channel (it would otherwise conflict with itself)
// and caches the channel's last (stream sequence, seq), so a publication
// is one round trip.
//
// The stream keeps at most MaxMsgsPerSubject messages of a channel: the
// largest HistorySize published with (raised when a bigger one comes, never
// lowered; the host uses one history_size for every channel). Reads keep
// the HistorySize and HistoryTTL of the channel's latest publication: the
// newest HistorySize entries, and of those the ones younger than the TTL.
// Expiry is judged when reading, never by the stream (no MaxAge): the
// channel's last message stays stored however old, so its seq survives and
// a seq is never given twice within an epoch; the per-subject limit bounds
// the disk.
//
// Reads are JetStream direct gets (no consumer): the channel's last
// message, then one batch of bodies from the stream sequence where the run
// must start if the channel had the stream to itself; when other channels'
// messages are in between, a search by probes first (history.go).
//
// Each channel's most recent publications (at most 1,024 and its
// HistorySize; Config.CacheBytes in all) are also kept in memory, from the
// node's own stores, other nodes' live publications and History's reads
// (cache.go). History answers from there when that provably gives what a
// read would: at once when the node is alone on its server (nobody else
// can store, so the node knows every channel's last message), else after
// reading the channel's last message and finding it is the cache's. A
// recovery or a "last N" is then no request, or one.
//
// The epoch is the stream's: a random string in its config metadata
// (imscript_epoch), made when the stream is created. Every channel has it;
// it changes only if the stream is lost (the store deleted), and then every
// seq starts again.
//
// # Live delivery and presence
//
// Subscribe subscribes the node's connection to imd.<kind>.<token>; Publish
// sends there (seq, time, node and stream sequence in headers) after
// storing, unless the server has no other client. The connection is
// NoEcho, and a message that still comes back from this node is dropped.
// One node keeps presence to itself (a broker/memory node); a cluster
// keeps it in the IMSCRIPT_PRESENCE bucket, one key per (channel, uid,
// node) with a TTL that the node's heartbeat renews (presence_kv.go).
//
// # Reads in a cluster
//
// With more than one copy of the stream, a direct get may be answered by a
// follower that has not applied the newest messages yet. A channel's last
// message (its position, and the seq a publication follows) is therefore
// read from the stream's leader (a JetStream API message get), and a
// history read then waits until the copy that answers direct gets holds
// that message (leader.go).
//
// # Durability
//
// JetStream acknowledges a message after writing it to the operating system
// (not after fsync), so everything Publish returned survives the process
// being killed; a machine crash can lose what the OS had not flushed yet
// (the server syncs every two minutes). A publication whose Publish failed
// (a timeout) may or may not be stored. DataDir is locked: one process at
// a time.
package nats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imscript/imscript/broker"
	"github.com/imscript/imscript/broker/memory"
	"github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Config says how to reach NATS and where to keep history.
type Config struct {
	// Node names this node: the Node of its publications. Required, and
	// unique in a cluster.
	Node string
	// DataDir holds the embedded server's JetStream store (DataDir/nats).
	// Required with an embedded server (one node or a cluster); unused
	// with URLs.
	DataDir string
	// URLs are an existing NATS deployment's servers (with JetStream,
	// nats-server 2.11 or later), used instead of an embedded server.
	// User and password may be in a URL.
	URLs []string
	// Credentials is a NATS credentials file (JWT and NKey seed) for URLs.
	Credentials string
	// ClusterAddr is where the embedded server listens for routes from its
	// peers, Peers the route addresses of every node (this one may be
	// among them; it is added when not).
	ClusterAddr string
	Peers       []string
	// ClientPort is the loopback port a cluster node's server listens on
	// for clients (a server that listens on nothing starts no routes); 0
	// means a free one. The broker itself talks to its server in-process.
	ClientPort int
	// HistoryReplicas is the number of copies of the history stream and
	// the presence bucket. 0 means: in an embedded cluster, 3 from three
	// peers on and 1 below; with URLs, 3 if the NATS cluster can place
	// them, else 1. It applies when they are made, and an embedded
	// cluster's stream is moved to it when the peers change.
	HistoryReplicas int
	// PresenceTTL is how long a node's presence keys outlive it: a node
	// renews them every PresenceTTL/3, and the users of a node that dies
	// leave within PresenceTTL. 0 means 30 s; at least 1 s.
	PresenceTTL time.Duration
	// Logger receives the broker's and the embedded server's logs (the
	// server's warnings and errors only); nil means slog.Default().
	Logger *slog.Logger
	// Timeout bounds each request to NATS (a publication's store, a
	// history read, a presence change), and how long a call waits for the
	// cluster's JetStream to be ready; 0 means 5 s.
	Timeout time.Duration
	// StartTimeout bounds how long Open waits for the embedded server
	// (JetStream recovers its store first); 0 means 60 s.
	StartTimeout time.Duration
	// CacheBytes bounds the memory of the history cache (each channel's
	// most recent publications, at most 1,024 and its HistorySize, so
	// that a recovery or a "last N" needs no read from the stream); 0
	// means 64 MiB, a negative value turns the cache off.
	CacheBytes int64
}

// The broker's modes, Stats.Mode.
const (
	modeSingle   = "single"
	modeCluster  = "cluster"
	modeExternal = "external"
)

// Broker is a node on NATS; it implements broker.Broker.
type Broker struct {
	node    string
	log     *slog.Logger
	timeout time.Duration
	now     func() time.Time // the clock of publication times and expiry (tests move it)
	loseAck func() bool      // tests: true drops a stored publication's ack, as a timeout would

	srv  *server.Server // the embedded server, owned; nil when attached to another's
	lock *os.File       // DataDir's lock, held while srv runs
	nc   *natsgo.Conn
	js   jetstream.JetStream
	// alone: no other client can reach the server (embedded, no listener),
	// so live publications have no one to go to and are not sent.
	alone atomic.Bool
	mode  string // modeSingle, modeCluster, modeExternal

	// replicas is the number of copies wanted of the stream and the
	// bucket (0: as many as the NATS cluster allows, up to 3); copies is
	// the stream's, once seen. raiseOnly: replicas comes from this node's
	// peers and only ever raises the stream's.
	replicas  int
	raiseOnly bool
	copies    atomic.Int64
	// leaderReads: the stream has more than one copy, so a channel's last
	// message is read from its leader (leader.go).
	leaderReads atomic.Bool
	ready       chan struct{} // closed when the stream (and bucket) are there
	setupErr    atomic.Pointer[error]
	stop        chan struct{} // closed by Close: background work ends
	stopCtx     context.Context
	stopCancel  context.CancelFunc // cancels stopCtx, with stop
	bg          sync.WaitGroup

	kv *kvPresence // cluster-wide presence; nil for one node

	peerMu          sync.Mutex
	seenPeers       map[string]struct{}
	peersConfigured int

	epoch    string
	limit    atomic.Int64 // the stream's MaxMsgsPerSubject as last seen (≤ 0: none)
	streamMu sync.Mutex   // guards the stream's config reads and updates

	mu     sync.Mutex
	chans  map[broker.Channel]*chanState // publication state, see acquire
	subs   map[broker.Channel]*natsgo.Subscription
	closed atomic.Bool

	h        atomic.Pointer[handlerRef]
	inflight sync.WaitGroup // Deliver calls under way
	dmu      sync.RWMutex   // Deliver holds it for reading while it checks closed and adds to inflight

	pres *memory.Broker // node-local presence of one node

	cache *histCache // recent history per channel (cache.go); nil when off

	gets       atomic.Int64 // direct get requests made (tests count them)
	dropped    atomic.Int64 // live messages dropped before Start or after Close
	conflicts  atomic.Int64 // publications that lost the channel's next seq to another writer
	cacheHits  atomic.Int64 // History calls answered from the cache
	publishes  atomic.Int64
	deliveries atomic.Int64
	errors     atomic.Int64
	reconnects atomic.Int64
	pubID      string        // prefix of this instance's publication ids: node and a random part
	pubCalls   atomic.Uint64 // publications with history made (store), for their ids
	unreached  atomic.Int64  // subscriptions that stopped waiting before every node answered (live.go)
}

type handlerRef struct{ h broker.Handler }

var _ broker.Broker = (*Broker)(nil)

var errStarted = errors.New("nats broker: already started")

func badChannel(ch broker.Channel) error {
	return fmt.Errorf("nats broker: invalid channel %q", ch.String())
}

// Open starts the broker. With URLs it connects to that NATS deployment;
// with ClusterAddr and Peers it starts a node of an embedded cluster; with
// DataDir alone, an embedded nats-server with JetStream storing under
// DataDir/nats, reached in-process. The history stream is created (with a
// new epoch) if the store does not have it: at once for one node, in the
// background (retried until the cluster has formed) for the others.
func Open(cfg Config) (*Broker, error) {
	if cfg.Node == "" {
		return nil, errors.New("nats broker: no node name")
	}
	if strings.ContainsAny(cfg.Node, "\r\n") {
		return nil, fmt.Errorf("nats broker: node name %q holds a line break", cfg.Node)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	switch {
	case len(cfg.URLs) > 0:
		if cfg.ClusterAddr != "" || len(cfg.Peers) > 0 {
			return nil, errors.New("nats broker: external NATS (URLs) and an embedded cluster (ClusterAddr, Peers) exclude each other")
		}
		return openExternal(cfg)
	case cfg.ClusterAddr != "" || len(cfg.Peers) > 0:
		if cfg.ClusterAddr == "" {
			return nil, errors.New("nats broker: peers without a cluster address")
		}
		return openCluster(cfg)
	}
	if cfg.DataDir == "" {
		return nil, errors.New("nats broker: no data directory")
	}
	lock, srv, nc, err := embed(cfg)
	if err != nil {
		return nil, err
	}
	b, err := newBroker(cfg, nc, srv)
	if err != nil {
		nc.Close()
		shutdown(srv)
		unlock(lock)
		return nil, err
	}
	b.lock = lock
	b.alone.Store(true)
	b.log.Info("nats broker: one node", "node", b.node, "store", cfg.DataDir)
	return b, nil
}

// embed locks cfg.DataDir, starts the embedded server and connects to it
// in process.
func embed(cfg Config) (*os.File, *server.Server, *natsgo.Conn, error) {
	lock, err := lockDir(cfg.DataDir)
	if err != nil {
		return nil, nil, nil, err
	}
	srv, err := startServer(cfg)
	if err != nil {
		unlock(lock)
		return nil, nil, nil, err
	}
	nc, err := connect(cfg, natsgo.InProcessServer(srv))
	if err != nil {
		shutdown(srv)
		unlock(lock)
		return nil, nil, nil, err
	}
	return lock, srv, nc, nil
}

func unlock(f *os.File) {
	if f != nil {
		f.Close()
	}
}

// connect opens the node's connection: no echo (a node never receives its
// own live publications), reconnecting for ever, its asynchronous errors
// logged. The counters it keeps are the broker's, set by makeBroker.
func connect(cfg Config, opts ...natsgo.Option) (*natsgo.Conn, error) {
	opts = append([]natsgo.Option{
		natsgo.Name("imscript " + cfg.Node),
		natsgo.NoEcho(),
		natsgo.MaxReconnects(-1),
		natsgo.ReconnectWait(250 * time.Millisecond),
		natsgo.ReconnectJitter(250*time.Millisecond, time.Second),
		// What is published while disconnected waits here; past it a
		// publication fails at once instead of growing a queue.
		natsgo.ReconnectBufSize(8 << 20),
		natsgo.Timeout(connectTimeout(cfg)),
	}, opts...)
	nc, err := natsgo.Connect(strings.Join(cfg.URLs, ","), opts...)
	if err != nil {
		return nil, fmt.Errorf("nats broker: connecting: %w", err)
	}
	return nc, nil
}

func connectTimeout(cfg Config) time.Duration {
	if cfg.Timeout > 0 {
		return cfg.Timeout
	}
	return 5 * time.Second
}

// newBroker makes the broker of one node on an open connection (srv, when
// not nil, is the embedded server it owns) and makes sure of the history
// stream.
func newBroker(cfg Config, nc *natsgo.Conn, srv *server.Server) (*Broker, error) {
	b := makeBroker(cfg, nc, srv, modeSingle)
	b.replicas = 1
	if err := b.setup(b.timeout); err != nil {
		b.closed.Store(true)
		close(b.stop)
		b.stopCancel()
		return nil, err
	}
	close(b.ready)
	return b, nil
}

// makeBroker makes the broker on an open connection; the stream is not
// looked at yet (setup).
func makeBroker(cfg Config, nc *natsgo.Conn, srv *server.Server, mode string) *Broker {
	js, _ := jetstream.New(nc) // fails only without a connection
	b := &Broker{
		node:      cfg.Node,
		log:       cfg.Logger,
		timeout:   cfg.Timeout,
		now:       time.Now,
		srv:       srv,
		nc:        nc,
		js:        js,
		mode:      mode,
		replicas:  cfg.HistoryReplicas,
		ready:     make(chan struct{}),
		stop:      make(chan struct{}),
		chans:     map[broker.Channel]*chanState{},
		subs:      map[broker.Channel]*natsgo.Subscription{},
		seenPeers: map[string]struct{}{},
		pubID:     cfg.Node + "." + strconv.FormatUint(rand.Uint64(), 36) + ".",
	}
	if b.timeout <= 0 {
		b.timeout = 5 * time.Second
	}
	// The history cache serves one node's server (also with other clients
	// attached to it). With several copies of the stream (a cluster,
	// external NATS) History reads the stream: the cache's validation by
	// the leader's last message is untested there.
	switch {
	case mode != modeSingle:
	case cfg.CacheBytes == 0:
		b.cache = newHistCache(defaultCacheBytes, cachePerChan)
	case cfg.CacheBytes > 0:
		b.cache = newHistCache(cfg.CacheBytes, cachePerChan)
	}
	b.stopCtx, b.stopCancel = context.WithCancel(context.Background())
	if mode == modeSingle {
		b.pres = memory.New(cfg.Node)
	} else {
		b.kv = newKVPresence(b, cfg.PresenceTTL)
	}
	log := b.log
	nc.SetErrorHandler(func(_ *natsgo.Conn, sub *natsgo.Subscription, err error) {
		b.errors.Add(1)
		if errors.Is(err, natsgo.ErrSlowConsumer) {
			b.dropped.Add(1)
		}
		if sub != nil {
			log.Warn("nats broker: subscription error", "subject", sub.Subject, "err", err)
			return
		}
		log.Warn("nats broker: connection error", "err", err)
	})
	nc.SetDisconnectErrHandler(func(_ *natsgo.Conn, err error) {
		if err != nil && !b.closed.Load() {
			log.Warn("nats broker: disconnected from NATS", "err", err)
		}
	})
	nc.SetReconnectHandler(func(c *natsgo.Conn) {
		b.reconnects.Add(1)
		log.Info("nats broker: reconnected to NATS", "url", c.ConnectedUrlRedacted())
		if b.kv != nil {
			b.kv.resyncSoon()
		}
	})
	return b
}

// A JetStream publication that finds no stream to take it (a leader
// election under way) is sent again every retryWait until the request
// times out: nothing was stored, so that is safe.
var (
	retryNoResponders = jetstream.WithRetryAttempts(1 << 30) // bounded by the request's context
	retryWait         = jetstream.WithRetryWait(50 * time.Millisecond)
)

// A channel's live subscription holds at most this many messages not yet
// handed to the handler; beyond, NATS drops them (a slow consumer: counted
// in Stats.Dropped, closed by recovery).
const (
	pendingMsgs  = 64 << 10
	pendingBytes = 64 << 20
)

// ctx returns a context bounded by the request timeout.
func (b *Broker) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), b.timeout)
}

// fail turns an error of a call into what the caller sees: ErrClosed once
// the broker is closed (the call raced Close), else err with context.
func (b *Broker) fail(what string, ch broker.Channel, err error) error {
	if b.closed.Load() || errors.Is(err, natsgo.ErrConnectionClosed) {
		return broker.ErrClosed
	}
	b.errors.Add(1)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, natsgo.ErrTimeout) {
		return fmt.Errorf("nats broker: %s %s: no answer from NATS in %s: %w", what, ch.String(), b.timeout, err)
	}
	return fmt.Errorf("nats broker: %s %s: %w", what, ch.String(), err)
}

// Node returns the node's name.
func (b *Broker) Node() string { return b.node }

// Epoch returns the history stream's epoch, every channel's Position.Epoch.
// It is "" until the stream is there (a cluster still forming).
func (b *Broker) Epoch() string {
	if !b.isReady() {
		return ""
	}
	return b.epoch
}

// Start sets the handler; live publications that arrive before Start are
// dropped.
func (b *Broker) Start(h broker.Handler) error {
	if b.closed.Load() {
		return broker.ErrClosed
	}
	if h == nil {
		return errors.New("nats broker: Start with a nil handler")
	}
	if !b.h.CompareAndSwap(nil, &handlerRef{h}) {
		return errStarted
	}
	return nil
}

// Close implements broker.Broker: it waits for Deliver calls under way,
// stops the background work, deletes this node's presence keys (the other
// nodes see its users leave at once), drains the subscriptions and the
// connection (live publications still buffered go out), and shuts the
// embedded server down, which closes the store.
func (b *Broker) Close() error {
	if !b.beginClose() {
		return broker.ErrClosed
	}
	var errs []error
	if b.kv != nil {
		if err := b.kv.leave(); err != nil {
			errs = append(errs, err)
		}
	}
	b.mu.Lock()
	subs := b.subs
	b.subs = map[broker.Channel]*natsgo.Subscription{}
	b.mu.Unlock()
	for _, s := range subs {
		_ = s.Unsubscribe()
	}
	done := make(chan struct{})
	b.nc.SetClosedHandler(func(*natsgo.Conn) { close(done) })
	if err := b.nc.Drain(); err != nil {
		b.nc.Close() // already closed (the server went away)
	} else {
		select {
		case <-done:
		case <-time.After(b.timeout):
			b.nc.Close()
			errs = append(errs, errors.New("nats broker: draining the connection timed out"))
		}
	}
	if b.srv != nil {
		shutdown(b.srv)
	}
	unlock(b.lock)
	if b.pres != nil {
		_ = b.pres.Close()
	}
	if b.cache != nil {
		b.cache.clear()
	}
	return errors.Join(errs...)
}

// beginClose marks the broker closed, waits for Deliver calls under way and
// stops the background work; false when it was closed already.
func (b *Broker) beginClose() bool {
	b.dmu.Lock()
	if !b.closed.CompareAndSwap(false, true) {
		b.dmu.Unlock()
		return false
	}
	b.dmu.Unlock()
	b.inflight.Wait()
	close(b.stop)
	b.stopCancel()
	b.bg.Wait()
	if b.kv != nil {
		b.kv.stopWatches()
	}
	return true
}

// kill ends the node as a crash would (tests): the connection and the
// embedded server go at once, nothing is deleted, so its presence keys
// stay until their TTL.
func (b *Broker) kill() {
	if !b.beginClose() {
		return
	}
	b.nc.Close()
	if b.srv != nil {
		shutdown(b.srv)
	}
	unlock(b.lock)
}

// Remote implements broker.Remote: a cluster node's or an external NATS's
// calls wait on other processes; a single node's embedded server answers
// in process.
func (b *Broker) Remote() bool { return b.mode != modeSingle }
