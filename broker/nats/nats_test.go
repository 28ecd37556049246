package nats

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imscript/imscript/broker"
)

func TestAlone(t *testing.T) {
	n := open(t, t.TempDir(), "n1")
	r := &recorder{}
	must(t, n.Start(r))
	must(t, n.Subscribe(lobby))
	before := time.Now().UnixMilli()
	p := publish(t, n, lobby, "hi", broker.PublishOptions{})
	after := time.Now().UnixMilli()
	if string(p.Data) != "hi" || p.Seq != 0 || p.Node != "n1" || p.Time < before || p.Time > after {
		t.Fatalf("Publish = %+v", p)
	}
	p = publish(t, n, lobby, "kept", broker.PublishOptions{HistorySize: 5})
	if p.Seq != 1 || p.Node != "n1" || p.Time < before {
		t.Fatalf("Publish with history = %+v", p)
	}
	if got := r.got(); len(got) != 0 {
		t.Fatalf("the publisher got its own publication: %v", got)
	}
	if n.Node() != "n1" {
		t.Fatalf("Node() = %q", n.Node())
	}
}

func TestOpenConfig(t *testing.T) {
	for _, cfg := range []Config{
		{DataDir: t.TempDir()},
		{Node: "n"},
		{Node: "a\nb", DataDir: t.TempDir()},
		{Node: "n", DataDir: t.TempDir(), URLs: []string{"nats://127.0.0.1:4222"}},
		{Node: "n", DataDir: t.TempDir(), ClusterAddr: "127.0.0.1:7101"},
	} {
		if b, err := Open(cfg); err == nil {
			b.Close()
			t.Errorf("Open(%+v) succeeded", cfg)
		}
	}
}

// Two nodes on one server: what one publishes reaches the other's
// subscription, once, with its seq, time and node, and never comes back.
func TestCrossNodeDelivery(t *testing.T) {
	a := open(t, t.TempDir(), "a")
	b := attach(t, a, "b")
	ra, rb := &recorder{}, &recorder{}
	must(t, a.Start(ra))
	must(t, b.Start(rb))
	must(t, a.Subscribe(lobby))
	must(t, b.Subscribe(lobby))
	must(t, b.Subscribe(lobby)) // idempotent: still one delivery

	p := publish(t, a, lobby, "one", broker.PublishOptions{})
	publish(t, a, other, "elsewhere", broker.PublishOptions{})
	waitFor(t, "b to get one", func() bool { return len(rb.got()) == 1 })
	if got := rb.got(); got[0].ch != lobby || string(got[0].p.Data) != "one" || got[0].p.Seq != 0 || got[0].p.Time != p.Time || got[0].p.Node != "a" {
		t.Fatalf("b got %+v, want %+v", got, p)
	}
	// b publishes with history: a gets it with its seq, b does not
	q := publish(t, b, lobby, "two", broker.PublishOptions{HistorySize: 10})
	waitFor(t, "a to get two", func() bool { return len(ra.got()) == 1 })
	if got := ra.got(); string(got[0].p.Data) != "two" || got[0].p.Seq != 1 || got[0].p.Seq != q.Seq || got[0].p.Node != "b" || got[0].p.Time != q.Time {
		t.Fatalf("a got %+v, want %+v", got, q)
	}
	// a personal channel works the same way
	must(t, b.Subscribe(alice))
	publish(t, a, alice, "dm", broker.PublishOptions{HistorySize: 10})
	waitFor(t, "b to get dm", func() bool { return len(rb.got()) == 2 })
	if got := rb.got(); got[1].ch != alice || got[1].p.Seq != 1 || string(got[1].p.Data) != "dm" {
		t.Fatalf("b got %+v", got)
	}
	// a marker on each channel: nothing else arrived in the meantime
	publish(t, b, lobby, "mark", broker.PublishOptions{})
	waitFor(t, "a to get the marker", func() bool { return len(ra.got()) == 2 })
	if got := ra.datas(); !slices.Equal(got, []string{"two", "mark"}) {
		t.Fatalf("a got %q", got)
	}
	if got := rb.datas(); !slices.Equal(got, []string{"one", "dm"}) {
		t.Fatalf("b got %q", got)
	}
}

