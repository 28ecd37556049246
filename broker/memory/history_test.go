package memory

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/imscript/imscript/broker"
)

func TestHistoryQuery(t *testing.T) {
	n := New("n")
	opts := broker.PublishOptions{HistorySize: 100}
	for i := 1; i <= 10; i++ {
		if p := publish(t, n, lobby, fmt.Sprint(i), opts); p.Seq != uint64(i) {
			t.Fatalf("publication %d got seq %d", i, p.Seq)
		}
	}
	rng := func(lo, hi uint64) []uint64 {
		var out []uint64
		for s := lo; s <= hi; s++ {
			out = append(out, s)
		}
		return out
	}
	for _, tc := range []struct {
		q    broker.HistoryQuery
		want []uint64
	}{
		{broker.HistoryQuery{}, rng(1, 10)},
		{broker.HistoryQuery{Limit: -1}, rng(1, 10)},
		{broker.HistoryQuery{Limit: 3}, rng(8, 10)},           // the newest 3
		{broker.HistoryQuery{Since: 4}, rng(5, 10)},           // all after 4
		{broker.HistoryQuery{Since: 4, Limit: 3}, rng(5, 7)},  // the oldest 3 after 4
		{broker.HistoryQuery{Before: 5}, rng(1, 4)},           // all before 5
		{broker.HistoryQuery{Before: 8, Limit: 2}, rng(6, 7)}, // the newest 2 before 8: paging backwards
		{broker.HistoryQuery{Since: 2, Before: 8}, rng(3, 7)}, // between
		{broker.HistoryQuery{Since: 2, Before: 8, Limit: 2}, rng(3, 4)},
		{broker.HistoryQuery{Limit: 50}, rng(1, 10)},
		{broker.HistoryQuery{Since: 9}, rng(10, 10)},
		{broker.HistoryQuery{Since: 10}, nil},
		{broker.HistoryQuery{Since: 99}, nil},
		{broker.HistoryQuery{Since: ^uint64(0)}, nil},
		{broker.HistoryQuery{Before: 1}, nil},
		{broker.HistoryQuery{Since: 5, Before: 6}, nil},
		{broker.HistoryQuery{Since: 5, Before: 3}, nil},
		{broker.HistoryQuery{Before: 99}, rng(1, 10)},
	} {
		got, pos, err := n.History(lobby, tc.q)
		must(t, err)
		if s := seqs(got); !slices.Equal(s, tc.want) && (len(s) != 0 || len(tc.want) != 0) {
			t.Errorf("%+v: seqs %v, want %v", tc.q, s, tc.want)
		}
		for _, p := range got {
			if string(p.Data) != fmt.Sprint(p.Seq) || p.Node != "n" || p.Time == 0 {
				t.Errorf("%+v: entry %+v", tc.q, p)
			}
		}
		if pos.Seq != 10 || pos.Epoch != n.bus.Epoch() || pos.Epoch == "" {
			t.Errorf("%+v: position %+v", tc.q, pos)
		}
	}
}

func TestHistorySize(t *testing.T) {
	n := New("n")
	for i := 1; i <= 1000; i++ {
		publish(t, n, lobby, fmt.Sprint(i), broker.PublishOptions{HistorySize: 3})
	}
	got, pos, err := n.History(lobby, broker.HistoryQuery{})
	must(t, err)
	if !slices.Equal(seqs(got), []uint64{998, 999, 1000}) || pos.Seq != 1000 {
		t.Fatalf("history %v, position %+v", seqs(got), pos)
	}
	// Recovery from a seq no longer kept: the result starts past since+1,
	// which tells the caller history does not reach back that far.
	got, _, err = n.History(lobby, broker.HistoryQuery{Since: 500})
	must(t, err)
	if len(got) == 0 || got[0].Seq == 501 {
		t.Fatalf("since 500: %v", seqs(got))
	}
	// a smaller size trims at the next publication
	publish(t, n, lobby, "x", broker.PublishOptions{HistorySize: 1})
	got, _, _ = n.History(lobby, broker.HistoryQuery{})
	if !slices.Equal(seqs(got), []uint64{1001}) {
		t.Fatalf("after size 1: %v", seqs(got))
	}
	// the ring does not grow without bound
	if c := n.bus.chans[lobby]; cap(c.hist) > 16 {
		t.Errorf("history of size 3 holds a slice of capacity %d", cap(c.hist))
	}
}

// age makes every entry of ch's history d older, as if d had passed.
func age(bus *Bus, ch broker.Channel, d time.Duration) {
	c := bus.chans[ch]
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.hist {
		c.hist[i].at -= d
	}
}

