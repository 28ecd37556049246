package limit

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a test clock: it moves only when the test says.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() int64              { return c.ns.Load() }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func testLimiter(rate float64, burst int64) (*Limiter, *clock) {
	l := New("test", rate, burst)
	ck := &clock{}
	ck.ns.Store(1e12)
	l.SetClock(ck.now)
	return l, ck
}

func allows(l *Limiter, key string, times int) string {
	s := ""
	for range times {
		if l.Allow(key, 1) {
			s += "y"
		} else {
			s += "n"
		}
	}
	return s
}

// TestBurstThenRefill: a key starts full, is refused once empty, refills at
// rate (never past burst); keys are independent.
func TestBurstThenRefill(t *testing.T) {
	l, ck := testLimiter(10, 3) // a token every 100 ms
	if got := allows(l, "a", 5); got != "yyynn" {
		t.Fatalf("a fresh key: %s, want yyynn", got)
	}
	if got := allows(l, "b", 1); got != "y" {
		t.Errorf("another key: %s, want y", got)
	}
	ck.advance(99 * time.Millisecond)
	if got := allows(l, "a", 1); got != "n" {
		t.Errorf("after 99 ms: %s, want n", got)
	}
	ck.advance(time.Millisecond)
	if got := allows(l, "a", 2); got != "yn" {
		t.Errorf("after 100 ms: %s, want yn (one token)", got)
	}
	ck.advance(250 * time.Millisecond)
	if r := l.Remaining("a"); r != 2 {
		t.Errorf("after 250 ms more: remaining %d, want 2", r)
	}
	ck.advance(time.Hour)
	if r := l.Remaining("a"); r != 3 {
		t.Errorf("after an hour: remaining %d, want burst 3", r)
	}
	if got := allows(l, "a", 4); got != "yyyn" {
		t.Errorf("after an hour: %s, want yyyn (never past burst)", got)
	}
}

// TestTakeN: n tokens at once; a refusal takes nothing; more than burst is
// never allowed.
func TestTakeN(t *testing.T) {
	l, ck := testLimiter(1, 5)
	if !l.Allow("k", 3) || l.Remaining("k") != 2 {
		t.Fatalf("take 3 of 5: remaining %d", l.Remaining("k"))
	}
	if l.Allow("k", 3) || l.Remaining("k") != 2 {
		t.Errorf("take 3 of 2 was allowed or took tokens: remaining %d", l.Remaining("k"))
	}
	if !l.Allow("k", 2) || l.Remaining("k") != 0 {
		t.Errorf("take the last 2: remaining %d", l.Remaining("k"))
	}
	if l.Allow("x", 6) || l.Len() != 1 {
		t.Errorf("more than burst: allowed, or made a bucket (%d buckets)", l.Len())
	}
	ck.advance(1500 * time.Millisecond)
	if !l.Allow("k", 0.5) || l.Remaining("k") != 1 {
		t.Errorf("fractional take after 1.5 s: remaining %d, want 1", l.Remaining("k"))
	}
}

func TestReset(t *testing.T) {
	l, _ := testLimiter(0.001, 2)
	allows(l, "k", 2)
	if l.Allow("k", 1) {
		t.Fatal("an empty bucket allowed")
	}
	l.Reset("k")
	if l.Len() != 0 || l.Remaining("k") != 2 || !l.Allow("k", 1) {
		t.Errorf("after Reset: %d buckets, remaining %d", l.Len(), l.Remaining("k"))
	}
	if l.Remaining("never") != 2 || l.Len() != 1 {
		t.Errorf("Remaining of an unseen key made a bucket or is not burst")
	}
}

