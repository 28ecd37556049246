package memory

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/imscript/imscript/broker"
)

func TestAlone(t *testing.T) {
	n := New("n1")
	r := &recorder{}
	must(t, n.Start(r))
	must(t, n.Subscribe(lobby))
	before := time.Now().UnixMilli()
	p := publish(t, n, lobby, "hi", broker.PublishOptions{})
	after := time.Now().UnixMilli()
	if string(p.Data) != "hi" || p.Seq != 0 || p.Node != "n1" || p.Time < before || p.Time > after {
		t.Fatalf("Publish = %+v", p)
	}
	if got := r.got(); len(got) != 0 {
		t.Fatalf("the publisher got its own publication: %v", got)
	}
	if n.Node() != "n1" {
		t.Fatalf("Node() = %q", n.Node())
	}
}

func TestCrossNodeDelivery(t *testing.T) {
	bus := NewBus()
	a, ra := started(t, bus, "a")
	b, rb := started(t, bus, "b")
	_, rc := started(t, bus, "c")
	must(t, a.Subscribe(lobby))
	must(t, b.Subscribe(lobby))
	must(t, b.Subscribe(lobby)) // idempotent: still one delivery
	// c subscribed nothing.

	p := publish(t, a, lobby, "one", broker.PublishOptions{})
	publish(t, a, other, "elsewhere", broker.PublishOptions{})
	if got := rb.got(); len(got) != 1 || got[0].ch != lobby || string(got[0].p.Data) != "one" || got[0].p.Seq != p.Seq || got[0].p.Time != p.Time || got[0].p.Node != "a" {
		t.Fatalf("b got %+v, want one %+v", got, p)
	}
	if got := ra.got(); len(got) != 0 {
		t.Fatalf("publisher a got %v", got)
	}
	if got := rc.got(); len(got) != 0 {
		t.Fatalf("unsubscribed c got %v", got)
	}

	// b publishes: a (subscribed) gets it, b does not.
	publish(t, b, lobby, "two", broker.PublishOptions{})
	if got := ra.datas(); !slices.Equal(got, []string{"two"}) {
		t.Fatalf("a got %q", got)
	}
	if got := rb.datas(); !slices.Equal(got, []string{"one"}) {
		t.Fatalf("b got %q", got)
	}

	// a personal channel works the same way
	must(t, b.Subscribe(alice))
	publish(t, a, alice, "dm", broker.PublishOptions{HistorySize: 10})
	if got := rb.got(); len(got) != 2 || got[1].ch != alice || got[1].p.Seq != 1 {
		t.Fatalf("b got %+v", got)
	}
}

func TestUnsubscribeStopsDelivery(t *testing.T) {
	bus := NewBus()
	a, _ := started(t, bus, "a")
	b, rb := started(t, bus, "b")
	must(t, b.Subscribe(lobby))
	must(t, b.Subscribe(other))
	publish(t, a, lobby, "1", broker.PublishOptions{})
	must(t, b.Unsubscribe(lobby))
	must(t, b.Unsubscribe(lobby)) // idempotent
	publish(t, a, lobby, "2", broker.PublishOptions{})
	publish(t, a, lobby, "3", broker.PublishOptions{HistorySize: 5})
	publish(t, a, other, "4", broker.PublishOptions{})
	if got := rb.datas(); !slices.Equal(got, []string{"1", "4"}) {
		t.Fatalf("b got %q, want [1 4]", got)
	}
	must(t, b.Subscribe(lobby))
	publish(t, a, lobby, "5", broker.PublishOptions{})
	if got := rb.datas(); !slices.Equal(got, []string{"1", "4", "5"}) {
		t.Fatalf("b got %q after subscribing again", got)
	}
}

func TestNotStarted(t *testing.T) {
	bus := NewBus()
	a, _ := started(t, bus, "a")
	b := bus.Node("b")
	must(t, b.Subscribe(lobby))
	publish(t, a, lobby, "early", broker.PublishOptions{})
	r := &recorder{}
	must(t, b.Start(r))
	if err := b.Start(r); err == nil {
		t.Fatal("a second Start succeeded")
	}
	if err := bus.Node("c").Start(nil); err == nil {
		t.Fatal("Start(nil) succeeded")
	}
	publish(t, a, lobby, "late", broker.PublishOptions{})
	if got := r.datas(); !slices.Equal(got, []string{"late"}) {
		t.Fatalf("b got %q, want only what came after Start", got)
	}
}

