package tests

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Three imscript processes form a cluster with embedded NATS on loopback;
// WebSocket clients on each see one chat: room messages, messages to a uid
// with tabs on two nodes, presence and its events, history recovered on
// another node, one contiguous seq with publishers on all three, and a
// node killed with SIGKILL and started again.

const clusterPresenceTTL = "3s"

type clusterNode struct {
	name, data, route string
	peers             string
	lang              string
	script            string            // the cluster test script, or another (the chat)
	env               map[string]string // more environment (CHAT_DB)
	extra             []string          // more flags (--metrics)
	netns             string            // the network namespace it runs in (cluster_partition_test.go)
	s                 *server
}

func (n *clusterNode) start(t *testing.T) {
	t.Helper()
	var prefix []string
	if n.netns != "" {
		prefix = []string{"ip", "netns", "exec", n.netns}
	}
	n.s = start(t, n.script, runOpts{env: n.env, prefix: prefix, args: append([]string{
		"--node", n.name, "--data", n.data, "--cluster", n.route, "--peers", n.peers, "--presence-ttl", clusterPresenceTTL,
	}, n.extra...)})
}

// startCluster starts three nodes of the cluster test script.
func startCluster(t *testing.T, lang string, extra ...func(n *clusterNode)) []*clusterNode {
	t.Helper()
	return startNodes(t, lang, 3, testScript(lang, "cluster"), extra...)
}

// startNodes starts count nodes of script, one embedded NATS cluster, all
// at once (a node waits for its peers).
func startNodes(t *testing.T, lang string, count int, script string, extra ...func(n *clusterNode)) []*clusterNode {
	t.Helper()
	nodes := make([]*clusterNode, count)
	var routes []string
	for i := range nodes {
		nodes[i] = &clusterNode{name: "n" + strconv.Itoa(i+1), data: t.TempDir(), lang: lang, script: script,
			route: "127.0.0.1:" + strconv.Itoa(freePort(t))}
		for _, f := range extra {
			f(nodes[i])
		}
		routes = append(routes, nodes[i].route)
	}
	var wg sync.WaitGroup
	for _, n := range nodes {
		n.peers = strings.Join(routes, ",")
		wg.Go(func() { n.start(t) })
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	// A node listens before its broker is ready (the cluster forming: a
	// call that needs the history fails until then).
	for _, n := range nodes {
		waitFor(t, 60*time.Second, n.name+"'s broker ready", func() bool {
			return strings.Contains(n.s.stderr.String(), "nats broker: ready")
		})
	}
	return nodes
}

// cc is a WebSocket client of one node.
type cc struct {
	t    *testing.T
	c    *websocket.Conn
	join map[string][]string // room → seq, epoch, recovered of its join
	pre  []string            // what came before "ready" that is not a join answer
}

func ccDial(t *testing.T, n *clusterNode, q url.Values) *cc {
	t.Helper()
	u := "ws://" + n.s.addr() + "/?" + q.Encode()
	d := *websocket.DefaultDialer
	if n.netns != "" {
		d.NetDialContext = dialer(n.netns)
	}
	c, resp, err := d.Dial(u, http.Header{})
	if err != nil {
		t.Fatalf("dial %s: %v (%v)", u, err, resp)
	}
	t.Cleanup(func() { c.Close() })
	x := &cc{t: t, c: c, join: map[string][]string{}}
	for {
		m := x.read()
		if m == "ready" {
			return x
		}
		if f := strings.Split(m, " "); len(f) == 5 && f[0] == "joined" {
			x.join[f[1]] = f[2:]
			continue
		}
		x.pre = append(x.pre, m)
	}
}

func (x *cc) send(s string) {
	x.t.Helper()
	if err := x.c.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		x.t.Fatal(err)
	}
}

func (x *cc) read() string {
	x.t.Helper()
	_ = x.c.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, m, err := x.c.ReadMessage()
	if err != nil {
		x.t.Fatalf("read: %v", err)
	}
	return string(m)
}

type stampedMsg struct {
	Seq  uint64 `json:"seq"`
	Text string `json:"text"`
}

// msg reads the next stamped message.
func (x *cc) msg() stampedMsg {
	x.t.Helper()
	for {
		m := x.read()
		var s stampedMsg
		if json.Unmarshal([]byte(m), &s) == nil && s.Text != "" {
			return s
		}
	}
}

// until reads up to the first message with prefix.
func (x *cc) until(prefix string) string {
	x.t.Helper()
	for {
		if m := x.read(); strings.HasPrefix(m, prefix) {
			return m
		}
	}
}

// quiet asserts nothing more arrives for d (no message twice).
func (x *cc) quiet(d time.Duration) {
	x.t.Helper()
	_ = x.c.SetReadDeadline(time.Now().Add(d))
	if _, m, err := x.c.ReadMessage(); err == nil {
		x.t.Fatalf("unexpected %q", m)
	}
}

