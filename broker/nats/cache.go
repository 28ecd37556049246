package nats

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/imscript/imscript/broker"
)

// The history cache: each channel's most recent publications in memory, so
// that History (a recovery, a "last N", a position) is answered without a
// round trip when the cache can prove it holds everything the query
// selects.
//
// A channel's cache is a contiguous run of publications ending with the
// channel's last message as this node knows it (its seq, stream sequence,
// time, HistorySize and HistoryTTL: what reads judge by). It grows from the
// node's own publications (each stored with the channel's last stream
// sequence expected, so the node knows it is the next), from other nodes'
// live publications (they carry their stream sequence, HistorySize and
// HistoryTTL), and from History's own JetStream reads when they reach the
// channel's last message (after a restart the cache starts empty). A
// publication that does not follow the run starts it again from that
// publication; one older than what the cache knows is ignored.
//
// Using it:
//   - When the node is alone on its embedded server (no other client:
//     nobody else can store), the channel's last message is the last this
//     node stored or read, so the cache is the channel's newest entries and
//     History needs no request at all when the cache reaches back to the
//     oldest seq the query selects.
//   - Otherwise History reads the channel's last message first (the
//     position, one direct get) and uses the cache only when its last is
//     that message.
//   - A store whose outcome is unknown (a timeout: the message may still be
//     stored later) puts the channel in doubt: it is answered as when not
//     alone until the node's next successful store to it, which proves
//     where the channel stands (it expected the channel's last message).
//
// Entries are what reads would return: the stream keeps at least the
// newest HistorySize of a channel at every store (the per-subject limit is
// raised to a publication's HistorySize before it is stored), and the
// cache, trimmed to the newest HistorySize of each publication it takes,
// never holds one the stream pushed out while the cache's last is the
// channel's (a read gives only entries kept; a store the cache missed
// breaks the run, so the cache no longer ends at the channel's last). That
// takes the stream as this package makes it: no limit but the messages
// per subject, nothing deleted by hand. Expiry is applied when answering,
// with the same clock and rules as a read (window).
//
// Memory: at most min(HistorySize, perChan) entries per channel, at most a
// byte budget in all (each entry charged its data, node and slot, each
// channel a fixed overhead), evicting the least recently used channels;
// one channel takes at most an eighth of the budget (its oldest entries go
// first). The total may pass the budget by what appends under way add
// until they evict.

// Defaults of the cache's bounds.
const (
	defaultCacheBytes = 64 << 20
	cachePerChan      = 1024 // entries per channel at most
	maxDoubts         = 4096 // channels in doubt remembered; past it, all are
)

// What the cache charges besides the data: a slot of a channel's run, and
// a channel (its state, map entry and list links).
const (
	entryOverhead = int64(unsafe.Sizeof(broker.Publication{}))
	chanOverhead  = int64(unsafe.Sizeof(chanCache{})) + 64
)

// lastMeta is a channel's last message as the cache knows it: what reads
// judge the channel's history by.
type lastMeta struct {
	seq, stream uint64 // seq 0 and stream 0: the channel has no message
	time        int64
	size        int           // its HistorySize (as read back: at least 1)
	ttl         time.Duration // its HistoryTTL in whole ms (0: none)
}

func metaOf(e entry) lastMeta {
	return lastMeta{seq: e.pub.Seq, stream: e.stream, time: e.pub.Time, size: e.size, ttl: e.ttl}
}

// histCache holds the channels' caches of one broker.
type histCache struct {
	budget  int64 // bytes
	perChan int   // entries per channel

	mu     sync.Mutex
	chans  map[broker.Channel]*chanCache
	lru    chanCache // the list's sentinel: lru.next is the most recently used
	doubts map[broker.Channel]struct{}
	doubt  bool // too many channels were in doubt to remember: all are, for good

	bytes atomic.Int64 // charged in all
}

// chanCache is one channel's cache.
type chanCache struct {
	ch         broker.Channel
	prev, next *chanCache // the LRU list; guarded by histCache.mu

	mu    sync.RWMutex
	dead  bool // evicted: takes nothing more
	valid bool // last holds the channel's last message as this node knows it
	last  lastMeta
	ents  []broker.Publication // contiguous seqs ending with last.seq (may be empty), oldest first
	bytes int64                // charged for it, overhead included

	maxBytes int64 // what it may take (an eighth of the budget)
}

func newHistCache(budget int64, perChan int) *histCache {
	c := &histCache{
		budget:  budget,
		perChan: perChan,
		chans:   map[broker.Channel]*chanCache{},
		doubts:  map[broker.Channel]struct{}{},
	}
	c.lru.next, c.lru.prev = &c.lru, &c.lru
	return c
}