func TestInvalid(t *testing.T) {
	n := New("n")
	for _, ch := range []broker.Channel{{}, {Kind: broker.Room}, {Kind: 9, Name: "x"}} {
		if _, err := n.Publish(ch, nil, broker.PublishOptions{}); err == nil {
			t.Errorf("Publish(%v) succeeded", ch)
		}
		if err := n.Subscribe(ch); err == nil {
			t.Errorf("Subscribe(%v) succeeded", ch)
		}
		if _, _, err := n.History(ch, broker.HistoryQuery{}); err == nil {
			t.Errorf("History(%v) succeeded", ch)
		}
		if _, err := n.AddPresence(ch, "u"); err == nil {
			t.Errorf("AddPresence(%v) succeeded", ch)
		}
	}
	if _, err := n.AddPresence(lobby, ""); err == nil {
		t.Error("AddPresence with an empty uid succeeded")
	}
}

func TestNodeNames(t *testing.T) {
	bus := NewBus()
	a := bus.Node("a")
	func() {
		defer func() {
			if recover() == nil {
				t.Error("a second open node called a did not panic")
			}
		}()
		bus.Node("a")
	}()
	must(t, a.Close())
	again := bus.Node("a") // a restarted node
	if again == a || again.Node() != "a" {
		t.Fatal("Node after Close did not make a new node")
	}
}

// Several goroutines on two nodes publish with history at once: the seqs are
// 1..N each once, every other node gets each goroutine's publications in
// the order it made them (and in seq order), and History holds them all.
func TestConcurrentPublishContiguous(t *testing.T) {
	const goroutines, each = 4, 500
	bus := NewBus()
	a, ra := started(t, bus, "a")
	b, rb := started(t, bus, "b")
	_, rc := started(t, bus, "c")
	nodes := []*Broker{a, b}
	for _, n := range []*Broker{a, b, bus.nodes["c"]} {
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

	hist, pos, err := a.History(lobby, broker.HistoryQuery{})
	must(t, err)
	if pos.Seq != goroutines*each || len(hist) != goroutines*each {
		t.Fatalf("History: %d entries, position %+v", len(hist), pos)
	}
	for i, p := range hist {
		if p.Seq != uint64(i+1) {
			t.Fatalf("history[%d].Seq = %d", i, p.Seq)
		}
	}

	// What each node received: every publication of the other nodes once,
	// each goroutine's in its order, and seqs increasing.
	check := func(name string, r *recorder, from map[int]bool) {
		t.Helper()
		next := map[int]int{}
		var last uint64
		for _, d := range r.got() {
			var g, i int
			if _, err := fmt.Sscanf(string(d.p.Data), "%d/%d", &g, &i); err != nil {
				t.Fatal(err)
			}
			if !from[g] {
				t.Fatalf("%s got %q from its own goroutine %d", name, d.p.Data, g)
			}
			if i != next[g] {
				t.Fatalf("%s got %d/%d, want %d/%d", name, g, i, g, next[g])
			}
			next[g]++
			if d.p.Seq <= last {
				t.Fatalf("%s got seq %d after %d", name, d.p.Seq, last)
			}
			last = d.p.Seq
			if want := nodes[g%2].Node(); d.p.Node != want {
				t.Fatalf("%s got Node %q, want %q", name, d.p.Node, want)
			}
		}
		for g := range from {
			if next[g] != each {
				t.Fatalf("%s got %d of goroutine %d's %d", name, next[g], g, each)
			}
		}
	}
	check("a", ra, map[int]bool{1: true, 3: true})
	check("b", rb, map[int]bool{0: true, 2: true})
	check("c", rc, map[int]bool{0: true, 1: true, 2: true, 3: true})
}

// A handler may publish from inside Deliver, even to the channel being
// delivered and with the publication bouncing between nodes.
func TestPublishFromDeliver(t *testing.T) {
	bus := NewBus()
	a, ra := started(t, bus, "a")
	b, rb := started(t, bus, "b")
	must(t, a.Subscribe(lobby))
	must(t, b.Subscribe(lobby))
	bounce := func(n *Broker) func(broker.Channel, broker.Publication) {
		return func(ch broker.Channel, p broker.Publication) {
			if len(p.Data) < 6 {
				if _, err := n.Publish(ch, append([]byte("x"), p.Data...), broker.PublishOptions{HistorySize: 10}); err != nil {
					t.Error(err)
				}
			}
		}
	}
	ra.mu.Lock()
	ra.onDeliver = bounce(a)
	ra.mu.Unlock()
	rb.mu.Lock()
	rb.onDeliver = bounce(b)
	rb.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		publish(t, a, lobby, "x", broker.PublishOptions{HistorySize: 10})
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Publish from inside Deliver deadlocked")
	}
	if got := rb.datas(); !slices.Equal(got, []string{"x", "xxx", "xxxxx"}) {
		t.Errorf("b got %q", got)
	}
	if got := ra.datas(); !slices.Equal(got, []string{"xx", "xxxx", "xxxxxx"}) {
		t.Errorf("a got %q", got)
	}
	hist, _, err := a.History(lobby, broker.HistoryQuery{})
	must(t, err)
	if !slices.Equal(seqs(hist), []uint64{1, 2, 3, 4, 5, 6}) || string(hist[5].Data) != "xxxxxx" {
		t.Errorf("history %v", seqs(hist))
	}
}

