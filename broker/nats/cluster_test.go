package nats

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imscript/imscript/broker"
)

// testTTL is the presence TTL of the test clusters: short, so that expiry
// is quick to see.
const testTTL = 2 * time.Second

// freePort returns a loopback port nothing listens on.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// cluster is a test cluster of embedded nodes in this process, each with
// its own server, route port and store.
type cluster struct {
	t     testing.TB
	addrs []string
	dirs  []string
	nodes []*Broker
	recs  []*presRecorder
	fwd   []*forward
}

func newClusterSpec(t testing.TB, n int) *cluster {
	c := &cluster{t: t}
	for range n {
		c.addrs = append(c.addrs, fmt.Sprintf("127.0.0.1:%d", freePort(t)))
		c.dirs = append(c.dirs, t.TempDir())
	}
	c.nodes = make([]*Broker, n)
	c.recs = make([]*presRecorder, n)
	c.fwd = make([]*forward, n)
	return c
}

// newCluster starts n nodes and waits until the cluster is ready.
func newCluster(t testing.TB, n int) *cluster {
	c := newClusterSpec(t, n)
	for i := range n {
		c.start(i)
	}
	c.waitReady(t)
	return c
}

// start opens node i (again, after a kill or Close) and starts it with a
// recorder.
func (c *cluster) start(i int) *Broker {
	c.t.Helper()
	b, err := Open(Config{
		Node:        fmt.Sprint("n", i+1),
		DataDir:     c.dirs[i],
		ClusterAddr: c.addrs[i],
		Peers:       c.addrs,
		PresenceTTL: testTTL,
		Logger:      quiet(),
	})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { b.Close() })
	c.recs[i] = &presRecorder{}
	c.fwd[i] = &forward{}
	c.fwd[i].to.Store(c.recs[i])
	must(c.t, b.Start(c.fwd[i]))
	c.nodes[i] = b
	return b
}

// fresh gives every node a new recorder (subtests sharing a cluster).
func (c *cluster) fresh() []*presRecorder {
	for i := range c.nodes {
		c.recs[i] = &presRecorder{}
		c.fwd[i].to.Store(c.recs[i])
	}
	return c.recs
}

// forward passes what a node gets on to its current recorder.
type forward struct{ to atomic.Pointer[presRecorder] }

func (f *forward) Deliver(ch broker.Channel, p broker.Publication) { f.to.Load().Deliver(ch, p) }
func (f *forward) PresenceChanged(ch broker.Channel, uid string, present bool) {
	f.to.Load().PresenceChanged(ch, uid, present)
}

func (c *cluster) live() []*Broker {
	var out []*Broker
	for _, b := range c.nodes {
		if b != nil && !b.closed.Load() {
			out = append(out, b)
		}
	}
	return out
}