// get returns ch's cache, made if need be, as the most recently used, and
// whether ch is in doubt.
func (c *histCache) get(ch broker.Channel) (*chanCache, bool) {
	var made int64 // what a new one is charged
	c.mu.Lock()
	cc := c.chans[ch]
	if cc == nil {
		made = chanOverhead + int64(len(ch.Name))
		cc = &chanCache{ch: ch, bytes: made, maxBytes: c.budget / 8}
		c.chans[ch] = cc
	} else {
		cc.prev.next, cc.next.prev = cc.next, cc.prev
	}
	cc.prev, cc.next = &c.lru, c.lru.next
	c.lru.next.prev = cc
	c.lru.next = cc
	_, doubt := c.doubts[ch]
	doubt = doubt || c.doubt
	c.mu.Unlock()
	if made > 0 {
		c.charge(made)
	}
	return cc, doubt
}

// charge adds delta to what the cache holds and evicts past the budget.
func (c *histCache) charge(delta int64) {
	if c.bytes.Add(delta) > c.budget {
		c.evict()
	}
}

// evict drops the least recently used channels until the cache is within
// its budget.
func (c *histCache) evict() {
	for c.bytes.Load() > c.budget {
		c.mu.Lock()
		v := c.lru.prev
		if v == &c.lru {
			c.mu.Unlock()
			return
		}
		v.prev.next, v.next.prev = v.next, v.prev
		v.prev, v.next = nil, nil
		delete(c.chans, v.ch)
		c.mu.Unlock()
		v.mu.Lock()
		n := v.bytes
		v.dead, v.valid, v.ents, v.bytes = true, false, nil, 0
		v.mu.Unlock()
		c.bytes.Add(-n)
	}
}

// stored records the node's own publication p, stored as the channel's
// message m (after the channel's last message, which it expected): the
// channel's last, and no longer in doubt.
func (c *histCache) stored(ch broker.Channel, p broker.Publication, m lastMeta) {
	cc, doubt := c.get(ch)
	cc.mu.Lock()
	delta := cc.put(p, m, c.bound(m.size))
	cc.mu.Unlock()
	c.charge(delta)
	if doubt { // only now: until the cache holds p, ch's last was not known
		c.mu.Lock()
		delete(c.doubts, ch)
		c.mu.Unlock()
	}
}

// learned records another node's publication p, its live copy telling it
// was stored as the channel's message m (m.size 0: it did not tell its
// HistorySize, so it cannot be taken: the run breaks).
func (c *histCache) learned(ch broker.Channel, p broker.Publication, m lastMeta) {
	cc, _ := c.get(ch)
	cc.mu.Lock()
	var delta int64
	if m.size > 0 {
		delta = cc.put(p, m, c.bound(m.size))
	} else if !cc.valid || cc.last.stream < m.stream {
		delta = cc.reset()
	}
	cc.mu.Unlock()
	c.charge(delta)
}

// doubtful puts ch in doubt: a store to it may or may not have happened.
func (c *histCache) doubtful(ch broker.Channel) {
	c.mu.Lock()
	if len(c.doubts) >= maxDoubts {
		c.doubt = true
	} else {
		c.doubts[ch] = struct{}{}
	}
	cc := c.chans[ch]
	c.mu.Unlock()
	if cc != nil {
		cc.mu.Lock()
		delta := cc.reset()
		cc.mu.Unlock()
		c.charge(delta)
	}
}

// filled records what a JetStream read of the channel found: run, the
// newest entries (contiguous, ending with last), or none when the channel
// has no message (last zero).
func (c *histCache) filled(cc *chanCache, run []entry, last lastMeta) {
	cc.mu.Lock()
	delta := cc.fill(run, last, c.bound(last.size))
	cc.mu.Unlock()
	c.charge(delta)
}

// bound is the number of entries a channel keeps when its last message was
// published with HistorySize size.
func (c *histCache) bound(size int) int { return max(min(size, c.perChan), 1) }

// clear drops every channel (Close).
func (c *histCache) clear() {
	c.mu.Lock()
	chans := c.chans
	c.chans = map[broker.Channel]*chanCache{}
	c.lru.next, c.lru.prev = &c.lru, &c.lru
	c.mu.Unlock()
	for _, cc := range chans {
		cc.mu.Lock()
		n := cc.bytes
		cc.dead, cc.valid, cc.ents, cc.bytes = true, false, nil, 0
		cc.mu.Unlock()
		c.bytes.Add(-n)
	}
}

func pubBytes(p broker.Publication) int64 {
	return entryOverhead + int64(cap(p.Data)) + int64(len(p.Node))
}

// The methods of chanCache run with its mu held (for writing, except
// answer) and return the change in what it is charged.

