package memory

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/imscript/imscript/broker"
)

func presence(t *testing.T, n *Broker, ch broker.Channel) []string {
	t.Helper()
	uids, err := n.Presence(ch)
	must(t, err)
	return uids
}

func TestPresenceRefcount(t *testing.T) {
	bus := NewBus()
	a, ra := started(t, bus, "a")
	b, rb := started(t, bus, "b")
	c, rc := started(t, bus, "c")
	for _, n := range []*Broker{a, b, c} {
		must(t, n.Subscribe(lobby))
	}
	if got := presence(t, c, lobby); len(got) != 0 {
		t.Fatalf("empty room: %q", got)
	}
	must(t, ok(a.AddPresence(lobby, "u")))
	must(t, ok(a.AddPresence(lobby, "u"))) // idempotent per node
	must(t, ok(b.AddPresence(lobby, "u")))
	must(t, ok(b.AddPresence(lobby, "v")))
	must(t, ok(a.AddPresence(other, "w"))) // another channel
	if got := presence(t, c, lobby); !slices.Equal(got, []string{"u", "v"}) {
		t.Fatalf("presence %q", got)
	}
	must(t, ok(a.RemovePresence(lobby, "u"))) // b still has u
	if got := presence(t, a, lobby); !slices.Equal(got, []string{"u", "v"}) {
		t.Fatalf("after a removed u: %q", got)
	}
	must(t, ok(a.RemovePresence(lobby, "u"))) // not there: no-op
	must(t, ok(c.RemovePresence(lobby, "u"))) // c never had it: no-op
	if got := presence(t, a, lobby); !slices.Equal(got, []string{"u", "v"}) {
		t.Fatalf("after no-op removes: %q", got)
	}
	must(t, ok(b.RemovePresence(lobby, "u")))
	if got := presence(t, a, lobby); !slices.Equal(got, []string{"v"}) {
		t.Fatalf("after b removed u: %q", got)
	}
	if got := presence(t, a, other); !slices.Equal(got, []string{"w"}) {
		t.Fatalf("other: %q", got)
	}

	// c, which changed nothing, heard every bus-wide change, in order
	want := []change{{lobby, "u", true}, {lobby, "v", true}, {lobby, "u", false}}
	if got := rc.gotChanges(); !slices.Equal(got, want) {
		t.Errorf("c got %v, want %v", got, want)
	}
	// a caused u's first add: b hears it; b caused v's add and u's last remove: a hears them
	if got := rb.gotChanges(); !slices.Equal(got, want[:1]) {
		t.Errorf("b got %v, want %v", got, want[:1])
	}
	if got := ra.gotChanges(); !slices.Equal(got, want[1:]) {
		t.Errorf("a got %v, want %v", got, want[1:])
	}
}

// PresenceChanged goes to the nodes subscribed to the channel.
func TestPresenceChangedSubscribedOnly(t *testing.T) {
	bus := NewBus()
	a, _ := started(t, bus, "a")
	b, rb := started(t, bus, "b")
	_, rc := started(t, bus, "c")
	must(t, b.Subscribe(lobby))
	must(t, ok(a.AddPresence(lobby, "u")))
	must(t, b.Unsubscribe(lobby))
	must(t, ok(a.RemovePresence(lobby, "u")))
	if got := rb.gotChanges(); !slices.Equal(got, []change{{lobby, "u", true}}) {
		t.Errorf("b got %v", got)
	}
	if got := rc.gotChanges(); len(got) != 0 {
		t.Errorf("unsubscribed c got %v", got)
	}
	if len(bus.pres) != 0 {
		t.Errorf("presence left: %v", bus.pres)
	}
}