// waitReady waits until every live node has the stream and sees every live
// node.
func (c *cluster) waitReady(t testing.TB) {
	t.Helper()
	live := c.live()
	deadline := time.Now().Add(60 * time.Second)
	for _, b := range live {
		for !b.isReady() || len(b.Nodes()) != len(live) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: ready %v, nodes %v", b.Node(), b.isReady(), b.Nodes())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// subscribe subscribes every live node to ch and waits until each node's
// server knows of the others' interest (a subscription reaches the other
// servers over the routes a moment after Subscribe returns).
func (c *cluster) subscribe(t testing.TB, ch broker.Channel) {
	t.Helper()
	live := c.live()
	for _, b := range live {
		must(t, b.Subscribe(ch))
	}
	c.waitInterest(t, liveSubject(ch), len(live))
}

// waitInterest waits until every live node's server routes subj to n
// subscribers (its own and the other nodes').
func (c *cluster) waitInterest(t testing.TB, subj string, n int) {
	t.Helper()
	for _, b := range c.live() {
		waitFor(t, b.Node()+" to know the interest in "+subj, func() bool {
			return b.srv.GlobalAccount().Interest(subj) >= n
		})
	}
}

// presRecorder records deliveries and presence changes.
type presRecorder struct {
	recorder
	pmu     sync.Mutex
	changes []string // "+uid@room", "-uid@room"
}

func (r *presRecorder) PresenceChanged(ch broker.Channel, uid string, present bool) {
	s := "-"
	if present {
		s = "+"
	}
	r.pmu.Lock()
	r.changes = append(r.changes, s+uid+"@"+ch.Name)
	r.pmu.Unlock()
}

func (r *presRecorder) presence() []string {
	r.pmu.Lock()
	defer r.pmu.Unlock()
	return slices.Clone(r.changes)
}

func (r *presRecorder) hasChange(s string) bool { return slices.Contains(r.presence(), s) }

func TestClusterConfig(t *testing.T) {
	if got := clusterSize(Config{ClusterAddr: "127.0.0.1:7101", Peers: []string{"127.0.0.1:7101", "127.0.0.1:7102", "127.0.0.1:7103"}}); got != 3 {
		t.Errorf("itself among the peers: size %d", got)
	}
	if got := clusterSize(Config{ClusterAddr: "127.0.0.1:7101", Peers: []string{"127.0.0.1:7102", "127.0.0.1:7103"}}); got != 3 {
		t.Errorf("itself not among the peers: size %d", got)
	}
	if got := clusterSize(Config{ClusterAddr: ":7101", Peers: []string{"localhost:7101", "10.9.9.9:7102", "10.9.9.9:7102"}}); got != 2 {
		t.Errorf("itself by another name, a peer twice: size %d", got)
	}
	for _, cfg := range []Config{
		{Node: "n", ClusterAddr: "127.0.0.1:7101"},                                    // no peers
		{Node: "n", Peers: []string{"127.0.0.1:7101"}, DataDir: t.TempDir()},          // no address
		{Node: "n", ClusterAddr: "127.0.0.1:7101", Peers: []string{"127.0.0.1:7102"}}, // no data
		{Node: "n", URLs: []string{"nats://127.0.0.1:1"}, ClusterAddr: "127.0.0.1:7101", Peers: []string{"127.0.0.1:7102"}},
		{Node: "n", ClusterAddr: "127.0.0.1:x", Peers: []string{"127.0.0.1:7102"}, DataDir: t.TempDir()},
	} {
		if b, err := Open(cfg); err == nil {
			b.Close()
			t.Errorf("Open(%+v) succeeded", cfg)
		}
	}
}

// One three-node cluster for the tests that leave it as it was (a cluster
// takes seconds to form: JetStream elects its meta leader), each on
// channels of its own.
func TestCluster(t *testing.T) {
	c := newCluster(t, 3)
	t.Run("Delivery", func(t *testing.T) { testClusterDelivery(t, c) })
	t.Run("Contiguous", func(t *testing.T) { testClusterContiguous(t, c) })
	t.Run("HistoryRead", func(t *testing.T) { testClusterHistoryRead(t, c) })
	t.Run("Presence", func(t *testing.T) { testClusterPresence(t, c) })
	t.Run("SubscribeThenPublish", func(t *testing.T) { testClusterSubscribeThenPublish(t, c) })
	t.Run("AfterDoubt", func(t *testing.T) { testClusterAfterDoubt(t, c) })
}

// A node's publication whose outcome stays unknown (every ack lost, as
// when the stream's leader dies) puts the channel in doubt; the node's
// next publication is stored with the next seq, although what the node
// last heard from another node is older than its own last publication.
// (It took that older message as the channel's last, and its message id,
// the same as its own earlier publication of that seq, made the stream
// answer it as a duplicate: acknowledged and never stored.)
func testClusterAfterDoubt(t *testing.T, c *cluster) {
	c.fresh()
	ch := broker.Channel{Kind: broker.Room, Name: "doubt"}
	c.subscribe(t, ch)
	n1, n2 := c.nodes[0], c.nodes[1]
	o := broker.PublishOptions{HistorySize: 100}
	publish(t, n1, ch, "a", o)
	publish(t, n2, ch, "b", o)
	waitFor(t, "n1 to hear of b", func() bool { return len(c.recs[0].got()) == 1 })
	publish(t, n1, ch, "c", o)
	publish(t, n1, ch, "d", o)
	n1.loseAck = func() bool { return true }
	if _, err := n1.Publish(ch, []byte("e"), o); err == nil {
		t.Fatal("a publication whose every ack was lost succeeded")
	}
	n1.loseAck = nil
	p := publish(t, n1, ch, "f", o)
	hist, pos, err := n2.History(ch, broker.HistoryQuery{})
	must(t, err)
	var got []string
	for _, h := range hist {
		got = append(got, fmt.Sprintf("%d:%s", h.Seq, h.Data))
	}
	// e was stored (only its acks were lost): f comes after it
	want := []string{"1:a", "2:b", "3:c", "4:d", "5:e", "6:f"}
	if p.Seq != 6 || pos.Seq != 6 || !slices.Equal(got, want) {
		t.Fatalf("f acknowledged with seq %d; history %q (last %d), want %q", p.Seq, got, pos.Seq, want)
	}
}

// A node subscribes and the other two publish at once, without waiting
// for anything: each publication is delivered (the other servers learn of
// a subscription asynchronously, and Subscribe returns only once they
// have).
func testClusterSubscribeThenPublish(t *testing.T, c *cluster) {
	recs := c.fresh()
	const n = 100
	for i := range n {
		ch := broker.Channel{Kind: broker.User, Name: fmt.Sprint("new", i)}
		must(t, c.nodes[0].Subscribe(ch))
		publish(t, c.nodes[1], ch, fmt.Sprint("a", i), broker.PublishOptions{})
		publish(t, c.nodes[2], ch, fmt.Sprint("b", i), broker.PublishOptions{})
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(recs[0].got()) < 2*n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := len(recs[0].got()); got != 2*n {
		t.Fatalf("n1 got %d of the %d publications made right after its subscriptions", got, 2*n)
	}
}

// Three nodes: a publication reaches every other subscribed node once, in
// order, never its own; a uid's personal channel likewise.
func testClusterDelivery(t *testing.T, c *cluster) {
	c.fresh()
	lobby := broker.Channel{Kind: broker.Room, Name: "delivery"}
	c.subscribe(t, lobby)
	c.subscribe(t, alice)
	const each = 50
	for i, b := range c.nodes {
		for j := range each {
			opts := broker.PublishOptions{}
			if j%2 == 1 {
				opts.HistorySize = 100
			}
			publish(t, b, lobby, fmt.Sprintf("%d/%d", i, j), opts)
		}
		publish(t, b, alice, fmt.Sprint("dm", i), broker.PublishOptions{HistorySize: 10})
	}
	for i, b := range c.nodes {
		r := c.recs[i]
		want := 2 * (each + 1)
		waitFor(t, b.Node()+"'s deliveries", func() bool { return len(r.got()) >= want })
		time.Sleep(50 * time.Millisecond) // nothing more comes
		got := r.got()
		if len(got) != want {
			t.Fatalf("%s got %d deliveries, want %d", b.Node(), len(got), want)
		}
		next := map[string]int{}
		dms := 0
		for _, d := range got {
			if d.p.Node == b.Node() {
				t.Fatalf("%s got its own publication %q", b.Node(), d.p.Data)
			}
			if d.ch == alice {
				dms++
				continue
			}
			var from, j int
			fmt.Sscanf(string(d.p.Data), "%d/%d", &from, &j)
			if d.p.Node != c.nodes[from].Node() || j != next[d.p.Node] {
				t.Fatalf("%s got %q from %s, want %d next", b.Node(), d.p.Data, d.p.Node, next[d.p.Node])
			}
			next[d.p.Node]++
		}
		if dms != 2 {
			t.Fatalf("%s got %d personal messages", b.Node(), dms)
		}
	}
	st := c.nodes[0].Stats()
	if st.Mode != modeCluster || st.Publishes != each+1 || st.Deliveries != 2*(each+1) || !st.Ready || st.Replicas != 3 {
		t.Fatalf("stats %+v", st)
	}
	if len(st.Peers) != 2 || !st.Peers[0].Up || !st.Peers[1].Up || st.Peers[0].Name != "n2" {
		t.Fatalf("peers %+v", st.Peers)
	}
	if got := c.nodes[1].Nodes(); !slices.Equal(got, []string{"n1", "n2", "n3"}) {
		t.Fatalf("Nodes() = %v", got)
	}
}

// Publishers on all three nodes at once: every seq once, 1..N, and every
// node's History holds them all, right after the last publication.
func testClusterContiguous(t *testing.T, c *cluster) {
	lobby := broker.Channel{Kind: broker.Room, Name: "contiguous"}
	const perNode, each = 2, 60
	opts := broker.PublishOptions{HistorySize: 1000}
	var mu sync.Mutex
	var all []uint64
	var wg sync.WaitGroup
	for _, b := range c.nodes {
		for range perNode {
			wg.Go(func() {
				for i := range each {
					p, err := b.Publish(lobby, fmt.Appendf(nil, "%s/%d", b.Node(), i), opts)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					all = append(all, p.Seq)
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	slices.Sort(all)
	if n := uint64(len(all)); n != 3*perNode*each || !slices.Equal(all, rng(1, n)) {
		t.Fatalf("seqs %v", all)
	}
	for _, b := range c.nodes {
		hist, pos, err := b.History(lobby, broker.HistoryQuery{})
		must(t, err)
		if pos.Seq != uint64(len(all)) || !slices.Equal(seqs(hist), all) {
			t.Fatalf("%s: History %d entries, position %+v", b.Node(), len(hist), pos)
		}
		if pos.Epoch != c.nodes[0].Epoch() {
			t.Fatalf("%s: epoch %q, n1's %q", b.Node(), pos.Epoch, c.nodes[0].Epoch())
		}
	}
	var conflicts int64
	for _, b := range c.nodes {
		conflicts += b.conflicts.Load()
	}
	t.Logf("conflicts %d", conflicts)
}

// History written on one node is read on the others at once: the reads
// follow the leader, never a copy that lags.
func testClusterHistoryRead(t *testing.T, c *cluster) {
	lobby := broker.Channel{Kind: broker.Room, Name: "historyread"}
	opts := broker.PublishOptions{HistorySize: 500}
	for i := range 200 {
		p := publish(t, c.nodes[0], lobby, fmt.Sprint(i), opts)
		// each publication is read back at once, on another node
		o := c.nodes[1+i%2]
		got, pos, err := o.History(lobby, broker.HistoryQuery{Since: p.Seq - 1})
		must(t, err)
		if pos.Seq != p.Seq || len(got) != 1 || got[0].Seq != p.Seq || string(got[0].Data) != fmt.Sprint(i) {
			t.Fatalf("%s after seq %d: position %+v, %d entries", o.Node(), p.Seq, pos, len(got))
		}
	}
	// a recovery of the last 150 and a last-50 from the third node
	got, _, err := c.nodes[2].History(lobby, broker.HistoryQuery{Since: 50, Limit: 300})
	must(t, err)
	if !slices.Equal(seqs(got), rng(51, 200)) {
		t.Fatalf("recovery: %v", seqs(got))
	}
	got, _, err = c.nodes[2].History(lobby, broker.HistoryQuery{Limit: 50})
	must(t, err)
	if !slices.Equal(seqs(got), rng(151, 200)) {
		t.Fatalf("last 50: %v", seqs(got))
	}
}

// Presence across nodes: first and last cluster-wide, PresenceChanged on
// the other subscribed nodes, never on the node whose call caused it.
func testClusterPresence(t *testing.T, c *cluster) {
	c.fresh()
	c.subscribe(t, lobby)
	n1, n2, n3 := c.nodes[0], c.nodes[1], c.nodes[2]
	r1, r2, r3 := c.recs[0], c.recs[1], c.recs[2]
	first := func(b *Broker, uid string) bool {
		t.Helper()
		f, err := b.AddPresence(lobby, uid)
		must(t, err)
		return f
	}
	last := func(b *Broker, uid string) bool {
		t.Helper()
		l, err := b.RemovePresence(lobby, uid)
		must(t, err)
		return l
	}
	presence := func(b *Broker) []string {
		t.Helper()
		uids, err := b.Presence(lobby)
		must(t, err)
		return uids
	}
	if !first(n1, "u") {
		t.Fatal("u's first add is not first")
	}
	if first(n1, "u") {
		t.Fatal("adding again is first")
	}
	waitFor(t, "n2 and n3 to see u join", func() bool { return r2.hasChange("+u@lobby") && r3.hasChange("+u@lobby") })
	if first(n2, "u") {
		t.Fatal("u's add on n2 is first")
	}
	for _, b := range c.nodes {
		if got := presence(b); !slices.Equal(got, []string{"u"}) {
			t.Fatalf("%s: presence %v", b.Node(), got)
		}
	}
	if last(n1, "u") {
		t.Fatal("n1's remove is last, n2 still has u")
	}
	if last(n1, "u") {
		t.Fatal("removing again is last")
	}
	if !last(n2, "u") {
		t.Fatal("n2's remove is not last")
	}
	waitFor(t, "n1 and n3 to see u leave", func() bool { return r1.hasChange("-u@lobby") && r3.hasChange("-u@lobby") })
	for _, b := range c.nodes {
		if got := presence(b); len(got) != 0 {
			t.Fatalf("%s: presence %v after u left", b.Node(), got)
		}
	}
	time.Sleep(100 * time.Millisecond)
	if got := r1.presence(); !slices.Equal(got, []string{"-u@lobby"}) {
		t.Fatalf("n1 was told %v (its own calls told it nothing)", got)
	}
	if got := r2.presence(); !slices.Equal(got, []string{"+u@lobby"}) {
		t.Fatalf("n2 was told %v", got)
	}
	if got := r3.presence(); !slices.Equal(got, []string{"+u@lobby", "-u@lobby"}) {
		t.Fatalf("n3 was told %v", got)
	}

	// Two nodes add one uid at once, many times: never neither first.
	for i := range 20 {
		uid := fmt.Sprint("c", i)
		var f1, f2 bool
		var wg sync.WaitGroup
		wg.Go(func() { f1 = first(n1, uid) })
		wg.Go(func() { f2 = first(n2, uid) })
		wg.Wait()
		if !f1 && !f2 {
			t.Fatalf("%s: neither add was first", uid)
		}
		var l1, l2 bool
		wg.Go(func() { l1 = last(n1, uid) })
		wg.Go(func() { l2 = last(n2, uid) })
		wg.Wait()
		if !l1 && !l2 {
			t.Fatalf("%s: neither remove was last", uid)
		}
	}
	// A node not subscribed to the room is told nothing of it.
	must(t, n3.Unsubscribe(lobby))
	before := len(r3.presence())
	first(n1, "w")
	waitFor(t, "n2 to see w", func() bool { return r2.hasChange("+w@lobby") })
	time.Sleep(50 * time.Millisecond)
	if got := r3.presence(); len(got) != before {
		t.Fatalf("n3, unsubscribed, was told %v", got[before:])
	}
	if got := presence(n3); !slices.Equal(got, []string{"w"}) {
		t.Fatalf("n3: presence %v", got)
	}
}

// A node that dies (no Close): its users leave within the TTL, seen by the
// others; history stays writable and readable with two of three; live
// traffic between the two goes on; the node rejoins when restarted.
func TestClusterNodeDies(t *testing.T) {
	c := newCluster(t, 3)
	c.subscribe(t, lobby)
	n1, n2, n3 := c.nodes[0], c.nodes[1], c.nodes[2]
	opts := broker.PublishOptions{HistorySize: 100}
	for i := range 10 {
		publish(t, c.nodes[i%3], lobby, fmt.Sprint(i), opts)
	}
	if f, err := n3.AddPresence(lobby, "z"); err != nil || !f {
		t.Fatalf("AddPresence = %v, %v", f, err)
	}
	if f, err := n3.AddPresence(other, "z"); err != nil || !f {
		t.Fatalf("AddPresence = %v, %v", f, err)
	}
	waitFor(t, "n1 and n2 to see z", func() bool { return c.recs[0].hasChange("+z@lobby") && c.recs[1].hasChange("+z@lobby") })

	n3.kill()
	killed := time.Now()
	// a subscription while n3 is still listed: n3 does not answer its
	// reach, which gives up after reachWait and says so in Stats
	listed := slices.Contains(n1.Nodes(), "n3")
	must(t, n1.Subscribe(broker.Channel{Kind: broker.User, Name: "after-kill"}))
	if listed && slices.Contains(n1.Nodes(), "n3") {
		t.Logf("subscribed with n3 dead and listed: %d unreached", n1.Stats().Unreached)
		if st := n1.Stats(); st.Unreached != 1 {
			t.Errorf("n1's Unreached %d after a subscription with n3 dead and listed, want 1", st.Unreached)
		}
	}
	waitFor(t, "n1 and n2 to see z leave", func() bool { return c.recs[0].hasChange("-z@lobby") && c.recs[1].hasChange("-z@lobby") })
	took := time.Since(killed)
	t.Logf("z left %s after the kill (TTL %s)", took.Round(time.Millisecond), testTTL)
	if took > testTTL+testTTL/2 {
		t.Errorf("z left %s after the kill, TTL %s", took, testTTL)
	}
	for _, b := range []*Broker{n1, n2} {
		waitFor(t, b.Node()+" to see z gone from other", func() bool {
			uids, err := b.Presence(other)
			return err == nil && len(uids) == 0
		})
	}
	waitFor(t, "n1 to drop n3", func() bool { return slices.Equal(n1.Nodes(), []string{"n1", "n2"}) })

	// live traffic and history with two of three
	before := len(c.recs[1].got())
	for i := 10; i < 20; i++ {
		publish(t, c.nodes[i%2], lobby, fmt.Sprint(i), opts)
	}
	waitFor(t, "n2's deliveries", func() bool { return len(c.recs[1].got()) == before+5 })
	hist, pos, err := n2.History(lobby, broker.HistoryQuery{})
	must(t, err)
	if pos.Seq != 20 || !slices.Equal(seqs(hist), rng(1, 20)) {
		t.Fatalf("History with n3 down: %v, %+v", seqs(hist), pos)
	}
	if st := n1.Stats(); len(st.Peers) != 2 || st.Peers[1].Name != "n3" || st.Peers[1].Up {
		t.Fatalf("n1's peers with n3 down: %+v", st.Peers)
	}

	// n3 comes back: it catches up and takes part again
	n3 = c.start(2)
	c.waitReady(t)
	must(t, n3.Subscribe(lobby))
	c.waitInterest(t, liveSubject(lobby), 3)
	hist, _, err = n3.History(lobby, broker.HistoryQuery{})
	must(t, err)
	if !slices.Equal(seqs(hist), rng(1, 20)) {
		t.Fatalf("History on the restarted n3: %v", seqs(hist))
	}
	p := publish(t, n3, lobby, "back", opts)
	if p.Seq != 21 {
		t.Fatalf("n3's publication got seq %d", p.Seq)
	}
	waitFor(t, "n1 to get n3's publication", func() bool {
		got := c.recs[0].got()
		return len(got) > 0 && string(got[len(got)-1].p.Data) == "back"
	})
}

// Close deletes the node's presence at once: the others see its users
// leave long before the TTL.
func TestClusterCloseLeaves(t *testing.T) {
	c := newCluster(t, 3)
	c.subscribe(t, lobby)
	_, err := c.nodes[2].AddPresence(lobby, "q")
	must(t, err)
	_, err = c.nodes[1].AddPresence(lobby, "both")
	must(t, err)
	_, err = c.nodes[2].AddPresence(lobby, "both")
	must(t, err)
	waitFor(t, "n1 to see q", func() bool { return c.recs[0].hasChange("+q@lobby") })
	start := time.Now()
	must(t, c.nodes[2].Close())
	waitFor(t, "n1 and n2 to see q leave", func() bool { return c.recs[0].hasChange("-q@lobby") && c.recs[1].hasChange("-q@lobby") })
	if took := time.Since(start); took > testTTL/2 {
		t.Fatalf("q left %s after Close", took)
	}
	uids, err := c.nodes[0].Presence(lobby)
	must(t, err)
	if !slices.Equal(uids, []string{"both"}) {
		t.Fatalf("presence after n3 closed: %v", uids)
	}
	if c.recs[0].hasChange("-both@lobby") {
		t.Fatal("both left, but n2 still has it")
	}
}

// The nodes start one after another: Open does not wait for the cluster,
// a publication with history fails clearly until it has formed, and
// succeeds once it has.
func TestClusterFormsLate(t *testing.T) {
	c := newClusterSpec(t, 3)
	b, err := Open(Config{Node: "n1", DataDir: c.dirs[0], ClusterAddr: c.addrs[0], Peers: c.addrs,
		PresenceTTL: testTTL, Logger: quiet(), Timeout: 500 * time.Millisecond})
	must(t, err)
	t.Cleanup(func() { b.Close() })
	c.nodes[0] = b
	// without history, a publication needs no JetStream
	publish(t, b, lobby, "early", broker.PublishOptions{})
	_, err = b.Publish(lobby, []byte("x"), broker.PublishOptions{HistorySize: 10})
	if !errors.Is(err, errNotReady) {
		t.Fatalf("publication with history before the cluster formed: %v", err)
	}
	if _, _, err := b.History(lobby, broker.HistoryQuery{}); !errors.Is(err, errNotReady) {
		t.Fatalf("History before the cluster formed: %v", err)
	}
	// presence is kept, and written once the cluster has formed
	must(t, b.Subscribe(lobby))
	if f, err := b.AddPresence(lobby, "u"); err != nil || !f {
		t.Fatalf("AddPresence before the cluster formed: %v, %v", f, err)
	}
	if uids, err := b.Presence(lobby); err != nil || !slices.Equal(uids, []string{"u"}) {
		t.Fatalf("Presence before the cluster formed: %v, %v", uids, err)
	}
	time.Sleep(time.Second)
	c.start(1)
	time.Sleep(time.Second)
	c.start(2)
	c.waitReady(t)
	for i, n := range c.nodes {
		p, err := n.Publish(lobby, []byte("x"), broker.PublishOptions{HistorySize: 10})
		if err != nil || p.Seq != uint64(i+1) {
			t.Fatalf("%s: Publish = %+v, %v", n.Node(), p, err)
		}
	}
	if got := c.nodes[0].Stats().Replicas; got != 3 {
		t.Fatalf("replicas %d", got)
	}
	waitFor(t, "n3 to see u", func() bool {
		uids, err := c.nodes[2].Presence(lobby)
		return err == nil && slices.Equal(uids, []string{"u"})
	})
	if f, err := c.nodes[2].AddPresence(lobby, "u"); err != nil || f {
		t.Fatalf("n3's AddPresence of u = %v, %v", f, err)
	}
}
