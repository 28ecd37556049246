// Package limit is imscript.limit: named token-bucket rate limiters shared
// by every worker of a host (and kept across reloads), with one bucket per
// key.
package limit

import (
	"hash/maphash"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/cpu"
)

// A Limiter is a token bucket per key: a key's bucket starts full, holding
// burst tokens, and refills at rate tokens a second up to burst; Allow
// takes tokens when there are enough. Buckets live in shards, each behind
// its own mutex, so workers asking about different keys rarely meet. A
// bucket that has refilled is the same as no bucket: sweeps drop those, so
// memory follows the keys seen within about one refill time.
type Limiter struct {
	name   string
	params atomic.Pointer[params]
	// now is the clock in nanoseconds (monotonic); tests set their own.
	now    func() int64
	seed   maphash.Seed
	shards [numShards]shard
}

// params are a limiter's options; a declaration may replace them.
type params struct {
	rate    float64 // tokens a second
	burst   float64 // tokens a full bucket holds
	perNano float64 // rate per nanosecond
}

type shard struct {
	mu      sync.Mutex
	buckets map[string]*bucket
	// sweepAt is the size at which an insert sweeps the shard first;
	// swept is when it was last swept (clock nanoseconds).
	sweepAt int
	swept   int64
	_       cpu.CacheLinePad
}

type bucket struct {
	tokens float64
	last   int64 // when tokens was last brought up to date
}

const (
	numShards = 64
	// minSweepAt is the smallest shard size at which an insert sweeps.
	minSweepAt = 256
	// MaxKeyLen bounds a key, so a bucket's memory is bounded too.
	MaxKeyLen = 1024
	// eps absorbs float rounding in refills (0.1 s at 10/s is 1 token).
	eps = 1e-9
)

var epoch = time.Now()

// monotonic is the default clock: nanoseconds since the package loaded,
// on the monotonic clock.
func monotonic() int64 { return int64(time.Since(epoch)) }

// New makes a limiter. rate must be above 0 and burst at least 1.
func New(name string, rate float64, burst int64) *Limiter {
	l := &Limiter{name: name, now: monotonic, seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].buckets = map[string]*bucket{}
		l.shards[i].sweepAt = minSweepAt
	}
	l.Set(rate, burst)
	return l
}

// SetClock replaces the limiter's clock (for tests): now returns
// nanoseconds on a clock that never goes back.
func (l *Limiter) SetClock(now func() int64) { l.now = now }

// Name is the name the limiter was declared with.
func (l *Limiter) Name() string { return l.name }

// Rate is the refill rate in tokens a second.
func (l *Limiter) Rate() float64 { return l.params.Load().rate }

// Burst is what a full bucket holds.
func (l *Limiter) Burst() int64 { return int64(l.params.Load().burst) }

// Set replaces rate and burst. Existing buckets keep their tokens (at most
// the new burst) and refill at the new rate from now on.
func (l *Limiter) Set(rate float64, burst int64) {
	if cur := l.params.Load(); cur != nil && cur.rate == rate && cur.burst == float64(burst) {
		return
	}
	l.params.Store(&params{rate: rate, burst: float64(burst), perNano: rate / 1e9})
}

func (l *Limiter) shard(key string) *shard {
	return &l.shards[maphash.String(l.seed, key)%numShards]
}

// refill brings b up to date at now.
func (b *bucket) refill(now int64, p *params) {
	if now > b.last {
		b.tokens += float64(now-b.last) * p.perNano
		b.last = now
	}
	if b.tokens > p.burst {
		b.tokens = p.burst
	}
}

// full says whether b, refilled until now, is full again.
func (b *bucket) full(now int64, p *params) bool {
	t := b.tokens
	if now > b.last {
		t += float64(now-b.last) * p.perNano
	}
	return t+eps >= p.burst
}

// Allow takes n tokens from key's bucket and says whether it had them; a
// refusal takes nothing. More than burst is never allowed.
func (l *Limiter) Allow(key string, n float64) bool {
	p := l.params.Load()
	if n > p.burst+eps {
		return false
	}
	now := l.now()
	sh := l.shard(key)
	sh.mu.Lock()
	b := sh.buckets[key]
	if b == nil {
		if len(sh.buckets) >= sh.sweepAt {
			sh.sweep(now, p)
		}
		b = &bucket{tokens: p.burst, last: now}
		sh.buckets[strings.Clone(key)] = b
	} else {
		b.refill(now, p)
	}
	ok := b.tokens+eps >= n
	if ok {
		b.tokens -= n
		if b.tokens < 0 {
			b.tokens = 0
		}
	}
	sh.mu.Unlock()
	return ok
}

// Remaining is how many whole tokens key's bucket holds now (burst for a
// key it has no bucket for). It takes nothing and makes no bucket.
func (l *Limiter) Remaining(key string) int64 {
	p := l.params.Load()
	now := l.now()
	sh := l.shard(key)
	sh.mu.Lock()
	t := p.burst
	if b := sh.buckets[key]; b != nil {
		b.refill(now, p)
		t = b.tokens
	}
	sh.mu.Unlock()
	return int64(math.Floor(t + eps))
}

// Reset forgets key's bucket: the key starts full again.
func (l *Limiter) Reset(key string) {
	sh := l.shard(key)
	sh.mu.Lock()
	delete(sh.buckets, key)
	sh.mu.Unlock()
}

// Len is the number of buckets the limiter holds.
func (l *Limiter) Len() int {
	n := 0
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		n += len(sh.buckets)
		sh.mu.Unlock()
	}
	return n
}

// Sweep drops every bucket that is full again (the same as no bucket).
func (l *Limiter) Sweep() { l.sweepOlder(0) }

// sweepOlder sweeps the shards not swept in the last d.
func (l *Limiter) sweepOlder(d time.Duration) {
	p := l.params.Load()
	now := l.now()
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		if now-sh.swept >= int64(d) {
			sh.sweep(now, p)
		}
		sh.mu.Unlock()
	}
}

// sweep drops the shard's full buckets; the next insert-time sweep comes
// when the shard has doubled (so inserts cost O(1) amortized and a shard
// holds at most about twice its buckets that are not full).
func (sh *shard) sweep(now int64, p *params) {
	before := len(sh.buckets)
	for k, b := range sh.buckets {
		if b.full(now, p) {
			delete(sh.buckets, k)
		}
	}
	if n := len(sh.buckets); before >= minSweepAt && n < before/4 {
		// A map keeps the room it grew to: after a wave of keys has
		// gone, copy the rest into one of their size.
		m := make(map[string]*bucket, n)
		for k, b := range sh.buckets {
			m[k] = b
		}
		sh.buckets = m
	}
	sh.sweepAt = max(minSweepAt, 2*len(sh.buckets))
	sh.swept = now
}