func TestUnsubscribeStopsDelivery(t *testing.T) {
	a := open(t, t.TempDir(), "a")
	b := attach(t, a, "b")
	rb := &recorder{}
	must(t, b.Start(rb))
	must(t, b.Subscribe(lobby))
	must(t, b.Subscribe(other))
	publish(t, a, lobby, "1", broker.PublishOptions{})
	waitFor(t, "1", func() bool { return len(rb.got()) == 1 })
	must(t, b.Unsubscribe(lobby))
	must(t, b.Unsubscribe(lobby)) // idempotent
	publish(t, a, lobby, "2", broker.PublishOptions{})
	publish(t, a, lobby, "3", broker.PublishOptions{HistorySize: 5})
	publish(t, a, other, "4", broker.PublishOptions{}) // after 2 and 3 on a's connection
	waitFor(t, "4", func() bool { return len(rb.got()) == 2 })
	if got := rb.datas(); !slices.Equal(got, []string{"1", "4"}) {
		t.Fatalf("b got %q, want [1 4]", got)
	}
	must(t, b.Subscribe(lobby))
	publish(t, a, lobby, "5", broker.PublishOptions{})
	waitFor(t, "5", func() bool { return len(rb.got()) == 3 })
	if got := rb.datas(); !slices.Equal(got, []string{"1", "4", "5"}) {
		t.Fatalf("b got %q after subscribing again", got)
	}
}

func TestNotStarted(t *testing.T) {
	a := open(t, t.TempDir(), "a")
	b := attach(t, a, "b")
	must(t, b.Subscribe(lobby))
	publish(t, a, lobby, "early", broker.PublishOptions{})
	waitFor(t, "early to be dropped", func() bool { return b.dropped.Load() == 1 })
	r := &recorder{}
	must(t, b.Start(r))
	if err := b.Start(r); err == nil {
		t.Fatal("a second Start succeeded")
	}
	if err := a.Start(nil); err == nil {
		t.Fatal("Start(nil) succeeded")
	}
	publish(t, a, lobby, "late", broker.PublishOptions{})
	waitFor(t, "late", func() bool { return len(r.got()) > 0 })
	if got := r.datas(); !slices.Equal(got, []string{"late"}) {
		t.Fatalf("b got %q, want only what came after Start", got)
	}
}

func TestInvalid(t *testing.T) {
	n := open(t, t.TempDir(), "n")
	for _, ch := range []broker.Channel{{}, {Kind: broker.Room}, {Kind: 9, Name: "x"}} {
		if _, err := n.Publish(ch, nil, broker.PublishOptions{}); err == nil {
			t.Errorf("Publish(%v) succeeded", ch)
		}
		if _, err := n.Publish(ch, nil, broker.PublishOptions{HistorySize: 3}); err == nil {
			t.Errorf("Publish(%v) with history succeeded", ch)
		}
		if err := n.Subscribe(ch); err == nil {
			t.Errorf("Subscribe(%v) succeeded", ch)
		}
		if err := n.Unsubscribe(ch); err == nil {
			t.Errorf("Unsubscribe(%v) succeeded", ch)
		}
		if _, _, err := n.History(ch, broker.HistoryQuery{}); err == nil {
			t.Errorf("History(%v) succeeded", ch)
		}
		if _, err := n.AddPresence(ch, "u"); err == nil {
			t.Errorf("AddPresence(%v) succeeded", ch)
		}
		if _, err := n.Presence(ch); err == nil {
			t.Errorf("Presence(%v) succeeded", ch)
		}
	}
	if _, err := n.AddPresence(lobby, ""); err == nil {
		t.Error("AddPresence with an empty uid succeeded")
	}
}

