// Package nats is the broker.Broker on NATS: history in a JetStream stream
// (on disk, surviving restarts and kill -9), live delivery between nodes on
// core NATS subjects. Open embeds a nats-server in the process.
//
// For now it runs one node: the embedded server keeps its JetStream store
// under Config.DataDir and listens on no port (the broker talks to it
// in-process). The cluster step adds routes between embedded servers
// (Config.ClusterAddr, Config.Peers) and external NATS (Config.URLs); the
// stream, the subjects and the seq protocol below are already written for
// several writers (the tests run two and three nodes on one server).
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
// Presence is node-local for now (a broker/memory node); the cluster step
// moves it to a KV bucket with per-key TTL.
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
	"os"
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
	// Node names this node: the Node of its publications. Required.
	Node string
	// DataDir holds the embedded server's JetStream store (DataDir/nats).
	// Required for now: it is what makes history durable.
	DataDir string
	// URLs are an existing NATS deployment's servers (with JetStream), used
	// instead of an embedded server. Not supported yet (the cluster step).
	URLs []string
	// ClusterAddr is where the embedded server listens for routes from its
	// peers, Peers the route addresses of every node (this one may be
	// among them). Not supported yet (the cluster step).
	ClusterAddr string
	Peers       []string
	// Logger receives the broker's and the embedded server's logs (the
	// server's warnings and errors only); nil means slog.Default().
	Logger *slog.Logger
	// Timeout bounds each request to NATS (a publication's store, a
	// history read); 0 means 5 s.
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

// Broker is a node on NATS; it implements broker.Broker.
type Broker struct {
	node    string
	log     *slog.Logger
	timeout time.Duration
	now     func() time.Time // the clock of publication times and expiry (tests move it)

	srv  *server.Server // the embedded server, owned; nil when attached to another's
	lock *os.File       // DataDir's lock, held while srv runs
	nc   *natsgo.Conn
	js   jetstream.JetStream
	// alone: no other client can reach the server (embedded, no listener),
	// so live publications have no one to go to and are not sent.
	alone atomic.Bool

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

	pres *memory.Broker // node-local presence until the cluster step

	cache *histCache // recent history per channel (cache.go); nil when off

	gets      atomic.Int64 // direct get requests made (tests count them)
	dropped   atomic.Int64 // live messages dropped before Start or after Close
	conflicts atomic.Int64 // publications that lost the channel's next seq to another writer
	cacheHits atomic.Int64 // History calls answered from the cache
}

type handlerRef struct{ h broker.Handler }

var _ broker.Broker = (*Broker)(nil)

var errStarted = errors.New("nats broker: already started")

func badChannel(ch broker.Channel) error {
	return fmt.Errorf("nats broker: invalid channel %q", ch.String())
}

// Open starts the broker: with Config.DataDir, an embedded nats-server with
// JetStream storing under DataDir/nats, reached in-process; the history
// stream is created (with a new epoch) if the store does not have it.
func Open(cfg Config) (*Broker, error) {
	if cfg.Node == "" {
		return nil, errors.New("nats broker: no node name")
	}
	if strings.ContainsAny(cfg.Node, "\r\n") {
		return nil, fmt.Errorf("nats broker: node name %q holds a line break", cfg.Node)
	}
	if len(cfg.URLs) > 0 || cfg.ClusterAddr != "" || len(cfg.Peers) > 0 {
		return nil, errors.New("nats broker: external NATS and clusters are not supported yet")
	}
	if cfg.DataDir == "" {
		return nil, errors.New("nats broker: no data directory")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	lock, err := lockDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	srv, err := startServer(cfg)
	if err != nil {
		unlock(lock)
		return nil, err
	}
	nc, err := connect(cfg, natsgo.InProcessServer(srv))
	if err != nil {
		shutdown(srv)
		unlock(lock)
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
	return b, nil
}

func unlock(f *os.File) {
	if f != nil {
		f.Close()
	}
}

// connect opens the node's connection: no echo (a node never receives its
// own live publications), and its asynchronous errors logged.
func connect(cfg Config, opts ...natsgo.Option) (*natsgo.Conn, error) {
	log := cfg.Logger
	opts = append(opts,
		natsgo.Name("imscript "+cfg.Node),
		natsgo.NoEcho(),
		natsgo.ErrorHandler(func(_ *natsgo.Conn, sub *natsgo.Subscription, err error) {
			if sub != nil {
				log.Warn("nats broker: subscription error", "subject", sub.Subject, "err", err)
				return
			}
			log.Warn("nats broker: connection error", "err", err)
		}),
	)
	nc, err := natsgo.Connect("", opts...)
	if err != nil {
		return nil, fmt.Errorf("nats broker: connecting: %w", err)
	}
	return nc, nil
}

// newBroker makes the broker on an open connection (srv, when not nil, is
// the embedded server it owns) and makes sure of the history stream.
func newBroker(cfg Config, nc *natsgo.Conn, srv *server.Server) (*Broker, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("nats broker: %w", err)
	}
	b := &Broker{
		node:    cfg.Node,
		log:     cfg.Logger,
		timeout: cfg.Timeout,
		now:     time.Now,
		srv:     srv,
		nc:      nc,
		js:      js,
		chans:   map[broker.Channel]*chanState{},
		subs:    map[broker.Channel]*natsgo.Subscription{},
		pres:    memory.New(cfg.Node),
	}
	if b.timeout <= 0 {
		b.timeout = 5 * time.Second
	}
	switch {
	case cfg.CacheBytes == 0:
		b.cache = newHistCache(defaultCacheBytes, cachePerChan)
	case cfg.CacheBytes > 0:
		b.cache = newHistCache(cfg.CacheBytes, cachePerChan)
	}
	if err := b.ensureStream(); err != nil {
		return nil, err
	}
	return b, nil
}

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
	return fmt.Errorf("nats broker: %s %s: %w", what, ch.String(), err)
}

// Node returns the node's name.
func (b *Broker) Node() string { return b.node }

// Epoch returns the history stream's epoch, every channel's Position.Epoch.
func (b *Broker) Epoch() string { return b.epoch }

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
// drains the subscriptions and the connection (live publications still
// buffered go out), and shuts the embedded server down, which closes the
// store.
func (b *Broker) Close() error {
	b.dmu.Lock()
	if !b.closed.CompareAndSwap(false, true) {
		b.dmu.Unlock()
		return broker.ErrClosed
	}
	b.dmu.Unlock()
	b.inflight.Wait()

	b.mu.Lock()
	subs := b.subs
	b.subs = map[broker.Channel]*natsgo.Subscription{}
	b.mu.Unlock()
	for _, s := range subs {
		_ = s.Unsubscribe()
	}
	var errs []error
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
	_ = b.pres.Close()
	if b.cache != nil {
		b.cache.clear()
	}
	return errors.Join(errs...)
}