func TestHistoryTTL(t *testing.T) {
	n := New("n")
	bus := n.bus
	opts := broker.PublishOptions{HistorySize: 10, HistoryTTL: time.Minute}
	publish(t, n, lobby, "1", opts)
	publish(t, n, lobby, "2", opts)
	epoch := bus.Epoch()
	age(bus, lobby, 40*time.Second)
	publish(t, n, lobby, "3", opts)
	age(bus, lobby, 30*time.Second) // 1 and 2 are 70s old, 3 is 30s old
	got, pos, err := n.History(lobby, broker.HistoryQuery{})
	must(t, err)
	if !slices.Equal(seqs(got), []uint64{3}) || pos.Seq != 3 {
		t.Fatalf("after 1 and 2 expired: %v, position %+v", seqs(got), pos)
	}
	age(bus, lobby, 30*time.Second)
	got, pos, err = n.History(lobby, broker.HistoryQuery{})
	must(t, err)
	if len(got) != 0 || pos.Seq != 3 || pos.Epoch != epoch {
		t.Fatalf("after all expired: %v, position %+v (epoch was %q)", seqs(got), pos, epoch)
	}
	// the stream position survives: seq goes on, the epoch stays
	if p := publish(t, n, lobby, "4", opts); p.Seq != 4 {
		t.Fatalf("next seq after expiry: %d", p.Seq)
	}
	got, pos, _ = n.History(lobby, broker.HistoryQuery{Since: 3})
	if !slices.Equal(seqs(got), []uint64{4}) || pos != (broker.Position{Seq: 4, Epoch: epoch}) {
		t.Fatalf("after publishing again: %v, position %+v", seqs(got), pos)
	}
	// Publish expires too, without a History call
	age(bus, lobby, 2*time.Minute)
	publish(t, n, lobby, "5", opts)
	if c := bus.chans[lobby]; len(c.hist)-c.head != 1 {
		t.Fatalf("Publish kept %d entries, want 1", len(c.hist)-c.head)
	}
	// and the real clock expires: a short TTL
	short := broker.PublishOptions{HistorySize: 10, HistoryTTL: time.Millisecond}
	publish(t, n, other, "s", short)
	time.Sleep(5 * time.Millisecond)
	if got, _, _ := n.History(other, broker.HistoryQuery{}); len(got) != 0 {
		t.Fatalf("1ms TTL kept %v after 5ms", seqs(got))
	}
}

func TestHistoryNone(t *testing.T) {
	bus := NewBus()
	n, _ := started(t, bus, "n")
	// a channel never published has position 0 and the epoch its stream will have
	got, pos, err := n.History(lobby, broker.HistoryQuery{})
	must(t, err)
	if len(got) != 0 || pos.Seq != 0 || pos.Epoch == "" {
		t.Fatalf("empty channel: %v, %+v", got, pos)
	}
	// publications without history get seq 0 and keep nothing
	if p := publish(t, n, lobby, "x", broker.PublishOptions{}); p.Seq != 0 {
		t.Fatalf("seq without history: %d", p.Seq)
	}
	_, pos2, _ := n.History(lobby, broker.HistoryQuery{})
	if pos2 != pos {
		t.Fatalf("position moved without history: %+v", pos2)
	}
	p := publish(t, n, lobby, "y", broker.PublishOptions{HistorySize: 5})
	got, pos3, _ := n.History(lobby, broker.HistoryQuery{})
	if p.Seq != 1 || len(got) != 1 || pos3 != (broker.Position{Seq: 1, Epoch: pos.Epoch}) {
		t.Fatalf("first with history: %+v, %v, %+v", p, seqs(got), pos3)
	}
	// a publication without history on a channel with history leaves it as it is
	publish(t, n, lobby, "z", broker.PublishOptions{})
	if got, pos4, _ := n.History(lobby, broker.HistoryQuery{}); len(got) != 1 || pos4 != pos3 {
		t.Fatalf("after a publication without history: %v, %+v", seqs(got), pos4)
	}
	// each channel has its own stream
	if p := publish(t, n, other, "o", broker.PublishOptions{HistorySize: 5}); p.Seq != 1 {
		t.Fatalf("other channel's first seq: %d", p.Seq)
	}
	if p := publish(t, n, alice, "o", broker.PublishOptions{HistorySize: 5}); p.Seq != 1 {
		t.Fatalf("user channel's first seq: %d", p.Seq)
	}
	// a new bus (a restarted process) has a new epoch
	if e := NewBus().Epoch(); e == pos.Epoch || len(e) != 8 {
		t.Errorf("new bus epoch %q, old %q", e, pos.Epoch)
	}
}

// History is bus-wide: every node sees one stream per channel.
func TestHistoryBusWide(t *testing.T) {
	bus := NewBus()
	a, _ := started(t, bus, "a")
	b, _ := started(t, bus, "b")
	opts := broker.PublishOptions{HistorySize: 10}
	publish(t, a, lobby, "1", opts)
	publish(t, b, lobby, "2", opts)
	publish(t, a, lobby, "3", opts)
	for _, n := range []*Broker{a, b} {
		got, pos, err := n.History(lobby, broker.HistoryQuery{})
		must(t, err)
		var nodes []string
		for _, p := range got {
			nodes = append(nodes, p.Node)
		}
		if !slices.Equal(seqs(got), []uint64{1, 2, 3}) || !slices.Equal(nodes, []string{"a", "b", "a"}) || pos.Seq != 3 {
			t.Errorf("%s sees %v from %v, %+v", n.Node(), seqs(got), nodes, pos)
		}
	}
}

// Stamp makes the bytes kept and delivered from the seq and time the
// publication gets, with history and without.
func TestHistoryStamp(t *testing.T) {
	bus := NewBus()
	n, _ := started(t, bus, "n")
	o, rec := started(t, bus, "o")
	stamp := func(seq uint64, ms int64, data []byte) []byte {
		return fmt.Appendf(nil, "%s#%d@%t", data, seq, ms > 0)
	}
	must(t, o.Subscribe(lobby))
	p := publish(t, n, lobby, "a", broker.PublishOptions{HistorySize: 10, Stamp: stamp})
	if string(p.Data) != "a#1@true" {
		t.Fatalf("publication data %q", p.Data)
	}
	got, _, err := n.History(lobby, broker.HistoryQuery{})
	must(t, err)
	if len(got) != 1 || string(got[0].Data) != "a#1@true" {
		t.Fatalf("history %v", got)
	}
	p = publish(t, n, lobby, "b", broker.PublishOptions{Stamp: stamp})
	if string(p.Data) != "b#0@true" {
		t.Fatalf("publication without history: data %q", p.Data)
	}
	if d := rec.datas(); !slices.Equal(d, []string{"a#1@true", "b#0@true"}) {
		t.Fatalf("delivered %q", d)
	}
}