// Goroutines on two nodes publish to one channel at once: the seqs are
// 1..N each once, each goroutine's in the order it made them, every other
// node gets each goroutine's publications in that order, and History holds
// them all. The nodes conflict on the channel's next seq and retry.
func TestConcurrentPublishContiguous(t *testing.T) {
	const goroutines, each = 8, 150
	a := open(t, t.TempDir(), "a")
	b := attach(t, a, "b")
	c := attach(t, a, "c")
	nodes := []*Broker{a, b}
	recs := map[*Broker]*recorder{}
	for _, n := range []*Broker{a, b, c} {
		recs[n] = &recorder{}
		must(t, n.Start(recs[n]))
		must(t, n.Subscribe(lobby))
	}
	opts := broker.PublishOptions{HistorySize: goroutines * each}
	got := make([][]uint64, goroutines) // seqs each goroutine was given, in its order
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			n := nodes[g%2]
			for i := range each {
				p, err := n.Publish(lobby, fmt.Appendf(nil, "%d/%d", g, i), opts)
				if err != nil {
					t.Error(err)
					return
				}
				got[g] = append(got[g], p.Seq)
			}
		})
	}
	wg.Wait()
	t.Logf("conflicts: a %d, b %d", a.conflicts.Load(), b.conflicts.Load())

	var all []uint64
	for g := range goroutines {
		if !slices.IsSorted(got[g]) {
			t.Errorf("goroutine %d was given seqs out of order", g)
		}
		all = append(all, got[g]...)
	}
	slices.Sort(all)
	for i, s := range all {
		if s != uint64(i+1) {
			t.Fatalf("seqs are not 1..%d each once: position %d holds %d", len(all), i, s)
		}
	}
	for _, n := range []*Broker{a, c} {
		hist, pos, err := n.History(lobby, broker.HistoryQuery{})
		must(t, err)
		if pos.Seq != goroutines*each || len(hist) != goroutines*each {
			t.Fatalf("History: %d entries, position %+v", len(hist), pos)
		}
		for i, p := range hist {
			if p.Seq != uint64(i+1) {
				t.Fatalf("history[%d].Seq = %d", i, p.Seq)
			}
			var g, j int
			if _, err := fmt.Sscanf(string(p.Data), "%d/%d", &g, &j); err != nil || got[g][j] != p.Seq || p.Node != nodes[g%2].Node() {
				t.Fatalf("history[%d] = %q from %s", i, p.Data, p.Node)
			}
		}
	}

	// What each node received: every publication of the other nodes once,
	// each goroutine's in its order, and seqs increasing per sending node.
	check := func(n *Broker, from map[int]bool) {
		t.Helper()
		want := 0
		for g := range from {
			want += len(got[g])
		}
		r := recs[n]
		waitFor(t, n.Node()+"'s deliveries", func() bool { return len(r.got()) >= want })
		next := map[int]int{}
		last := map[string]uint64{}
		for _, d := range r.got() {
			var g, i int
			if _, err := fmt.Sscanf(string(d.p.Data), "%d/%d", &g, &i); err != nil {
				t.Fatal(err)
			}
			if !from[g] {
				t.Fatalf("%s got %q from its own goroutine %d", n.Node(), d.p.Data, g)
			}
			if i != next[g] {
				t.Fatalf("%s got %d/%d, want %d/%d", n.Node(), g, i, g, next[g])
			}
			next[g]++
			if d.p.Seq <= last[d.p.Node] || d.p.Seq != got[g][i] {
				t.Fatalf("%s got seq %d after %d from %s", n.Node(), d.p.Seq, last[d.p.Node], d.p.Node)
			}
			last[d.p.Node] = d.p.Seq
			if want := nodes[g%2].Node(); d.p.Node != want {
				t.Fatalf("%s got Node %q, want %q", n.Node(), d.p.Node, want)
			}
		}
		if len(r.got()) != want {
			t.Fatalf("%s got %d deliveries, want %d", n.Node(), len(r.got()), want)
		}
	}
	check(a, map[int]bool{1: true, 3: true, 5: true, 7: true})
	check(b, map[int]bool{0: true, 2: true, 4: true, 6: true})
	check(c, map[int]bool{0: true, 1: true, 2: true, 3: true, 4: true, 5: true, 6: true, 7: true})
}

// Many goroutines of one node on a few channels: no conflicts (the node
// serialises a channel's publications), every seq once per channel.
func TestConcurrentPublishOneNode(t *testing.T) {
	n := open(t, t.TempDir(), "n")
	chans := []broker.Channel{lobby, other, alice}
	const goroutines, each = 12, 100
	var mu sync.Mutex
	given := map[broker.Channel][]uint64{}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				ch := chans[(g+i)%len(chans)]
				p, err := n.Publish(ch, []byte("m"), broker.PublishOptions{HistorySize: 1000})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				given[ch] = append(given[ch], p.Seq)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, ch := range chans {
		s := given[ch]
		slices.Sort(s)
		if !slices.Equal(s, rng(1, uint64(len(s)))) {
			t.Errorf("%s: seqs %v", ch, s)
		}
		hist, pos, err := n.History(ch, broker.HistoryQuery{})
		must(t, err)
		if !slices.Equal(seqs(hist), s) || pos.Seq != uint64(len(s)) {
			t.Errorf("%s: history %d entries, position %+v", ch, len(hist), pos)
		}
	}
}