// Subscriptions, publications, presence and Close churning at once: for the
// race detector, and nothing may deadlock or panic.
func TestChurn(t *testing.T) {
	bus := NewBus()
	var nodes []*Broker
	for i := range 4 {
		n, _ := started(t, bus, fmt.Sprint("n", i))
		nodes = append(nodes, n)
	}
	chans := []broker.Channel{lobby, other, alice}
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() {
			for j := range 2000 {
				ch := chans[(i+j)%len(chans)]
				var err error
				switch j % 7 {
				case 0:
					err = n.Subscribe(ch)
				case 1:
					err = n.Unsubscribe(ch)
				case 2:
					_, err = n.AddPresence(ch, fmt.Sprint("u", j%3))
				case 3:
					_, err = n.RemovePresence(ch, fmt.Sprint("u", j%3))
				case 4:
					_, _, err = n.History(ch, broker.HistoryQuery{Limit: 3})
				case 5:
					_, err = n.Presence(ch)
				default:
					_, err = n.Publish(ch, []byte("m"), broker.PublishOptions{HistorySize: j % 2 * 5})
				}
				if err != nil && !(i == 3 && errors.Is(err, broker.ErrClosed)) {
					t.Error(err)
					return
				}
				if i == 3 && j == 1000 {
					if err := n.Close(); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	for _, n := range nodes[:3] {
		must(t, n.Close())
	}
	for ch, c := range bus.chans {
		if c.seq == 0 || len(*c.subs.Load()) != 0 {
			t.Errorf("%s kept after every node closed: seq %d, %d subscribers", ch, c.seq, len(*c.subs.Load()))
		}
	}
	if len(bus.pres) != 0 || len(bus.nodes) != 0 || bus.nsubs != 0 {
		t.Errorf("left after every node closed: presence %v, nodes %v, %d subscriptions", bus.pres, bus.nodes, bus.nsubs)
	}
}

// A channel with neither subscribers nor history is not kept.
func TestChannelsDropped(t *testing.T) {
	bus := NewBus()
	a, _ := started(t, bus, "a")
	b, _ := started(t, bus, "b")
	must(t, a.Subscribe(lobby))
	must(t, b.Subscribe(lobby))
	publish(t, a, lobby, "m", broker.PublishOptions{})
	must(t, a.Unsubscribe(lobby))
	must(t, b.Unsubscribe(lobby))
	if _, _, err := a.History(other, broker.HistoryQuery{}); err != nil {
		t.Fatal(err)
	}
	if len(bus.chans) != 0 {
		t.Fatalf("kept %v", bus.chans)
	}
	publish(t, a, lobby, "h", broker.PublishOptions{HistorySize: 1})
	if len(bus.chans) != 1 {
		t.Fatalf("a channel with history was not kept: %v", bus.chans)
	}
}

func TestClose(t *testing.T) {
	bus := NewBus()
	a, _ := started(t, bus, "a")
	b, rb := started(t, bus, "b")
	must(t, b.Subscribe(lobby))
	must(t, ok(b.AddPresence(lobby, "bob")))
	must(t, a.Subscribe(lobby))
	must(t, ok(a.AddPresence(lobby, "ann")))
	must(t, ok(b.AddPresence(lobby, "ann")))
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
	if _, err := b.Publish(lobby, nil, broker.PublishOptions{}); !errors.Is(err, broker.ErrClosed) {
		t.Errorf("Publish after Close: %v", err)
	}
	if _, _, err := b.History(lobby, broker.HistoryQuery{}); !errors.Is(err, broker.ErrClosed) {
		t.Errorf("History after Close: %v", err)
	}
	if _, err := b.Presence(lobby); !errors.Is(err, broker.ErrClosed) {
		t.Errorf("Presence after Close: %v", err)
	}

	publish(t, a, lobby, "after", broker.PublishOptions{})
	if got := rb.got(); len(got) != 0 {
		t.Errorf("closed node got %v", got)
	}
	// b's presence ended: bob (only through b) is gone, ann (also through a) stays.
	uids, err := a.Presence(lobby)
	must(t, err)
	if !slices.Equal(uids, []string{"ann"}) {
		t.Errorf("presence after b closed: %q", uids)
	}
}

// The other node hears about presence a closing node ends.
func TestClosePresenceChanged(t *testing.T) {
	bus := NewBus()
	a, ra := started(t, bus, "a")
	b, _ := started(t, bus, "b")
	must(t, a.Subscribe(lobby))
	must(t, ok(b.AddPresence(lobby, "bob")))
	must(t, b.Close())
	want := []change{{lobby, "bob", true}, {lobby, "bob", false}}
	if got := ra.gotChanges(); !slices.Equal(got, want) {
		t.Errorf("a got %v, want %v", got, want)
	}
}

// Close waits for a Deliver under way to return, and none starts after it.
func TestCloseWaitsForDeliver(t *testing.T) {
	bus := NewBus()
	a, _ := started(t, bus, "a")
	b, rb := started(t, bus, "b")
	must(t, b.Subscribe(lobby))
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	rb.onDeliver = func(broker.Channel, broker.Publication) {
		once.Do(func() {
			close(entered)
			<-release
		})
	}
	go a.Publish(lobby, []byte("slow"), broker.PublishOptions{})
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
	if got := len(rb.got()); got != n {
		t.Fatalf("closed node got %d more deliveries", got-n)
	}
}

// Publishing while the receiving node closes: after Close returns no
// delivery reaches it.
func TestCloseConcurrentPublish(t *testing.T) {
	bus := NewBus()
	a, _ := started(t, bus, "a")
	b, rb := started(t, bus, "b")
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
	time.Sleep(5 * time.Millisecond)
	must(t, b.Close())
	n := len(rb.got())
	time.Sleep(5 * time.Millisecond)
	close(stop)
	wg.Wait()
	if got := len(rb.got()); got != n {
		t.Fatalf("closed node got %d deliveries after Close returned", got-n)
	}
}

// The hot path allocates nothing: alone without history, and with history
// once the ring has grown.
func TestPublishAllocs(t *testing.T) {
	n := New("n")
	must(t, n.Start(&recorder{}))
	must(t, n.Subscribe(lobby))
	data := []byte("hello")
	if a := testing.AllocsPerRun(1000, func() { n.Publish(lobby, data, broker.PublishOptions{}) }); a != 0 {
		t.Errorf("Publish alone without history: %v allocs", a)
	}
	opts := broker.PublishOptions{HistorySize: 100, HistoryTTL: time.Minute}
	for range 1000 {
		n.Publish(lobby, data, opts)
	}
	if a := testing.AllocsPerRun(1000, func() { n.Publish(lobby, data, opts) }); a != 0 {
		t.Errorf("Publish with history: %v allocs", a)
	}

	bus := NewBus()
	x, _ := started(t, bus, "x")
	y := bus.Node("y")
	must(t, y.Start(nop{}))
	must(t, y.Subscribe(other))
	// another node subscribed elsewhere: the lookup allocates nothing either
	if a := testing.AllocsPerRun(1000, func() { x.Publish(lobby, data, broker.PublishOptions{}) }); a != 0 {
		t.Errorf("Publish with another node subscribed elsewhere: %v allocs", a)
	}
	must(t, y.Subscribe(lobby))
	if a := testing.AllocsPerRun(1000, func() { x.Publish(lobby, data, broker.PublishOptions{}) }); a != 0 {
		t.Errorf("Publish delivering to another node: %v allocs", a)
	}
}

// A handler that panics takes the publishing call with it, but not the
// channel: the next publication is delivered.
func TestHandlerPanic(t *testing.T) {
	bus := NewBus()
	a, _ := started(t, bus, "a")
	b, rb := started(t, bus, "b")
	must(t, b.Subscribe(lobby))
	rb.onDeliver = func(_ broker.Channel, p broker.Publication) {
		if string(p.Data) == "boom" {
			panic("boom")
		}
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the handler's panic did not reach Publish")
			}
		}()
		a.Publish(lobby, []byte("boom"), broker.PublishOptions{})
	}()
	publish(t, a, lobby, "after", broker.PublishOptions{})
	if got := rb.datas(); !slices.Equal(got, []string{"boom", "after"}) {
		t.Fatalf("b got %q", got)
	}
	must(t, b.Close()) // the panicking delivery is no longer counted as under way
}
