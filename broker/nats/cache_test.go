package nats

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/imscript/imscript/broker"
)

// sameHistory fails unless History from the cache (got, gp) is what the
// stream gives (want, wp), byte for byte.
func sameHistory(t testing.TB, what string, got, want []broker.Publication, gp, wp broker.Position) {
	t.Helper()
	if gp != wp {
		t.Fatalf("%s: position %+v, the stream's %+v", what, gp, wp)
	}
	if len(got) != len(want) || (got == nil) != (want == nil) {
		t.Fatalf("%s: seqs %v, the stream's %v", what, seqs(got), seqs(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Seq != w.Seq || g.Time != w.Time || g.Node != w.Node || !bytes.Equal(g.Data, w.Data) {
			t.Fatalf("%s: entry %d is %+v (%q), the stream's %+v (%q)", what, i, g, g.Data, w, w.Data)
		}
	}
}

// compare runs q on n with the cache and without, in a random order, and
// fails unless the answers are the same.
func compare(t testing.TB, r *rand.Rand, n *Broker, ch broker.Channel, q broker.HistoryQuery) {
	t.Helper()
	var got, want []broker.Publication
	var gp, wp broker.Position
	var err error
	if r.IntN(2) == 0 {
		got, gp, err = n.history(ch, q, true)
		must(t, err)
		want, wp, err = n.history(ch, q, false)
		must(t, err)
	} else {
		want, wp, err = n.history(ch, q, false)
		must(t, err)
		got, gp, err = n.history(ch, q, true)
		must(t, err)
	}
	sameHistory(t, fmt.Sprintf("%s on %s %+v", ch, n.Node(), q), got, want, gp, wp)
}

// randomQuery is a query on a channel whose last seq is about last: mostly
// near the end (a recovery, a "last N", a page backwards), sometimes far.
func randomQuery(r *rand.Rand, last uint64) broker.HistoryQuery {
	back := func(k uint64) uint64 { return last - min(last, r.Uint64N(k)) }
	var q broker.HistoryQuery
	switch r.IntN(6) {
	case 0: // last N
	case 1, 2: // a recovery
		q.Since = back(400)
	case 3: // a page backwards
		q.Before = back(300) + 1
	case 4:
		q.Since, q.Before = back(500), back(200)+1
	default:
		q.Since = r.Uint64N(last + 3)
		if r.IntN(4) == 0 {
			q.Since = ^uint64(0) // the position only
		}
	}
	switch r.IntN(4) {
	case 0:
	case 1:
		q.Limit = 301 // recovery_max + 1
	default:
		q.Limit = r.IntN(120) - 5
	}
	return q
}

// For random publications (several channels, sizes changing, TTLs on a
// settable clock, stamped data, restarts of the node) and random queries,
// History from the cache is what the stream gives, byte for byte; with the
// default bounds and with small ones (trimming and evicting all along).
func TestCacheMatchesStream(t *testing.T) {
	for _, v := range []struct {
		name    string
		budget  int64
		perChan int
	}{{"default", defaultCacheBytes, cachePerChan}, {"small", 24 << 10, 16}} {
		t.Run(v.name, func(t *testing.T) {
			dir := t.TempDir()
			clk := &clock{t: time.Now()}
			r := rand.New(rand.NewPCG(7, uint64(v.budget)))
			var n *Broker
			hits, restarts := int64(0), 0
			reopen := func() {
				if n != nil {
					hits += n.cacheHits.Load()
					must(t, n.Close())
					restarts++
				}
				n = open(t, dir, "n")
				n.now = clk.now
				n.cache = newHistCache(v.budget, v.perChan)
			}
			reopen()
			chans := []broker.Channel{lobby, other, alice, {Kind: broker.Room, Name: "a.b"}, {Kind: broker.User, Name: "lobby"}}
			opts := make([]broker.PublishOptions, len(chans))
			sizes := []int{1, 3, 10, 40, 200, 1500}
			ttls := []time.Duration{0, 0, 30 * time.Second, 2 * time.Minute}
			for i := range opts {
				opts[i] = broker.PublishOptions{HistorySize: sizes[r.IntN(len(sizes))], HistoryTTL: ttls[r.IntN(len(ttls))]}
			}
			stamp := func(seq uint64, ms int64, data []byte) []byte { return fmt.Appendf(nil, "%d@%d:%s", seq, ms, data) }
			last := make([]uint64, len(chans))
			queries := 0
			for step := range 6000 {
				i := r.IntN(len(chans))
				switch x := r.IntN(1000); {
				case x < 550:
					o := opts[i]
					if r.IntN(3) == 0 {
						o.Stamp = stamp
					}
					data := make([]byte, r.IntN(300))
					for j := range data {
						data[j] = byte(r.Uint32())
					}
					p := publish(t, n, chans[i], string(data), o)
					if last[i]++; p.Seq != last[i] {
						t.Fatalf("step %d: %s got seq %d, want %d", step, chans[i], p.Seq, last[i])
					}
				case x < 580:
					clk.add(time.Duration(r.IntN(40000)) * time.Millisecond)
				case x < 600:
					opts[i].HistorySize = sizes[r.IntN(len(sizes))]
					opts[i].HistoryTTL = ttls[r.IntN(len(ttls))]
				case x < 604:
					reopen()
				default:
					queries++
					compare(t, r, n, chans[i], randomQuery(r, last[i]))
				}
			}
			for i, ch := range chans {
				for range 100 {
					queries++
					compare(t, r, n, ch, randomQuery(r, last[i]))
				}
			}
			hits += n.cacheHits.Load()
			t.Logf("%d queries, %d from the cache, %d restarts; positions %v", queries, hits, restarts, last)
			if hits < int64(queries)/4 {
				t.Errorf("only %d of %d queries were answered from the cache", hits, queries)
			}
			checkCharges(t, n.cache)
		})
	}
}

// checkCharges fails unless what the cache says it holds is what its
// channels hold, and within its budget.
func checkCharges(t testing.TB, c *histCache) {
	t.Helper()
	// A live publication being taken (learned) has changed its channel's
	// charge and not yet the cache's total: the total may lag a moment.
	deadline := time.Now().Add(5 * time.Second)
	for {
		problems, got, sum := charges(c)
		if got == sum || time.Now().After(deadline) {
			for _, p := range problems {
				t.Error(p)
			}
			if got != sum || got > c.budget {
				t.Errorf("the cache says it holds %d bytes, its channels hold %d, the budget is %d", got, sum, c.budget)
			}
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// charges checks each channel's charge and returns what is wrong, the
// cache's total and the sum of the channels'.
func charges(c *histCache) (problems []string, got, sum int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	listed := 0
	for cc := c.lru.next; cc != &c.lru; cc = cc.next {
		listed++
		cc.mu.RLock()
		want := chanOverhead + int64(len(cc.ch.Name))
		for _, p := range cc.ents {
			want += pubBytes(p)
		}
		if cc.bytes != want || len(cc.ents) > c.perChan || (len(cc.ents) > 1 && cc.bytes > c.budget/8) {
			problems = append(problems, fmt.Sprintf("%s: charged %d for %d entries, which take %d", cc.ch, cc.bytes, len(cc.ents), want))
		}
		for i := 1; i < len(cc.ents); i++ {
			if cc.ents[i].Seq != cc.ents[i-1].Seq+1 {
				problems = append(problems, fmt.Sprintf("%s: seqs %v are not contiguous", cc.ch, seqs(cc.ents)))
				break
			}
		}
		if k := len(cc.ents); k > 0 && (!cc.valid || cc.ents[k-1].Seq != cc.last.seq) {
			problems = append(problems, fmt.Sprintf("%s: entries end at %d, the last is %+v (valid %v)", cc.ch, cc.ents[k-1].Seq, cc.last, cc.valid))
		}
		sum += cc.bytes
		cc.mu.RUnlock()
	}
	if listed != len(c.chans) {
		problems = append(problems, fmt.Sprintf("%d channels listed, %d in the map", listed, len(c.chans)))
	}
	return problems, c.bytes.Load(), sum
}

// A node alone on its server answers a recovery of 100 of a 10,000-long
// channel, a "last 50" and the position without a request to the stream;
// after a restart the first read fills the cache.
func TestCacheAloneNoRequests(t *testing.T) {
	dir := t.TempDir()
	n := open(t, dir, "n")
	opts := broker.PublishOptions{HistorySize: 10000}
	for i := range 10000 {
		publish(t, n, lobby, fmt.Sprint(i+1), opts)
	}
	check := func(q broker.HistoryQuery, want []uint64) {
		t.Helper()
		got, pos, err := n.History(lobby, q)
		must(t, err)
		if !slices.Equal(seqs(got), want) || pos.Seq != 10000 {
			t.Fatalf("%+v: %v, position %+v", q, seqs(got), pos)
		}
		for _, p := range got {
			if string(p.Data) != fmt.Sprint(p.Seq) {
				t.Fatalf("seq %d holds %q", p.Seq, p.Data)
			}
		}
	}
	gets := n.gets.Load()
	check(broker.HistoryQuery{Since: 9900, Limit: 301}, rng(9901, 10000))
	check(broker.HistoryQuery{Limit: 50}, rng(9951, 10000))
	check(broker.HistoryQuery{Since: ^uint64(0)}, nil)
	check(broker.HistoryQuery{Before: 9500, Limit: 20}, rng(9480, 9499))
	if d := n.gets.Load() - gets; d != 0 {
		t.Fatalf("%d requests to the stream", d)
	}
	// Beyond the 1,024 cached: read from the stream.
	check(broker.HistoryQuery{Since: 5000, Limit: 10}, rng(5001, 5010))
	if n.gets.Load() == gets {
		t.Fatal("a recovery from 5000 was answered from the cache")
	}

	must(t, n.Close())
	n = open(t, dir, "n")
	gets = n.gets.Load()
	check(broker.HistoryQuery{Since: 9900, Limit: 301}, rng(9901, 10000))
	if n.gets.Load() == gets {
		t.Fatal("the cache was not empty after a restart")
	}
	gets = n.gets.Load()
	check(broker.HistoryQuery{Since: 9900, Limit: 301}, rng(9901, 10000))
	check(broker.HistoryQuery{Since: 9950, Limit: 301}, rng(9951, 10000))
	check(broker.HistoryQuery{Since: ^uint64(0)}, nil)
	publish(t, n, lobby, "10001", opts) // reads the channel's last first (its state is not loaded yet)
	gets = n.gets.Load()
	if got, pos, _ := n.History(lobby, broker.HistoryQuery{Since: 9999}); !slices.Equal(seqs(got), []uint64{10000, 10001}) || pos.Seq != 10001 {
		t.Fatalf("after a publication: %v, %+v", seqs(got), pos)
	}
	if d := n.gets.Load() - gets; d != 0 {
		t.Fatalf("%d requests to the stream after the cache was filled", d)
	}
	// A channel never published is known empty after one read.
	for range 3 {
		if got, pos, err := n.History(other, broker.HistoryQuery{Since: 3}); err != nil || len(got) != 0 || pos.Seq != 0 {
			t.Fatalf("empty channel: %v, %+v, %v", got, pos, err)
		}
	}
	if d := n.gets.Load() - gets; d != 1 {
		t.Fatalf("%d requests for an empty channel read three times", d)
	}
	if p := publish(t, n, other, "o", opts); p.Seq != 1 {
		t.Fatal(p.Seq)
	}
	// (the publication read other's last: its state was not loaded)
	if got, pos, _ := n.History(other, broker.HistoryQuery{}); !slices.Equal(seqs(got), []uint64{1}) || pos.Seq != 1 || n.gets.Load()-gets != 2 {
		t.Fatalf("after the first publication: %v, %+v", seqs(got), pos)
	}
}

// Many channels with a small budget: the cache stays within it, evicting
// the least recently used, and what is evicted is read from the stream.
func TestCacheEviction(t *testing.T) {
	n := open(t, t.TempDir(), "n")
	const budget = 64 << 10
	n.cache = newHistCache(budget, cachePerChan)
	opts := broker.PublishOptions{HistorySize: 100}
	data := make([]byte, 1000)
	chans := make([]broker.Channel, 40)
	for i := range chans {
		chans[i] = broker.Channel{Kind: broker.Room, Name: fmt.Sprint("r", i)}
	}
	for round := range 10 {
		for _, ch := range chans {
			publish(t, n, ch, string(data), opts)
			if b := n.cache.bytes.Load(); b > budget {
				t.Fatalf("the cache holds %d bytes, past its budget %d", b, budget)
			}
		}
		checkCharges(t, n.cache)
		_ = round
	}
	// 40 channels of 10 KB each in 64 KiB: the latest are cached, the
	// oldest evicted; one channel takes at most an eighth of the budget.
	n.cache.mu.Lock()
	cached := len(n.cache.chans)
	n.cache.mu.Unlock()
	if cached == 0 || cached >= len(chans) {
		t.Fatalf("%d channels cached", cached)
	}
	gets := n.gets.Load()
	got, pos, err := n.History(chans[len(chans)-1], broker.HistoryQuery{Since: 9})
	must(t, err)
	if len(got) != 1 || pos.Seq != 10 || n.gets.Load() != gets {
		t.Fatalf("the newest channel: %v, %+v, %d gets", seqs(got), pos, n.gets.Load()-gets)
	}
	got, pos, err = n.History(chans[0], broker.HistoryQuery{Since: 9})
	must(t, err)
	if len(got) != 1 || pos.Seq != 10 || n.gets.Load() == gets {
		t.Fatalf("the oldest channel: %v, %+v, %d gets", seqs(got), pos, n.gets.Load()-gets)
	}
	r := rand.New(rand.NewPCG(1, 1))
	for range 200 {
		compare(t, r, n, chans[r.IntN(len(chans))], randomQuery(r, 10))
		if b := n.cache.bytes.Load(); b > budget {
			t.Fatalf("the cache holds %d bytes, past its budget %d", b, budget)
		}
	}
	checkCharges(t, n.cache)
	// A channel of big publications keeps what an eighth of the budget
	// holds.
	big := make([]byte, 3000)
	for range 20 {
		publish(t, n, lobby, string(big), opts)
	}
	checkCharges(t, n.cache)
	cc, _ := n.cache.get(lobby)
	cc.mu.RLock()
	k := len(cc.ents)
	cc.mu.RUnlock()
	if k == 0 || int64(k)*int64(len(big)) > budget/8 {
		t.Fatalf("%d big entries cached", k)
	}
	compare(t, r, n, lobby, broker.HistoryQuery{Since: 15})
	compare(t, r, n, lobby, broker.HistoryQuery{Limit: 2})
}

// Two nodes on one server (neither alone): each reads the channel's
// position first and uses its cache when the cache ends there; when the
// other node wrote what the cache did not get, it reads the stream.
func TestCacheTwoNodes(t *testing.T) {
	a := open(t, t.TempDir(), "a")
	b := attach(t, a, "b")
	must(t, a.Start(nop{}))
	must(t, b.Start(nop{}))
	// b gets lobby's live publications; nobody gets other's.
	must(t, b.Subscribe(lobby))
	opts := broker.PublishOptions{HistorySize: 500, HistoryTTL: time.Hour}
	r := rand.New(rand.NewPCG(5, 6))
	for i := 1; i <= 50; i++ {
		publish(t, a, lobby, fmt.Sprint("l", i), opts)
		publish(t, a, other, fmt.Sprint("o", i), opts)
	}
	// a's own publications: one request (the position) per answer.
	compare(t, r, a, lobby, broker.HistoryQuery{Since: 40, Limit: 301})
	gets, hits := a.gets.Load(), a.cacheHits.Load()
	got, _, err := a.History(other, broker.HistoryQuery{Limit: 10})
	must(t, err)
	if !slices.Equal(seqs(got), rng(41, 50)) || a.cacheHits.Load()-hits != 1 || a.gets.Load()-gets != 1 {
		t.Fatalf("a: %v, %d hits, %d gets", seqs(got), a.cacheHits.Load()-hits, a.gets.Load()-gets)
	}
	// b learned lobby's from the live publications.
	waitFor(t, "b to learn lobby's 50", func() bool {
		cc, _ := b.cache.get(lobby)
		cc.mu.RLock()
		defer cc.mu.RUnlock()
		return cc.valid && cc.last.seq == 50
	})
	hits, gets = b.cacheHits.Load(), b.gets.Load()
	got, pos, err := b.History(lobby, broker.HistoryQuery{Since: 20, Limit: 301})
	must(t, err)
	if !slices.Equal(seqs(got), rng(21, 50)) || pos.Seq != 50 || b.cacheHits.Load()-hits != 1 || b.gets.Load()-gets != 1 {
		t.Fatalf("b: %v, %+v, %d hits, %d gets", seqs(got), pos, b.cacheHits.Load()-hits, b.gets.Load()-gets)
	}
	if string(got[0].Data) != "l21" || got[0].Node != "a" {
		t.Fatalf("b's cached %+v", got[0])
	}
	// b writes other, which a does not hear of: a's cache of other is
	// stale, the position says so, a reads the stream (and fills its cache
	// from what it read).
	for i := 51; i <= 60; i++ {
		publish(t, b, other, fmt.Sprint("o", i), opts)
	}
	hits = a.cacheHits.Load()
	got, pos, err = a.History(other, broker.HistoryQuery{Since: 45, Limit: 301})
	must(t, err)
	if !slices.Equal(seqs(got), rng(46, 60)) || pos.Seq != 60 || a.cacheHits.Load() != hits {
		t.Fatalf("a after b wrote: %v, %+v, %d hits", seqs(got), pos, a.cacheHits.Load()-hits)
	}
	if got[len(got)-1].Node != "b" || string(got[len(got)-1].Data) != "o60" {
		t.Fatalf("a's last %+v", got[len(got)-1])
	}
	compare(t, r, a, other, broker.HistoryQuery{Since: 45, Limit: 301})
	compare(t, r, a, other, broker.HistoryQuery{Since: 50, Limit: 301})
	if a.cacheHits.Load() == hits {
		t.Fatal("a did not refill its cache from its read")
	}
	// Both write both channels in turns, at random; every answer on both
	// nodes is the stream's, whenever the live publications arrive.
	for i := range 400 {
		n := []*Broker{a, b}[r.IntN(2)]
		ch := []broker.Channel{lobby, other}[r.IntN(2)]
		if r.IntN(2) == 0 {
			publish(t, n, ch, fmt.Sprint(n.Node(), i), opts)
			continue
		}
		_, pos, err := n.history(ch, broker.HistoryQuery{Since: ^uint64(0)}, false)
		must(t, err)
		compare(t, r, n, ch, randomQuery(r, pos.Seq))
	}
	t.Logf("hits: a %d, b %d; conflicts: a %d, b %d", a.cacheHits.Load(), b.cacheHits.Load(), a.conflicts.Load(), b.conflicts.Load())
	checkCharges(t, a.cache)
	checkCharges(t, b.cache)
}

// A store whose outcome is unknown (here a request timeout that may or
// may not leave the message stored) puts the channel in doubt: the node,
// though alone, reads the position until its next store proves it.
func TestCacheDoubt(t *testing.T) {
	n := open(t, t.TempDir(), "n")
	opts := broker.PublishOptions{HistorySize: 100}
	for i := 1; i <= 10; i++ {
		publish(t, n, lobby, fmt.Sprint(i), opts)
	}
	failed := false
	n.timeout = time.Nanosecond
	for range 100 {
		if _, err := n.Publish(lobby, []byte("maybe"), opts); err != nil {
			failed = true
			break
		}
	}
	n.timeout = 5 * time.Second
	if !failed {
		t.Skip("no store timed out")
	}
	// However it ended, the stream is the truth.
	time.Sleep(50 * time.Millisecond)
	r := rand.New(rand.NewPCG(1, 2))
	_, pos, err := n.history(lobby, broker.HistoryQuery{Since: ^uint64(0)}, false)
	must(t, err)
	for range 2 {
		gets := n.gets.Load()
		if _, _, err := n.History(lobby, broker.HistoryQuery{Since: 5}); err != nil || n.gets.Load() == gets {
			t.Fatalf("in doubt: %v, %d gets", err, n.gets.Load()-gets)
		}
		compare(t, r, n, lobby, broker.HistoryQuery{Since: 5})
	}
	// The next store proves where lobby stands: no requests again.
	p := publish(t, n, lobby, "sure", opts)
	if p.Seq != pos.Seq+1 {
		t.Fatalf("seq %d after position %d", p.Seq, pos.Seq)
	}
	gets := n.gets.Load()
	got, pos2, err := n.History(lobby, broker.HistoryQuery{Since: p.Seq - 1})
	must(t, err)
	if !slices.Equal(seqs(got), []uint64{p.Seq}) || pos2.Seq != p.Seq || n.gets.Load() != gets {
		t.Fatalf("after a store: %v, %+v, %d gets", seqs(got), pos2, n.gets.Load()-gets)
	}
	compare(t, r, n, lobby, broker.HistoryQuery{Since: 5})
}

// Publications and History of the same channels at once, on two nodes,
// with a cache small enough to evict all along: every answer is a
// contiguous run of what was published, up to the position.
func TestCacheConcurrent(t *testing.T) {
	a := open(t, t.TempDir(), "a")
	b := attach(t, a, "b")
	alone := open(t, t.TempDir(), "alone")
	for _, n := range []*Broker{a, b, alone} {
		n.cache = newHistCache(32<<10, 64)
		must(t, n.Start(nop{}))
		must(t, n.Subscribe(lobby))
		must(t, n.Subscribe(other))
	}
	chans := []broker.Channel{lobby, other, alice}
	stamp := func(seq uint64, ms int64, data []byte) []byte { return fmt.Appendf(nil, "%d:%s", seq, data) }
	opts := broker.PublishOptions{HistorySize: 200, Stamp: stamp}
	stop := make(chan struct{})
	var writers, readers sync.WaitGroup
	for g, n := range []*Broker{a, b, alone, alone} {
		writers.Go(func() {
			for i := range 300 {
				if _, err := n.Publish(chans[(g+i)%len(chans)], fmt.Appendf(nil, "%d/%d", g, i), opts); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for g, n := range []*Broker{a, b, alone, alone} {
		readers.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 9))
			for {
				select {
				case <-stop:
					return
				default:
				}
				ch := chans[r.IntN(len(chans))]
				q := randomQuery(r, uint64(r.IntN(600)))
				got, pos, err := n.History(ch, q)
				if err != nil {
					t.Error(err)
					return
				}
				for i, p := range got {
					if p.Seq > pos.Seq || (i > 0 && p.Seq != got[i-1].Seq+1) || !bytes.HasPrefix(p.Data, fmt.Appendf(nil, "%d:", p.Seq)) {
						t.Errorf("%s %+v: %v (position %d), entry %q", ch, q, seqs(got), pos.Seq, p.Data)
						return
					}
				}
			}
		})
	}
	writers.Wait()
	close(stop)
	readers.Wait()
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []*Broker{a, b, alone} {
		for _, ch := range chans {
			for range 30 {
				_, pos, err := n.history(ch, broker.HistoryQuery{Since: ^uint64(0)}, false)
				must(t, err)
				compare(t, r, n, ch, randomQuery(r, pos.Seq))
			}
		}
		checkCharges(t, n.cache)
	}
}