// A handler may publish from inside Deliver, to the channel being
// delivered, with the publication bouncing between nodes.
func TestPublishFromDeliver(t *testing.T) {
	a := open(t, t.TempDir(), "a")
	b := attach(t, a, "b")
	ra, rb := &recorder{}, &recorder{}
	bounce := func(n *Broker) func(broker.Channel, broker.Publication) {
		return func(ch broker.Channel, p broker.Publication) {
			if len(p.Data) < 6 {
				if _, err := n.Publish(ch, append([]byte("x"), p.Data...), broker.PublishOptions{HistorySize: 10}); err != nil {
					t.Error(err)
				}
			}
		}
	}
	ra.onDeliver, rb.onDeliver = bounce(a), bounce(b)
	must(t, a.Start(ra))
	must(t, b.Start(rb))
	must(t, a.Subscribe(lobby))
	must(t, b.Subscribe(lobby))
	publish(t, a, lobby, "x", broker.PublishOptions{HistorySize: 10})
	waitFor(t, "the bounces", func() bool { return len(ra.got()) == 3 })
	if got := rb.datas(); !slices.Equal(got, []string{"x", "xxx", "xxxxx"}) {
		t.Errorf("b got %q", got)
	}
	if got := ra.datas(); !slices.Equal(got, []string{"xx", "xxxx", "xxxxxx"}) {
		t.Errorf("a got %q", got)
	}
	hist, _, err := a.History(lobby, broker.HistoryQuery{})
	must(t, err)
	if !slices.Equal(seqs(hist), rng(1, 6)) || string(hist[5].Data) != "xxxxxx" {
		t.Errorf("history %v", seqs(hist))
	}
}

func TestClose(t *testing.T) {
	a := open(t, t.TempDir(), "a")
	b := attach(t, a, "b")
	rb := &recorder{}
	must(t, b.Start(rb))
	must(t, b.Subscribe(lobby))
	must(t, ok(b.AddPresence(lobby, "bob")))
	must(t, b.Close())

	if err := b.Close(); !errors.Is(err, broker.ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
	for name, err := range map[string]error{
		"Start":          b.Start(&recorder{}),
		"Subscribe":      b.Subscribe(lobby),
		"Unsubscribe":    b.Unsubscribe(lobby),
		"AddPresence":    ok(b.AddPresence(lobby, "x")),
		"RemovePresence": ok(b.RemovePresence(lobby, "x")),
	} {
		if !errors.Is(err, broker.ErrClosed) {
			t.Errorf("%s after Close: %v", name, err)
		}
	}
	for _, opts := range []broker.PublishOptions{{}, {HistorySize: 3}} {
		if _, err := b.Publish(lobby, nil, opts); !errors.Is(err, broker.ErrClosed) {
			t.Errorf("Publish %+v after Close: %v", opts, err)
		}
	}
	if _, _, err := b.History(lobby, broker.HistoryQuery{}); !errors.Is(err, broker.ErrClosed) {
		t.Errorf("History after Close: %v", err)
	}
	if _, err := b.Presence(lobby); !errors.Is(err, broker.ErrClosed) {
		t.Errorf("Presence after Close: %v", err)
	}
	publish(t, a, lobby, "after", broker.PublishOptions{})
	must(t, a.nc.Flush())
	if got := rb.got(); len(got) != 0 {
		t.Errorf("closed node got %v", got)
	}

	// the owner's Close shuts its server down
	srv := a.srv
	must(t, a.Close())
	if srv.Running() {
		t.Error("the embedded server runs after Close")
	}
	if !errors.Is(a.Close(), broker.ErrClosed) {
		t.Error("second Close of the owner")
	}
}

// Close waits for a Deliver under way to return, and none starts after it.
func TestCloseWaitsForDeliver(t *testing.T) {
	a := open(t, t.TempDir(), "a")
	b := attach(t, a, "b")
	rb := &recorder{}
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	rb.onDeliver = func(broker.Channel, broker.Publication) {
		once.Do(func() {
			close(entered)
			<-release
		})
	}
	must(t, b.Start(rb))
	must(t, b.Subscribe(lobby))
	publish(t, a, lobby, "slow", broker.PublishOptions{})
	<-entered
	closed := make(chan struct{})
	go func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
		close(closed)
	}()
	select {
	case <-closed:
		t.Fatal("Close returned while a Deliver was under way")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-closed
	n := len(rb.got())
	for range 10 {
		publish(t, a, lobby, "more", broker.PublishOptions{})
	}
	must(t, a.nc.Flush())
	if got := len(rb.got()); got != n {
		t.Fatalf("closed node got %d more deliveries", got-n)
	}
}

// Publishing while the receiving node closes: after Close returns no
// delivery reaches it.
func TestCloseConcurrentPublish(t *testing.T) {
	a := open(t, t.TempDir(), "a")
	b := attach(t, a, "b")
	rb := &recorder{}
	must(t, b.Start(rb))
	must(t, b.Subscribe(lobby))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := a.Publish(lobby, []byte("m"), broker.PublishOptions{}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	waitFor(t, "deliveries", func() bool { return len(rb.got()) > 100 })
	must(t, b.Close())
	n := len(rb.got())
	for range 100 {
		publish(t, a, lobby, "m", broker.PublishOptions{})
	}
	close(stop)
	wg.Wait()
	must(t, a.nc.Flush())
	if got := len(rb.got()); got != n {
		t.Fatalf("closed node got %d deliveries after Close returned", got-n)
	}
}

// Calls racing Close return ErrClosed or succeed; none hangs or panics.
func TestCloseConcurrentCalls(t *testing.T) {
	n := open(t, t.TempDir(), "n")
	must(t, n.Start(nop{}))
	var wg sync.WaitGroup
	var calls atomic.Int64
	for g := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				var err error
				switch (g + i) % 4 {
				case 0:
					_, err = n.Publish(lobby, []byte("m"), broker.PublishOptions{HistorySize: 10})
				case 1:
					_, _, err = n.History(lobby, broker.HistoryQuery{Limit: 3})
				case 2:
					err = n.Subscribe(other)
				default:
					_, err = n.AddPresence(lobby, "u")
				}
				if errors.Is(err, broker.ErrClosed) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				calls.Add(1)
			}
		})
	}
	waitFor(t, "some calls", func() bool { return calls.Load() > 40 })
	must(t, n.Close())
	wg.Wait()
}