func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("three processes with embedded NATS")
	}
	eachLang(t, func(t *testing.T, lang string) {
		nodes := startCluster(t, lang)
		n1, n2, n3 := nodes[0], nodes[1], nodes[2]

		// stats() knows the node and the cluster
		st := ccDial(t, n2, url.Values{})
		st.send("stats")
		waitFor(t, 30*time.Second, "three nodes in stats", func() bool {
			st.send("stats")
			return st.until("stats ") == "stats n2 3"
		})

		// a room publication reaches the members on every node, once
		a := ccDial(t, n1, url.Values{"uid": {"ann"}, "rooms": {"r"}})
		b := ccDial(t, n2, url.Values{"uid": {"bob"}, "rooms": {"r"}})
		c := ccDial(t, n3, url.Values{"uid": {"cat"}, "rooms": {"r,events"}})
		waitFor(t, 30*time.Second, "presence of the three on n3", func() bool {
			c.send("presence r")
			return c.until("presence ") == "presence ann,bob,cat"
		})
		a.send("pub r hello")
		for _, x := range []*cc{a, b, c} {
			if m := x.msg(); m.Text != "hello" || m.Seq != 1 {
				t.Fatalf("got %+v, want hello with seq 1", m)
			}
		}
		b.quiet(300 * time.Millisecond)

		// a uid with tabs on two nodes gets a message sent on the third
		a2 := ccDial(t, n2, url.Values{"uid": {"ann"}})
		c.send("dm ann psst")
		if m := a.msg(); m.Text != "psst" {
			t.Fatalf("ann's tab on n1 got %+v", m)
		}
		if m := a2.msg(); m.Text != "psst" {
			t.Fatalf("ann's tab on n2 got %+v", m)
		}

		// presence events across nodes: dan's first connection on n1 and
		// his last leaving are told on n3, once each
		d1 := ccDial(t, n1, url.Values{"uid": {"dan"}, "rooms": {"r"}})
		if got := c.until("presence r dan"); got != "presence r dan join" {
			t.Fatalf("on n3: %q", got)
		}
		d2 := ccDial(t, n2, url.Values{"uid": {"dan"}, "rooms": {"r"}})
		d1.c.Close()
		d2.c.Close()
		if got := c.until("presence r dan"); got != "presence r dan leave" {
			t.Fatalf("on n3 after dan's two tabs closed: %q", got)
		}

		// one contiguous seq with publishers on all three nodes, and what a
		// client missed recovered on another node
		epoch := b.join["r"][1]
		b.c.Close()
		var wg sync.WaitGroup
		const each = 50
		for i, n := range nodes {
			p := ccDial(t, n, url.Values{})
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range each {
					p.send(fmt.Sprintf("pub r p%d-%d", i, j))
				}
			}()
		}
		wg.Wait()
		var seqs []uint64
		for range 3 * each {
			seqs = append(seqs, a.msg().Seq)
		}
		slices.Sort(seqs)
		for i, s := range seqs {
			if s != uint64(i+2) {
				t.Fatalf("seqs on n1 %v: want 2..%d, each once", seqs, 3*each+1)
			}
		}
		back := ccDial(t, n3, url.Values{"rooms": {"r"}, "since": {"1"}, "epoch": {epoch}})
		if j := back.join["r"]; len(j) != 3 || j[0] != strconv.Itoa(3*each+1) || j[1] != epoch || j[2] != "true" || len(back.pre) != 3*each {
			t.Fatalf("recovery on n3: join %v after %d messages, want %d recovered", j, len(back.pre), 3*each)
		}

		// kill -9 of n3: n1 and n2 go on, history stays writable, cat
		// leaves presence within the TTL; n3 comes back and serves again
		b = ccDial(t, n2, url.Values{"uid": {"bob"}, "rooms": {"r,events"}})
		n3.s.kill()
		if got := b.until("presence r cat"); got != "presence r cat leave" {
			t.Fatalf("on n2 after n3 died: %q", got)
		}
		// n3 may have led the history stream: publish until n1 and n2
		// have a leader again (seconds; longer on a loaded machine than
		// the broker's 5 s per publication)
		var probe string
		waitFor(t, 90*time.Second, "a publication stored by n1 and n2", func() bool {
			probe = "probe-" + strconv.FormatInt(time.Now().UnixNano(), 36)
			a.send("pubr r " + probe)
			return !strings.HasPrefix(a.until("published "), "published false")
		})
		for m := b.msg(); m.Text != probe; m = b.msg() {
			t.Logf("b skips %+v (probe %s)", m, probe)
		}
		for i := range 20 {
			a.send("pub r after" + strconv.Itoa(i))
		}
		last := uint64(0)
		for i := range 20 {
			m := b.msg()
			if m.Text != "after"+strconv.Itoa(i) || (last != 0 && m.Seq != last+1) {
				t.Fatalf("on n2 with n3 dead: %+v after seq %d", m, last)
			}
			last = m.Seq
		}
		// the publisher's own copies (the probe's may have come before
		// its "published" line, which until skipped)
		for m := a.msg(); m.Text != "after19"; m = a.msg() {
		}
		n3.start(t)
		// a node listens before its broker is ready (a join then reads no
		// history: seq 0, epoch "")
		waitFor(t, 60*time.Second, "n3's broker ready after the restart", func() bool {
			return strings.Contains(n3.s.stderr.String(), "nats broker: ready")
		})
		c = ccDial(t, n3, url.Values{"rooms": {"r"}, "since": {strconv.FormatUint(last-20, 10)}, "epoch": {epoch}})
		if j := c.join["r"]; len(j) != 3 || j[2] != "true" || len(c.pre) != 20 {
			t.Fatalf("n3 restarted: join %v after %q, want the 20 recovered", j, c.pre)
		}
		c.send("pub r back")
		if m := a.msg(); m.Text != "back" || m.Seq != last+1 {
			t.Fatalf("n1 got %+v from the restarted n3, want seq %d", m, last+1)
		}
	})
}

