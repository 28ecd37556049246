// Package memory is the in-process broker.Broker: one node on a private bus
// (New), or several nodes sharing one Bus so that cross-node behaviour can be
// tested without NATS. History and presence live in memory and last as long
// as the Bus.
package memory

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imscript/imscript/broker"
)

// Bus is what nodes of one process share: subscriptions, history streams and
// presence. The zero value is not usable; call NewBus.
//
// Its epoch is made once, in NewBus, and is the epoch of every channel on
// it: in memory, history is lost only with the Bus, so a channel's epoch
// never changes while the Bus lives, and a new Bus (a restarted process)
// tells every client holding an old epoch that its history is gone. A
// channel that never kept history thus already has the epoch its stream
// will have, without the Bus storing anything for it.
type Bus struct {
	epoch string
	start time.Time // monotonic base of history entry ages

	mu    sync.RWMutex
	nodes map[string]*Broker                      // open nodes by name
	nsubs int                                     // subscriptions held by all open nodes
	chans map[broker.Channel]*channel             // channels subscribed or with history
	pres  map[broker.Channel]map[string][]*Broker // uid → the nodes it is present through
}

// NewBus returns an empty bus with a new random epoch.
func NewBus() *Bus {
	return &Bus{
		epoch: fmt.Sprintf("%08x", rand.Uint32()),
		start: time.Now(),
		nodes: map[string]*Broker{},
		chans: map[broker.Channel]*channel{},
		pres:  map[broker.Channel]map[string][]*Broker{},
	}
}

// Epoch returns the epoch of every channel on the bus.
func (bus *Bus) Epoch() string { return bus.epoch }

// Node adds a node called name to the bus. Publish on it delivers to every
// other started node of the bus that subscribed the channel. A name may be
// reused once the node that had it is closed (a node restarting); adding a
// name that an open node has panics.
func (bus *Bus) Node(name string) *Broker {
	bus.mu.Lock()
	defer bus.mu.Unlock()
	if _, ok := bus.nodes[name]; ok {
		panic("memory: node " + name + " is already on the bus")
	}
	n := &Broker{bus: bus, name: name, idle: make(chan struct{}, 1), subs: map[broker.Channel]struct{}{}}
	n.others.Store(int64(bus.nsubs))
	bus.nodes[name] = n
	return n
}

// New returns a single node on a private bus: Publish delivers to no one
// else, and history and presence are kept in memory.
func New(node string) *Broker { return NewBus().Node(node) }

// Broker is one node on a Bus; it implements broker.Broker.
//
// Deliver and PresenceChanged calls are made synchronously by the call that
// caused them (Publish, AddPresence, RemovePresence, Close on another node),
// with no lock of the bus held, so a handler may call back into any node.
// Events of one channel, publications and presence changes alike, are
// delivered one at a time in the order they were made (for publications
// with history, seq order, whichever node published): when a call finds
// another one of the same channel delivering, it queues its event and
// returns at once, and the delivering call delivers it before it returns.
// So Publish from inside Deliver does not deadlock; its publication is
// delivered after the current one and those queued before it. Under
// sustained concurrent publishing to one channel, the call that is
// delivering keeps delivering what the others queue.
type Broker struct {
	bus  *Bus
	name string

	h        atomic.Pointer[handlerRef]
	closed   atomic.Bool
	others   atomic.Int64  // subscriptions held by the bus's other open nodes: Publish's fast check
	inflight atomic.Int64  // Deliver / PresenceChanged calls under way to this node
	idle     chan struct{} // Close waits here for inflight to reach 0

	subs map[broker.Channel]struct{} // guarded by bus.mu
}

type handlerRef struct{ h broker.Handler }

var _ broker.Broker = (*Broker)(nil)

var errStarted = errors.New("memory: already started")

func badChannel(ch broker.Channel) error {
	return fmt.Errorf("memory: invalid channel %q", ch.String())
}

// Node returns the node's name.
func (b *Broker) Node() string { return b.name }

// Start sets the handler; events that arrive before Start are dropped.
func (b *Broker) Start(h broker.Handler) error {
	if b.closed.Load() {
		return broker.ErrClosed
	}
	if h == nil {
		return errors.New("memory: Start with a nil handler")
	}
	if !b.h.CompareAndSwap(nil, &handlerRef{h}) {
		return errStarted
	}
	return nil
}

// Subscribe implements broker.Broker.
func (b *Broker) Subscribe(ch broker.Channel) error {
	if !ch.Valid() {
		return badChannel(ch)
	}
	bus := b.bus
	bus.mu.Lock()
	defer bus.mu.Unlock()
	if b.closed.Load() {
		return broker.ErrClosed
	}
	if _, ok := b.subs[ch]; ok {
		return nil
	}
	b.subs[ch] = struct{}{}
	c := bus.chans[ch]
	if c == nil {
		c = newChannel(bus, ch)
		bus.chans[ch] = c
	}
	old := *c.subs.Load()
	subs := append(old[:len(old):len(old)], b)
	c.subs.Store(&subs)
	bus.nsubs++
	for _, n := range bus.nodes {
		if n != b {
			n.others.Add(1)
		}
	}
	return nil
}

// Unsubscribe implements broker.Broker.
func (b *Broker) Unsubscribe(ch broker.Channel) error {
	if !ch.Valid() {
		return badChannel(ch)
	}
	bus := b.bus
	bus.mu.Lock()
	defer bus.mu.Unlock()
	if b.closed.Load() {
		return broker.ErrClosed
	}
	bus.unsubscribeLocked(b, ch)
	return nil
}