// TestSetChangesRateAndBurst: a new declaration's options apply to the
// buckets there are: tokens at most the new burst, refill at the new rate.
func TestSetChangesRateAndBurst(t *testing.T) {
	l, ck := testLimiter(1, 10)
	if !l.Allow("k", 1) || l.Remaining("k") != 9 {
		t.Fatal("take 1 of 10")
	}
	l.Set(100, 4)
	if l.Rate() != 100 || l.Burst() != 4 || l.Remaining("k") != 4 {
		t.Errorf("after Set(100, 4): rate %v burst %d remaining %d", l.Rate(), l.Burst(), l.Remaining("k"))
	}
	allows(l, "k", 4)
	ck.advance(20 * time.Millisecond)
	if r := l.Remaining("k"); r != 2 {
		t.Errorf("20 ms at 100/s: remaining %d, want 2", r)
	}
}

// TestSweepDropsFullBuckets: buckets that refilled are dropped by a sweep
// (the periodic one, or the one an insert makes when a shard has doubled);
// the others stay, with their tokens.
func TestSweepDropsFullBuckets(t *testing.T) {
	l, ck := testLimiter(5, 2) // a token every 200 ms
	for i := range 1000 {
		l.Allow(fmt.Sprint("k", i), 1)
	}
	ck.advance(100 * time.Millisecond)
	l.Allow("busy", 2) // empty, full 400 ms from now
	l.Sweep()
	if n := l.Len(); n != 1001 {
		t.Fatalf("after 100 ms: %d buckets, want 1001 (none full)", n)
	}
	ck.advance(100 * time.Millisecond)
	l.Sweep()
	if n := l.Len(); n != 1 {
		t.Fatalf("after 200 ms: %d buckets, want 1 (only busy is not full)", n)
	}
	ck.advance(100 * time.Millisecond)
	if l.Remaining("busy") != 1 {
		t.Errorf("busy: remaining %d, want 1", l.Remaining("busy"))
	}
	// sweepOlder skips shards swept within d.
	for i := range 1000 {
		l.Allow(fmt.Sprint("k", i), 1)
	}
	ck.advance(time.Second)
	l.sweepOlder(2 * time.Second)
	if n := l.Len(); n != 1001 {
		t.Errorf("sweepOlder(2s) a second after a sweep: %d buckets, want 1001 (none swept)", n)
	}
	l.sweepOlder(time.Second)
	if n := l.Len(); n != 0 {
		t.Errorf("sweepOlder(1s): %d buckets, want 0", n)
	}
}

// TestInsertsSweep: with no periodic sweep, a stream of new keys keeps the
// limiter near the number of keys not full yet, not the number seen.
func TestInsertsSweep(t *testing.T) {
	l, ck := testLimiter(1000, 1) // full again 1 ms after a take
	most := 0
	for i := range 200_000 {
		l.Allow(fmt.Sprint("k", i), 1)
		if i%100 == 99 {
			ck.advance(time.Millisecond) // 100 new keys a millisecond
		}
		if i%1000 == 0 {
			most = max(most, l.Len())
		}
	}
	// Every shard sweeps at 2 × what it kept, at least minSweepAt.
	if limit := numShards * minSweepAt; most > limit {
		t.Errorf("the limiter held %d buckets, want at most %d", most, limit)
	}
	// The map was rebuilt small once the wave had gone.
	ck.advance(time.Second)
	l.Sweep()
	if l.Len() != 0 {
		t.Errorf("%d buckets after they all refilled", l.Len())
	}
}

// TestConcurrentAllowIsExact: goroutines hammering the same keys get
// exactly burst allowances per key between them.
func TestConcurrentAllowIsExact(t *testing.T) {
	l, _ := testLimiter(0.000001, 1000)
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20_000 {
				if l.Allow(fmt.Sprint("k", i%10), 1) {
					allowed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n := allowed.Load(); n != 10*1000 {
		t.Errorf("allowed %d, want 10 keys × burst 1000", n)
	}
}

// BenchmarkAllow: goroutines asking about 1024 keys, each starting at its
// own place among them.
func BenchmarkAllow(b *testing.B) {
	l := New("bench", 1e9, 1<<30)
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprint("10.0.0.", i)
	}
	var start atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		i := int(start.Add(337))
		for pb.Next() {
			l.Allow(keys[i&1023], 1)
			i++
		}
	})
}