// A cluster that lost its quorum (two of three nodes killed): a publication
// with history gets no answer, and says so after the broker's timeout.
// The handler that published waits without holding its worker (Lua: it
// suspends; JS: publish returns a Promise): another connection of the
// same worker is answered meanwhile.
func TestClusterNoQuorum(t *testing.T) {
	if testing.Short() {
		t.Skip("three processes with embedded NATS")
	}
	eachLang(t, func(t *testing.T, lang string) {
		nodes := startCluster(t, lang)
		n1 := nodes[0]
		p := ccDial(t, n1, url.Values{"rooms": {"r"}})
		waitFor(t, 30*time.Second, "three nodes in stats", func() bool {
			p.send("stats")
			return p.until("stats ") == "stats n1 3"
		})
		waitFor(t, 60*time.Second, "a publication stored by the three nodes", func() bool {
			p.send("pubr r first")
			return p.until("published ") == "published 1"
		})
		q := sameWorker(t, n1, p)
		nodes[1].s.kill()
		nodes[2].s.kill()

		// p's calls wait for the broker's timeout (seconds); q, on the
		// same worker, is answered meanwhile
		got := waitsOffWorker(t, p, q, "pubr r second", "published ")
		if lang == "js" { // a Promise, resolved with false
			if got != "published false" {
				t.Fatalf("JS: the publication without a quorum: %q", got)
			}
		} else if !strings.HasPrefix(got, "published false history: ") || !strings.Contains(got, "no answer from NATS") {
			t.Fatalf("the publication without a quorum: %q", got)
		}
		// a call that returns what the script reads waits off the worker
		// too (JS: a Promise). The stream's last leader may answer reads
		// until it steps down for want of a quorum (seconds): from then on
		// a read waits for the broker's timeout.
		waitFor(t, 90*time.Second, "history reads to fail without a quorum", func() bool {
			p.send("hist r")
			return strings.HasPrefix(p.until("history "), "history false")
		})
		got = waitsOffWorker(t, p, q, "hist r", "history ")
		if lang == "js" && got != "history false" || lang == "lua" && !strings.HasPrefix(got, "history false history: ") {
			t.Fatalf("history without a quorum: %q", got)
		}
		q.send("errors")
		if got := q.until("errors "); got == "errors 0" {
			t.Fatalf("stats().broker_errors after the failed publication: %q", got)
		}
	})
}

// waitsOffWorker sends cmd on p and checks that q, a connection of the
// same worker, is answered while cmd waits for the cluster, and that the
// stats count one call waiting; it returns cmd's answer (the first
// message with prefix).
func waitsOffWorker(t *testing.T, p, q *cc, cmd, prefix string) string {
	t.Helper()
	answers := make(chan string, 1)
	p.send(cmd)
	go func() {
		for {
			_ = p.c.SetReadDeadline(time.Now().Add(60 * time.Second))
			_, m, err := p.c.ReadMessage()
			if err != nil {
				answers <- "read: " + err.Error()
				return
			}
			if s := string(m); strings.HasPrefix(s, prefix) {
				answers <- s
				return
			}
		}
	}()
	q.send("echo z")
	if echo := q.until("echo "); echo != "echo z" {
		t.Fatalf("echo: %q", echo)
	}
	q.send("waiting")
	if got := q.until("waiting "); got != "waiting 1" {
		t.Fatalf("calls waiting for the cluster while %q waits: %q, want 1 (a worker that waited with it answers only after)", cmd, got)
	}
	select {
	case got := <-answers:
		t.Fatalf("%q was answered (%q) before the other connection's echo: the worker waited for NATS", cmd, got)
	default:
	}
	return <-answers
}

// sameWorker dials n until a connection lands on the worker of p.
func sameWorker(t *testing.T, n *clusterNode, p *cc) *cc {
	t.Helper()
	p.send("who")
	worker := p.until("who ")
	for range 8 { // connections go to the workers in turn
		x := ccDial(t, n, url.Values{})
		x.send("who")
		if x.until("who ") == worker {
			return x
		}
	}
	t.Fatalf("no second connection on %s", worker)
	return nil
}
