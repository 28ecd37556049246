package nats

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/imscript/imscript/broker"
)

func TestHistoryQuery(t *testing.T) {
	n := open(t, t.TempDir(), "n")
	opts := broker.PublishOptions{HistorySize: 100}
	for i := 1; i <= 10; i++ {
		if p := publish(t, n, lobby, fmt.Sprint(i), opts); p.Seq != uint64(i) {
			t.Fatalf("publication %d got seq %d", i, p.Seq)
		}
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
		{broker.HistoryQuery{Before: ^uint64(0), Limit: 1}, rng(10, 10)},
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
		if pos.Seq != 10 || pos.Epoch != n.Epoch() || pos.Epoch == "" {
			t.Errorf("%+v: position %+v", tc.q, pos)
		}
	}
}

func TestHistorySize(t *testing.T) {
	n := open(t, t.TempDir(), "n")
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
	// a smaller size applies from the next publication on
	publish(t, n, lobby, "x", broker.PublishOptions{HistorySize: 1})
	got, _, _ = n.History(lobby, broker.HistoryQuery{})
	if !slices.Equal(seqs(got), []uint64{1001}) {
		t.Fatalf("after size 1: %v", seqs(got))
	}
	// the stream keeps at most the largest size per channel
	if l := n.limit.Load(); l != 3 {
		t.Errorf("stream limit %d, want 3", l)
	}
	// a bigger size raises it; what was pushed out stays out
	for range 5 {
		publish(t, n, lobby, "y", broker.PublishOptions{HistorySize: 10})
	}
	got, _, _ = n.History(lobby, broker.HistoryQuery{})
	if !slices.Equal(seqs(got), rng(999, 1006)) || n.limit.Load() != 10 {
		t.Fatalf("after size 10: %v, limit %d", seqs(got), n.limit.Load())
	}
	got, _, _ = n.History(lobby, broker.HistoryQuery{Since: 100, Limit: 2})
	if !slices.Equal(seqs(got), []uint64{999, 1000}) {
		t.Fatalf("since 100, limit 2 after size 10: %v", seqs(got))
	}
}

func TestHistoryTTL(t *testing.T) {
	n := open(t, t.TempDir(), "n")
	clk := &clock{t: time.Now()}
	n.now = clk.now
	opts := broker.PublishOptions{HistorySize: 10, HistoryTTL: time.Minute}
	publish(t, n, lobby, "1", opts)
	publish(t, n, lobby, "2", opts)
	epoch := n.Epoch()
	clk.add(40 * time.Second)
	publish(t, n, lobby, "3", opts)
	clk.add(30 * time.Second) // 1 and 2 are 70s old, 3 is 30s old
	got, pos, err := n.History(lobby, broker.HistoryQuery{})
	must(t, err)
	if !slices.Equal(seqs(got), []uint64{3}) || pos.Seq != 3 {
		t.Fatalf("after 1 and 2 expired: %v, position %+v", seqs(got), pos)
	}
	if got, _, _ := n.History(lobby, broker.HistoryQuery{Since: 1, Limit: 1}); !slices.Equal(seqs(got), []uint64{3}) {
		t.Fatalf("since 1, limit 1, after 2 expired: %v", seqs(got))
	}
	if got, _, _ := n.History(lobby, broker.HistoryQuery{Limit: 2}); !slices.Equal(seqs(got), []uint64{3}) {
		t.Fatalf("last 2 after 2 expired: %v", seqs(got))
	}
	clk.add(30 * time.Second)
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
	// the TTL is the latest publication's: without one nothing expires
	publish(t, n, lobby, "5", broker.PublishOptions{HistorySize: 10})
	clk.add(time.Hour)
	if got, _, _ := n.History(lobby, broker.HistoryQuery{}); !slices.Equal(seqs(got), rng(1, 5)) {
		t.Fatalf("without a TTL: %v", seqs(got))
	}
	// with one again, the old entries expire at once
	publish(t, n, lobby, "6", opts)
	if got, _, _ := n.History(lobby, broker.HistoryQuery{}); !slices.Equal(seqs(got), []uint64{6}) {
		t.Fatalf("with a TTL again: %v", seqs(got))
	}
}

