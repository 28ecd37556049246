package memory

import (
	"sync"
	"testing"

	"github.com/imscript/imscript/broker"
)

var (
	lobby = broker.Channel{Kind: broker.Room, Name: "lobby"}
	other = broker.Channel{Kind: broker.Room, Name: "other"}
	alice = broker.Channel{Kind: broker.User, Name: "salice"}
)

type delivery struct {
	ch broker.Channel
	p  broker.Publication
}

type change struct {
	ch      broker.Channel
	uid     string
	present bool
}

// recorder is a Handler that keeps what it gets; onDeliver, when set, runs
// inside Deliver (after recording).
type recorder struct {
	mu        sync.Mutex
	pubs      []delivery
	changes   []change
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

func (r *recorder) PresenceChanged(ch broker.Channel, uid string, present bool) {
	r.mu.Lock()
	r.changes = append(r.changes, change{ch, uid, present})
	r.mu.Unlock()
}

func (r *recorder) got() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.pubs...)
}

func (r *recorder) gotChanges() []change {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]change(nil), r.changes...)
}

func (r *recorder) datas() []string {
	var out []string
	for _, d := range r.got() {
		out = append(out, string(d.p.Data))
	}
	return out
}

// started returns a node of bus called name, started with a new recorder.
func started(t testing.TB, bus *Bus, name string) (*Broker, *recorder) {
	t.Helper()
	n := bus.Node(name)
	r := &recorder{}
	if err := n.Start(r); err != nil {
		t.Fatal(err)
	}
	return n, r
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

// nop is a Handler that does nothing (and allocates nothing).
type nop struct{}

func (nop) Deliver(broker.Channel, broker.Publication)   {}
func (nop) PresenceChanged(broker.Channel, string, bool) {}

// ok drops the first result of AddPresence / RemovePresence.
func ok(_ bool, err error) error { return err }
