package memory

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/imscript/imscript/broker"
)

// channel is the bus's state of one channel: who subscribed it, its history
// stream and the events waiting to be delivered. It exists while a node
// subscribes the channel or once it has kept history (its seq must survive
// even when every entry has expired); a channel with neither is dropped,
// and marked dead so that a call still holding it looks it up again.
type channel struct {
	bus  *Bus
	ch   broker.Channel
	subs atomic.Pointer[[]*Broker] // copy-on-write; replaced with bus.mu held

	mu       sync.Mutex
	dead     bool
	seq      uint64        // the last seq given out
	ttl      time.Duration // HistoryTTL of the latest publication with history
	hist     []entry       // hist[head:] are the entries kept, seqs contiguous
	head     int
	queue    []event // queue[qhead:] wait for delivery, in order
	qhead    int
	draining bool // a call is delivering the queue
}

// entry is one publication in history and when it was made (since bus.start,
// on the monotonic clock).
type entry struct {
	pub broker.Publication
	at  time.Duration
}

// event is a publication or a presence change waiting for delivery to the
// channel's subscribers other than from.
type event struct {
	from     *Broker
	pub      broker.Publication
	uid      string
	presence bool
	present  bool
}

func newChannel(bus *Bus, ch broker.Channel) *channel {
	c := &channel{bus: bus, ch: ch}
	c.subs.Store(new([]*Broker))
	return c
}

// lockChannel returns ch's channel, made if need be, with its mu held.
func (bus *Bus) lockChannel(ch broker.Channel) *channel {
	for {
		bus.mu.RLock()
		c := bus.chans[ch]
		bus.mu.RUnlock()
		if c == nil {
			bus.mu.Lock()
			if c = bus.chans[ch]; c == nil {
				c = newChannel(bus, ch)
				bus.chans[ch] = c
			}
			bus.mu.Unlock()
		}
		c.mu.Lock()
		if !c.dead {
			return c
		}
		c.mu.Unlock()
	}
}

// dropIfIdleLocked drops c from the bus when nothing needs it any more, with
// bus.mu and c.mu held.
func (bus *Bus) dropIfIdleLocked(c *channel) {
	if c.dead || bus.chans[c.ch] != c || c.seq != 0 || c.draining || c.qhead != len(c.queue) || len(*c.subs.Load()) != 0 {
		return
	}
	c.dead = true
	delete(bus.chans, c.ch)
}

// subscribedBesides reports whether a node other than b subscribes c.
func (c *channel) subscribedBesides(b *Broker) bool {
	for _, n := range *c.subs.Load() {
		if n != b {
			return true
		}
	}
	return false
}

// push queues ev, with c.mu held.
func (c *channel) push(ev event) { c.queue = append(c.queue, ev) }

// drain delivers the queued events in order, one at a time, with no lock
// held during a handler call. It is called with c.mu held and releases it.
// If another call is already draining, that one delivers what was queued.
func (c *channel) drain() {
	if c.draining {
		c.mu.Unlock()
		return
	}
	c.draining = true
	ok := false
	defer func() {
		if !ok { // a handler panicked: let the next call deliver the rest
			c.mu.Lock()
			c.draining = false
			c.mu.Unlock()
		}
	}()
	for c.qhead < len(c.queue) {
		ev := c.queue[c.qhead]
		c.queue[c.qhead] = event{}
		c.qhead++
		subs := *c.subs.Load()
		c.mu.Unlock()
		for _, n := range subs {
			if n != ev.from {
				n.deliver(c.ch, &ev)
			}
		}
		c.mu.Lock()
	}
	if cap(c.queue) > 1024 {
		c.queue = nil
	} else {
		c.queue = c.queue[:0]
	}
	c.qhead = 0
	c.draining = false
	ok = true
	idle := c.seq == 0 && len(*c.subs.Load()) == 0
	c.mu.Unlock()
	if idle {
		bus := c.bus
		bus.mu.Lock()
		c.mu.Lock()
		bus.dropIfIdleLocked(c)
		c.mu.Unlock()
		bus.mu.Unlock()
	}
}

// record appends p (seq already given) to the history, then drops what
// opts no longer keeps; with c.mu held. The slice is reused: once its
// capacity is about twice HistorySize, appending allocates no more.
func (c *channel) record(p broker.Publication, at time.Duration, opts broker.PublishOptions) {
	c.ttl = max(opts.HistoryTTL, 0)
	c.expire(at)
	if len(c.hist) == cap(c.hist) && c.head > 0 && c.head >= len(c.hist)/2 {
		n := copy(c.hist, c.hist[c.head:])
		clear(c.hist[n:])
		c.hist = c.hist[:n]
		c.head = 0
	}
	c.hist = append(c.hist, entry{p, at})
	for len(c.hist)-c.head > opts.HistorySize {
		c.hist[c.head] = entry{}
		c.head++
	}
}

// expire drops the entries older than c.ttl, oldest first; with c.mu held.
// An entry's age is judged by the channel's current TTL, so the entries
// kept stay a contiguous run of seqs ending with the last one.
func (c *channel) expire(now time.Duration) {
	if c.ttl <= 0 {
		return
	}
	for c.head < len(c.hist) && now-c.hist[c.head].at >= c.ttl {
		c.hist[c.head] = entry{}
		c.head++
	}
	if c.head == len(c.hist) {
		c.hist = c.hist[:0]
		c.head = 0
	}
}

// query returns the entries q selects, oldest first; with c.mu held.
func (c *channel) query(q broker.HistoryQuery, now time.Duration) []broker.Publication {
	c.expire(now)
	live := c.hist[c.head:]
	if len(live) == 0 {
		return nil
	}
	first, last := live[0].pub.Seq, live[len(live)-1].pub.Seq
	if q.Since >= last {
		return nil
	}
	lo, hi := max(q.Since+1, first), last
	if q.Before > 0 {
		if q.Before <= lo {
			return nil
		}
		hi = min(hi, q.Before-1)
	}
	if q.Limit > 0 && hi-lo+1 > uint64(q.Limit) {
		if q.Since == 0 {
			lo = hi - uint64(q.Limit) + 1
		} else {
			hi = lo + uint64(q.Limit) - 1
		}
	}
	out := make([]broker.Publication, hi-lo+1)
	for i := range out {
		out[i] = live[lo-first+uint64(i)].pub
	}
	return out
}