// reset forgets the channel's entries and last message.
func (cc *chanCache) reset() int64 {
	if cc.dead {
		return 0
	}
	d := cc.dropFront(len(cc.ents))
	cc.valid, cc.last = false, lastMeta{}
	return d
}

// put takes p, stored as the channel's message m after what the cache
// knows (or ignored when the cache knows m or later), and keeps at most
// bound entries.
func (cc *chanCache) put(p broker.Publication, m lastMeta, bound int) int64 {
	if cc.dead || (cc.valid && cc.last.stream >= m.stream) {
		return 0
	}
	var d int64
	if !cc.valid || cc.last.seq+1 != m.seq {
		d = cc.dropFront(len(cc.ents)) // a gap: the run starts again with p
	}
	p.Data = p.Data[:len(p.Data):len(p.Data)]
	cc.ents = append(cc.ents, p)
	cc.valid, cc.last = true, m
	d += pubBytes(p)
	cc.bytes += pubBytes(p)
	return d + cc.trim(bound)
}

// fill takes what a read found: run, the channel's newest entries ending
// with last. With the same last message as the cache's, it adds the older
// entries it lacks; with a newer one, it replaces the cache; an older
// read is ignored.
func (cc *chanCache) fill(run []entry, last lastMeta, bound int) int64 {
	if cc.dead || (cc.valid && cc.last.stream > last.stream) {
		return 0
	}
	if len(run) > bound {
		run = run[len(run)-bound:]
	}
	var d int64
	if !cc.valid || cc.last.stream != last.stream {
		d = cc.dropFront(len(cc.ents))
		cc.valid, cc.last = true, last
	}
	if len(run) == 0 || run[len(run)-1].pub.Seq != cc.last.seq {
		return d
	}
	n := len(run) // those older than the cache's first
	if len(cc.ents) > 0 {
		if run[0].pub.Seq >= cc.ents[0].Seq {
			return d
		}
		n = int(cc.ents[0].Seq - run[0].pub.Seq)
	}
	ents := make([]broker.Publication, 0, n+len(cc.ents))
	for _, e := range run[:n] {
		ents = append(ents, e.pub)
		d += pubBytes(e.pub)
		cc.bytes += pubBytes(e.pub)
	}
	cc.ents = append(ents, cc.ents...)
	return d + cc.trim(bound)
}

// trim keeps at most bound entries and the channel's byte bound.
func (cc *chanCache) trim(bound int) int64 {
	d := cc.dropFront(len(cc.ents) - bound)
	for len(cc.ents) > 0 && cc.bytes > cc.maxBytes {
		d += cc.dropFront(1)
	}
	return d
}

// dropFront drops the oldest n entries.
func (cc *chanCache) dropFront(n int) int64 {
	if n <= 0 {
		return 0
	}
	var d int64
	for _, p := range cc.ents[:n] {
		d -= pubBytes(p)
	}
	clear(cc.ents[:n])
	cc.ents = cc.ents[n:]
	if len(cc.ents) == 0 {
		cc.ents = nil
	}
	cc.bytes += d
	return d
}

// answer returns what q selects, when the cache holds it all, with the
// channel's last message being m (the cache's, or a read's that the
// caller checked is the cache's). With its mu held for reading.
func (cc *chanCache) answer(b *Broker, q broker.HistoryQuery, m lastMeta) ([]broker.Publication, bool) {
	w := b.window(q, m)
	if w.none {
		return nil, true
	}
	if len(cc.ents) == 0 || cc.ents[0].Seq > w.lo {
		return nil, false
	}
	base := cc.ents[0].Seq
	run := cc.ents[w.lo-base : w.hi-base+1]
	i := 0
	for i < len(run) && run[i].Time <= w.cutoff {
		i++
	}
	run = run[i:]
	if !w.newest && w.limit > 0 && uint64(len(run)) > w.limit {
		run = run[:w.limit]
	}
	if len(run) == 0 {
		return nil, true
	}
	return slices.Clone(run), true
}

// fromCache answers q from ch's cache cc: trusted, when the cache's last is
// the channel's (the node is alone and ch is not in doubt); else only when
// it is read, the channel's last message as just read.
func (b *Broker) fromCache(cc *chanCache, q broker.HistoryQuery, read *entry) ([]broker.Publication, uint64, bool) {
	cc.mu.RLock()
	defer cc.mu.RUnlock()
	if !cc.valid {
		return nil, 0, false
	}
	m := cc.last
	if read != nil {
		if read.stream != m.stream || read.pub.Seq != m.seq {
			return nil, 0, false
		}
		m = metaOf(*read) // the same message: judged as a read judges it
	}
	if m.seq == 0 {
		return nil, 0, true // no message
	}
	pubs, ok := cc.answer(b, q, m)
	return pubs, m.seq, ok
}