// Presence events and publications of a channel arrive in the order made.
func TestPresenceInOrderWithPublications(t *testing.T) {
	bus := NewBus()
	a, _ := started(t, bus, "a")
	b := bus.Node("b")
	var mu sync.Mutex
	var log []string
	must(t, b.Start(handlerFuncs{
		deliver: func(ch broker.Channel, p broker.Publication) {
			mu.Lock()
			log = append(log, string(p.Data))
			mu.Unlock()
		},
		presence: func(ch broker.Channel, uid string, present bool) {
			mu.Lock()
			log = append(log, fmt.Sprint(uid, present))
			mu.Unlock()
		},
	}))
	must(t, b.Subscribe(lobby))
	must(t, ok(a.AddPresence(lobby, "u")))
	publish(t, a, lobby, "hello", broker.PublishOptions{})
	must(t, ok(a.RemovePresence(lobby, "u")))
	if want := []string{"utrue", "hello", "ufalse"}; !slices.Equal(log, want) {
		t.Errorf("b got %q, want %q", log, want)
	}
}

// Many nodes adding and removing the same uids at once: presence ends
// consistent, and an observer sees each uid's changes alternate, starting
// with present and ending where presence ended.
func TestPresenceConcurrent(t *testing.T) {
	const nodes, rounds = 4, 300
	uids := []string{"u0", "u1", "u2"}
	bus := NewBus()
	obs, robs := started(t, bus, "observer")
	must(t, obs.Subscribe(lobby))
	var ns []*Broker
	for i := range nodes {
		n, _ := started(t, bus, fmt.Sprint("n", i))
		must(t, n.Subscribe(lobby))
		ns = append(ns, n)
	}
	var wg sync.WaitGroup
	for i, n := range ns {
		wg.Go(func() {
			for j := range rounds {
				uid := uids[(i+j)%len(uids)]
				if _, err := n.AddPresence(lobby, uid); err != nil {
					t.Error(err)
				}
				if j%3 != 0 { // leave some present
					if _, err := n.RemovePresence(lobby, uid); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()

	final := presence(t, obs, lobby)
	last := map[string]bool{}
	for _, c := range robs.gotChanges() {
		if c.present == last[c.uid] {
			t.Fatalf("observer got %s present=%v twice in a row", c.uid, c.present)
		}
		last[c.uid] = c.present
	}
	for _, uid := range uids {
		if want := slices.Contains(final, uid); last[uid] != want {
			t.Errorf("observer ended with %s present=%v, Presence says %v", uid, last[uid], want)
		}
	}
	// remove everything: presence empties and the observer ends with all absent
	for _, n := range ns {
		for _, uid := range uids {
			must(t, ok(n.RemovePresence(lobby, uid)))
		}
	}
	if got := presence(t, obs, lobby); len(got) != 0 {
		t.Fatalf("after removing all: %q", got)
	}
	for _, c := range robs.gotChanges() {
		last[c.uid] = c.present
	}
	for _, uid := range uids {
		if last[uid] {
			t.Errorf("observer still thinks %s is present", uid)
		}
	}
}

type handlerFuncs struct {
	deliver  func(broker.Channel, broker.Publication)
	presence func(broker.Channel, string, bool)
}

func (h handlerFuncs) Deliver(ch broker.Channel, p broker.Publication) { h.deliver(ch, p) }
func (h handlerFuncs) PresenceChanged(ch broker.Channel, uid string, present bool) {
	h.presence(ch, uid, present)
}

// AddPresence and RemovePresence say when a uid's presence in a channel
// begins and ends across all nodes.
func TestPresenceFirstLast(t *testing.T) {
	bus := NewBus()
	a, _ := started(t, bus, "a")
	b, _ := started(t, bus, "b")
	step := func(what string, got bool, err error, want bool) {
		t.Helper()
		must(t, err)
		if got != want {
			t.Errorf("%s: %v, want %v", what, got, want)
		}
	}
	first, err := a.AddPresence(lobby, "u")
	step("a adds u", first, err, true)
	first, err = a.AddPresence(lobby, "u")
	step("a adds u again", first, err, false)
	first, err = b.AddPresence(lobby, "u")
	step("b adds u", first, err, false)
	last, err := a.RemovePresence(lobby, "u")
	step("a removes u", last, err, false)
	last, err = a.RemovePresence(lobby, "u")
	step("a removes u again", last, err, false)
	last, err = b.RemovePresence(lobby, "u")
	step("b removes u", last, err, true)
}
