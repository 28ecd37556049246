package nats

import (
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/imscript/imscript/broker"
	natsgo "github.com/nats-io/nats.go"
)

var (
	lobby = broker.Channel{Kind: broker.Room, Name: "lobby"}
	other = broker.Channel{Kind: broker.Room, Name: "other"}
	alice = broker.Channel{Kind: broker.User, Name: "salice"}
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// open opens a node on dir, closed when the test ends.
func open(t testing.TB, dir, node string) *Broker {
	t.Helper()
	b, err := Open(Config{Node: node, DataDir: dir, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// attach returns another node on owner's embedded server, as a node of a
// cluster would be: its own connection and state, the same stream. The
// owner then sends its live publications too.
func attach(t testing.TB, owner *Broker, node string) *Broker {
	t.Helper()
	cfg := Config{Node: node, Logger: quiet()}
	nc, err := connect(cfg, natsgo.InProcessServer(owner.srv))
	if err != nil {
		t.Fatal(err)
	}
	b, err := newBroker(cfg, nc, nil)
	if err != nil {
		t.Fatal(err)
	}
	owner.alone.Store(false)
	t.Cleanup(func() { b.Close() })
	return b
}

// clock is a settable clock for the broker's now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type delivery struct {
	ch broker.Channel
	p  broker.Publication
}

// recorder is a Handler that keeps what it gets; onDeliver, when set, runs
// inside Deliver (after recording).
type recorder struct {
	mu        sync.Mutex
	pubs      []delivery
	onDeliver func(ch broker.Channel, p broker.Publication)
}

func (r *recorder) Deliver(ch broker.Channel, p broker.Publication) {
	r.mu.Lock()
	r.pubs = append(r.pubs, delivery{ch, p})
	f := r.onDeliver
	r.mu.Unlock()
	if f != nil {
		f(ch, p)
	}
}

func (r *recorder) PresenceChanged(broker.Channel, string, bool) {}

func (r *recorder) got() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.pubs...)
}

func (r *recorder) datas() []string {
	var out []string
	for _, d := range r.got() {
		out = append(out, string(d.p.Data))
	}
	return out
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func publish(t testing.TB, n *Broker, ch broker.Channel, data string, opts broker.PublishOptions) broker.Publication {
	t.Helper()
	p, err := n.Publish(ch, []byte(data), opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func seqs(ps []broker.Publication) []uint64 {
	out := make([]uint64, len(ps))
	for i, p := range ps {
		out[i] = p.Seq
	}
	return out
}

func rng(lo, hi uint64) []uint64 {
	var out []uint64
	for s := lo; s <= hi; s++ {
		out = append(out, s)
	}
	return out
}

type nop struct{}

func (nop) Deliver(broker.Channel, broker.Publication)   {}
func (nop) PresenceChanged(broker.Channel, string, bool) {}

// ok drops the first result of AddPresence / RemovePresence.
func ok(_ bool, err error) error { return err }