// Presence is node-local for now: a set of uids per channel.
func TestPresenceLocal(t *testing.T) {
	n := open(t, t.TempDir(), "n")
	presence := func(ch broker.Channel) []string {
		t.Helper()
		uids, err := n.Presence(ch)
		must(t, err)
		return uids
	}
	if got := presence(lobby); len(got) != 0 {
		t.Fatalf("empty room: %q", got)
	}
	must(t, ok(n.AddPresence(lobby, "v")))
	must(t, ok(n.AddPresence(lobby, "u")))
	must(t, ok(n.AddPresence(lobby, "u"))) // idempotent
	must(t, ok(n.AddPresence(other, "w")))
	if got := presence(lobby); !slices.Equal(got, []string{"u", "v"}) {
		t.Fatalf("presence %q", got)
	}
	must(t, ok(n.RemovePresence(lobby, "u")))
	must(t, ok(n.RemovePresence(lobby, "u"))) // not there: no-op
	if got := presence(lobby); !slices.Equal(got, []string{"v"}) {
		t.Fatalf("after removing u: %q", got)
	}
	if got := presence(other); !slices.Equal(got, []string{"w"}) {
		t.Fatalf("other: %q", got)
	}
}

// A publication stored whose ack is lost (the answer came after the try's
// timeout) is tried again under the same message id. A single server
// checks the expected last sequence before the id and refuses the repeat
// as a conflict: the publication must still be told its own seq, and the
// history must hold it once.
func TestPublishAckLost(t *testing.T) {
	for _, stamped := range []bool{false, true} {
		n := open(t, t.TempDir(), "n")
		o := broker.PublishOptions{HistorySize: 10}
		if stamped {
			o.Stamp = func(seq uint64, ms int64, data []byte) []byte { return fmt.Appendf(nil, "%d:%s", seq, data) }
		}
		publish(t, n, lobby, "a", o)
		var lost atomic.Int32
		n.loseAck = func() bool { return lost.Add(1) == 1 } // the first try's ack only
		if p := publish(t, n, lobby, "b", o); p.Seq != 2 {
			t.Errorf("stamped %v: the publication whose ack was lost got seq %d, want 2", stamped, p.Seq)
		}
		n.loseAck = nil
		if p := publish(t, n, lobby, "c", o); p.Seq != 3 {
			t.Errorf("stamped %v: the next publication got seq %d, want 3", stamped, p.Seq)
		}
		hist, _, err := n.History(lobby, broker.HistoryQuery{})
		must(t, err)
		var got []string
		for _, p := range hist {
			got = append(got, fmt.Sprintf("%d:%s", p.Seq, p.Data))
		}
		want := []string{"1:a", "2:b", "3:c"}
		if stamped {
			want = []string{"1:1:a", "2:2:b", "3:3:c"}
		}
		if !slices.Equal(got, want) {
			t.Errorf("stamped %v: history %q, want %q", stamped, got, want)
		}
	}
}