// Expiry read from a restarted node: the TTL comes from the stored headers.
func TestHistoryTTLRestart(t *testing.T) {
	dir := t.TempDir()
	n := open(t, dir, "n")
	clk := &clock{t: time.Now()}
	n.now = clk.now
	opts := broker.PublishOptions{HistorySize: 10, HistoryTTL: time.Minute}
	publish(t, n, lobby, "1", opts)
	clk.add(2 * time.Minute)
	publish(t, n, lobby, "2", opts)
	must(t, n.Close())
	n = open(t, dir, "n")
	n.now = clk.now
	got, pos, err := n.History(lobby, broker.HistoryQuery{})
	must(t, err)
	if !slices.Equal(seqs(got), []uint64{2}) || pos.Seq != 2 {
		t.Fatalf("after a restart: %v, %+v", seqs(got), pos)
	}
}

// A short TTL on the real clock: polled, not slept on.
func TestHistoryTTLRealClock(t *testing.T) {
	n := open(t, t.TempDir(), "n")
	publish(t, n, lobby, "s", broker.PublishOptions{HistorySize: 10, HistoryTTL: time.Millisecond})
	waitFor(t, "a 1ms TTL to expire", func() bool {
		got, _, err := n.History(lobby, broker.HistoryQuery{})
		return err == nil && len(got) == 0
	})
}