// unsubscribeLocked removes b's subscription of ch, with bus.mu held.
func (bus *Bus) unsubscribeLocked(b *Broker, ch broker.Channel) {
	if _, ok := b.subs[ch]; !ok {
		return
	}
	delete(b.subs, ch)
	bus.nsubs--
	for _, n := range bus.nodes {
		if n != b {
			n.others.Add(-1)
		}
	}
	c := bus.chans[ch]
	old := *c.subs.Load()
	subs := make([]*Broker, 0, len(old)-1)
	for _, n := range old {
		if n != b {
			subs = append(subs, n)
		}
	}
	c.subs.Store(&subs)
	c.mu.Lock()
	bus.dropIfIdleLocked(c)
	c.mu.Unlock()
}

// Publish implements broker.Broker. With no other node subscribed to
// anything and HistorySize 0 it costs two atomic loads and a clock read;
// with another node subscribed it takes the bus's read lock to find the
// channel.
func (b *Broker) Publish(ch broker.Channel, data []byte, opts broker.PublishOptions) (broker.Publication, error) {
	if b.closed.Load() {
		return broker.Publication{}, broker.ErrClosed
	}
	if !ch.Valid() {
		return broker.Publication{}, badChannel(ch)
	}
	if opts.HistorySize <= 0 {
		p := broker.Publication{Data: data, Time: time.Now().UnixMilli(), Node: b.name}
		if opts.Stamp != nil {
			p.Data = opts.Stamp(0, p.Time, data)
		}
		if b.others.Load() == 0 {
			return p, nil
		}
		b.bus.mu.RLock()
		c := b.bus.chans[ch]
		b.bus.mu.RUnlock()
		if c == nil || !c.subscribedBesides(b) {
			return p, nil
		}
		c.mu.Lock()
		if c.dead {
			c.mu.Unlock()
			return p, nil
		}
		c.push(event{from: b, pub: p})
		c.drain()
		return p, nil
	}
	c := b.bus.lockChannel(ch)
	now := time.Now()
	c.seq++
	p := broker.Publication{Data: data, Seq: c.seq, Time: now.UnixMilli(), Node: b.name}
	if opts.Stamp != nil {
		p.Data = opts.Stamp(p.Seq, p.Time, data)
	}
	c.record(p, now.Sub(b.bus.start), opts)
	if c.subscribedBesides(b) {
		c.push(event{from: b, pub: p})
		c.drain()
	} else {
		c.mu.Unlock()
	}
	return p, nil
}

// History implements broker.Broker. Entries older than the channel's
// HistoryTTL (that of its latest publication) are dropped here and in
// Publish, not by a timer, so an idle channel holds its last entries until
// it is next used.
func (b *Broker) History(ch broker.Channel, q broker.HistoryQuery) ([]broker.Publication, broker.Position, error) {
	if b.closed.Load() {
		return nil, broker.Position{}, broker.ErrClosed
	}
	if !ch.Valid() {
		return nil, broker.Position{}, badChannel(ch)
	}
	bus := b.bus
	pos := broker.Position{Epoch: bus.epoch}
	bus.mu.RLock()
	c := bus.chans[ch]
	bus.mu.RUnlock()
	if c == nil {
		return nil, pos, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// A dead channel had neither history nor subscribers: position 0 stands.
	pos.Seq = c.seq
	return c.query(q, time.Since(bus.start)), pos, nil
}

// Close implements broker.Broker.
func (b *Broker) Close() error {
	if !b.closed.CompareAndSwap(false, true) {
		return broker.ErrClosed
	}
	for b.inflight.Load() != 0 {
		<-b.idle
	}
	bus := b.bus
	var notify []*channel
	bus.mu.Lock()
	for ch := range b.subs {
		bus.unsubscribeLocked(b, ch)
	}
	for ch, m := range bus.pres {
		for uid, nodes := range m {
			if bus.removePresenceLocked(ch, m, uid, nodes, b) {
				if c := bus.eventLocked(ch, uid, false, b); c != nil {
					notify = append(notify, c)
				}
			}
		}
	}
	if bus.nodes[b.name] == b {
		delete(bus.nodes, b.name)
	}
	bus.mu.Unlock()
	for _, c := range notify {
		c.mu.Lock()
		c.drain()
	}
	return nil
}

// deliver hands ev to n's handler unless n is closed or not started.
func (n *Broker) deliver(ch broker.Channel, ev *event) {
	hr := n.h.Load()
	if hr == nil {
		return
	}
	n.inflight.Add(1)
	defer n.delivered()
	if n.closed.Load() {
		return
	}
	if ev.presence {
		hr.h.PresenceChanged(ch, ev.uid, ev.present)
	} else {
		hr.h.Deliver(ch, ev.pub)
	}
}

func (n *Broker) delivered() {
	if n.inflight.Add(-1) == 0 && n.closed.Load() {
		select {
		case n.idle <- struct{}{}:
		default:
		}
	}
}

// Nodes lists the names of the bus's open nodes, sorted.
func (b *Broker) Nodes() []string {
	b.bus.mu.RLock()
	defer b.bus.mu.RUnlock()
	out := make([]string, 0, len(b.bus.nodes))
	for name := range b.bus.nodes {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}