func TestHistoryNone(t *testing.T) {
	n := open(t, t.TempDir(), "n")
	must(t, n.Start(&recorder{}))
	// a channel never published has position 0 and the epoch its stream will have
	got, pos, err := n.History(lobby, broker.HistoryQuery{})
	must(t, err)
	if len(got) != 0 || pos.Seq != 0 || pos.Epoch == "" {
		t.Fatalf("empty channel: %v, %+v", got, pos)
	}
	// publications without history get seq 0 and keep nothing
	if p := publish(t, n, lobby, "x", broker.PublishOptions{}); p.Seq != 0 || p.Node != "n" || p.Time == 0 {
		t.Fatalf("without history: %+v", p)
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
	if got[0].Time != p.Time || got[0].Node != "n" || string(got[0].Data) != "y" {
		t.Fatalf("stored %+v, published %+v", got[0], p)
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
	// a room and a uid of the same name are different channels
	if p := publish(t, n, broker.Channel{Kind: broker.User, Name: "lobby"}, "u", broker.PublishOptions{HistorySize: 5}); p.Seq != 1 {
		t.Fatalf("user lobby's first seq: %d", p.Seq)
	}
}

// Names that are not subject tokens: every one its own channel.
func TestHistoryNames(t *testing.T) {
	n := open(t, t.TempDir(), "n")
	long := string(make([]byte, 5000)) // beyond a control line: hashed
	names := []string{"a.b", "a", "b", "a b", "*", ">", "a.>", "a.*.b", "..", ".", " ", "ünï ☃", "\x00", "a\r\nb",
		"$JS.API", "_INBOX.x", "~", "-", "_", "imh.room.x", long, long + "x"}
	for i, name := range names {
		for j := 0; j <= i; j++ {
			publish(t, n, broker.Channel{Kind: broker.Room, Name: name}, name, broker.PublishOptions{HistorySize: 100})
		}
	}
	for i, name := range names {
		got, pos, err := n.History(broker.Channel{Kind: broker.Room, Name: name}, broker.HistoryQuery{})
		must(t, err)
		if pos.Seq != uint64(i+1) || len(got) != i+1 || string(got[0].Data) != name {
			t.Errorf("room %q: %d entries, position %+v", name, len(got), pos)
		}
	}
}

// History is the stream's: every node sees one history per channel, and
// seqs stay contiguous whichever node publishes.
func TestHistoryTwoNodes(t *testing.T) {
	a := open(t, t.TempDir(), "a")
	b := attach(t, a, "b")
	opts := broker.PublishOptions{HistorySize: 10}
	publish(t, a, lobby, "1", opts)
	publish(t, b, lobby, "2", opts) // b had not seen 1: one conflict, then 2
	publish(t, a, lobby, "3", opts) // a's cache says 1: conflict, then 3
	publish(t, a, lobby, "4", opts)
	for _, n := range []*Broker{a, b} {
		got, pos, err := n.History(lobby, broker.HistoryQuery{})
		must(t, err)
		var nodes []string
		for _, p := range got {
			nodes = append(nodes, p.Node)
		}
		if !slices.Equal(seqs(got), []uint64{1, 2, 3, 4}) || !slices.Equal(nodes, []string{"a", "b", "a", "a"}) || pos.Seq != 4 || pos.Epoch != a.Epoch() {
			t.Errorf("%s sees %v from %v, %+v", n.Node(), seqs(got), nodes, pos)
		}
	}
	if a.Epoch() != b.Epoch() {
		t.Errorf("epochs %q and %q", a.Epoch(), b.Epoch())
	}
}

// Many channels interleaved at uneven rates in one stream: every query
// gives what a model of the histories says, whatever the layout the
// stream search meets.
func TestHistoryInterleaved(t *testing.T) {
	n := open(t, t.TempDir(), "n")
	r := rand.New(rand.NewPCG(1, 2))
	const size = 200
	opts := broker.PublishOptions{HistorySize: size}
	chans := make([]broker.Channel, 12)
	weight := make([]int, len(chans))
	for i := range chans {
		chans[i] = broker.Channel{Kind: broker.Room, Name: fmt.Sprint("r", i)}
		weight[i] = 1 << (i % 6) // rates from 1 to 32
	}
	last := make([]uint64, len(chans))
	total := 0
	for _, w := range weight {
		total += w
	}
	pick := func() int {
		x := r.IntN(total)
		for i, w := range weight {
			if x < w {
				return i
			}
			x -= w
		}
		panic("unreachable")
	}
	for phase := range 3 {
		for range 3000 {
			i := pick()
			if phase == 1 && i%2 == 0 {
				continue // bursts: half the channels pause
			}
			last[i]++
			if p := publish(t, n, chans[i], fmt.Sprint(chans[i].Name, "/", last[i]), opts); p.Seq != last[i] {
				t.Fatalf("%s got seq %d, want %d", chans[i], p.Seq, last[i])
			}
		}
	}
	gets0, queries := n.gets.Load(), 0
	for i, ch := range chans {
		if last[i] == 0 {
			continue
		}
		kept := max(last[i], size) - size + 1 // the oldest kept
		model := func(q broker.HistoryQuery) []uint64 {
			lo, hi := max(q.Since+1, kept), last[i]
			if q.Before > 0 {
				hi = min(hi, q.Before-1)
			}
			if q.Since >= last[i] || lo > hi || (q.Before > 0 && q.Before <= lo) {
				return nil
			}
			if q.Limit > 0 && hi-lo+1 > uint64(q.Limit) {
				if q.Since == 0 {
					lo = hi - uint64(q.Limit) + 1
				} else {
					hi = lo + uint64(q.Limit) - 1
				}
			}
			return rng(lo, hi)
		}
		for range 40 {
			queries++
			q := broker.HistoryQuery{Limit: r.IntN(60)}
			switch r.IntN(3) {
			case 0:
				q.Since = r.Uint64N(last[i] + 2)
			case 1:
				q.Before = r.Uint64N(last[i] + 2)
			}
			got, pos, err := n.History(ch, q)
			must(t, err)
			if want := model(q); !slices.Equal(seqs(got), want) {
				t.Fatalf("%s (last %d) %+v: got %v, want %v", ch, last[i], q, seqs(got), want)
			}
			for _, p := range got {
				if string(p.Data) != fmt.Sprint(ch.Name, "/", p.Seq) {
					t.Fatalf("%s seq %d holds %q", ch, p.Seq, p.Data)
				}
			}
			if pos.Seq != last[i] {
				t.Fatalf("%s position %d, want %d", ch, pos.Seq, last[i])
			}
		}
	}
	t.Logf("%d queries, %.1f direct gets each", queries, float64(n.gets.Load()-gets0)/float64(queries))
}

func TestInterpolate(t *testing.T) {
	for _, tc := range []struct{ s0, r0, s1, r1, t, want uint64 }{
		{0, 0, 100, 10, 5, 50},
		{10, 1, 20, 11, 6, 15},
		{0, 0, 1 << 62, 1 << 40, 1 << 39, 1 << 61}, // products beyond 64 bits
	} {
		if got := interpolate(tc.s0, tc.r0, tc.s1, tc.r1, tc.t); got != tc.want {
			t.Errorf("interpolate%v = %d, want %d", tc, got, tc.want)
		}
	}
}

// Recovery forwards through expired entries: the window moves past them,
// chunk after chunk, with other channels' messages in between.
func TestHistoryTTLForward(t *testing.T) {
	n := open(t, t.TempDir(), "n")
	clk := &clock{t: time.Now()}
	n.now = clk.now
	opts := broker.PublishOptions{HistorySize: 1000, HistoryTTL: time.Minute}
	for i := 1; i <= 100; i++ {
		publish(t, n, lobby, fmt.Sprint(i), opts)
		for j := range i % 4 {
			publish(t, n, broker.Channel{Kind: broker.Room, Name: fmt.Sprint("o", j)}, "o", opts)
		}
		if i == 60 {
			clk.add(2 * time.Minute) // 1..60 will have expired
		}
	}
	for _, tc := range []struct {
		q    broker.HistoryQuery
		want []uint64
	}{
		{broker.HistoryQuery{Since: 10, Limit: 20}, rng(61, 80)},
		{broker.HistoryQuery{Since: 10, Limit: 3}, rng(61, 63)},
		{broker.HistoryQuery{Since: 59, Limit: 5}, rng(61, 65)},
		{broker.HistoryQuery{Since: 70, Limit: 5}, rng(71, 75)},
		{broker.HistoryQuery{Since: 1}, rng(61, 100)},
		{broker.HistoryQuery{Limit: 50}, rng(61, 100)},
		{broker.HistoryQuery{Before: 70, Limit: 5}, rng(65, 69)},
		{broker.HistoryQuery{Before: 62, Limit: 5}, rng(61, 61)},
		{broker.HistoryQuery{Before: 60}, nil},
		{broker.HistoryQuery{Since: 10, Before: 61, Limit: 5}, nil},
	} {
		got, pos, err := n.History(lobby, tc.q)
		must(t, err)
		if s := seqs(got); !slices.Equal(s, tc.want) || pos.Seq != 100 {
			t.Errorf("%+v: %v, want %v (position %+v)", tc.q, s, tc.want, pos)
		}
	}
}

// Stamp makes the bytes kept, from the seq and time the publication gets;
// a restart reads them back as stamped.
func TestHistoryStamp(t *testing.T) {
	dir := t.TempDir()
	n := open(t, dir, "n")
	stamp := func(seq uint64, ms int64, data []byte) []byte {
		return fmt.Appendf(nil, "%s#%d@%t", data, seq, ms > 0)
	}
	opts := broker.PublishOptions{HistorySize: 10, Stamp: stamp}
	for i, want := range []string{"a#1@true", "b#2@true"} {
		if p := publish(t, n, lobby, string(rune('a'+i)), opts); string(p.Data) != want {
			t.Fatalf("publication %d: data %q, want %q", i, p.Data, want)
		}
	}
	if p := publish(t, n, lobby, "c", broker.PublishOptions{Stamp: stamp}); string(p.Data) != "c#0@true" {
		t.Fatalf("without history: data %q", p.Data)
	}
	must(t, n.Close())
	n = open(t, dir, "n")
	got, _, err := n.History(lobby, broker.HistoryQuery{})
	must(t, err)
	if len(got) != 2 || string(got[0].Data) != "a#1@true" || string(got[1].Data) != "b#2@true" {
		t.Fatalf("history after a restart: %v", got)
	}
}
