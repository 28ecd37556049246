//go:build linux

package tests

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A real network partition: three nodes, each in a network namespace of
// its own with one interface on a bridge, their routes over the bridge.
// The test cuts the third node's link, so that n1 and n2 keep a quorum and
// n3 is alone, and later mends it. Clients reach each node on its
// namespace's loopback (their sockets are made in that namespace).

var labs atomic.Int32

// netLab is a bridge and a namespace per node.
type netLab struct {
	t      *testing.T
	tag    string // a few hex digits in every name
	subnet int    // 10.213.<subnet>.0/24
	nss    []string
	links  []string // the bridge side of each node's link
}

func ipRun(args ...string) error {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// newNetLab makes count namespaces on one bridge, or skips the test where
// namespaces cannot be made (not root, no ip(8)); with CI=true it fails.
func newNetLab(t *testing.T, count int) *netLab {
	t.Helper()
	var b [2]byte
	_, _ = rand.Read(b[:])
	// parallel tests take different subnets
	lab := &netLab{t: t, tag: hex.EncodeToString(b[:]), subnet: 1 + (os.Getpid()+int(labs.Add(1)))%250}
	bridge := "imsb" + lab.tag
	skip := func(err error) {
		t.Helper()
		msg := fmt.Sprintf("network namespaces: %v (needs root and iproute2)", err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if _, err := exec.LookPath("ip"); err != nil {
		skip(err)
	}
	if err := ipRun("ip", "link", "add", bridge, "type", "bridge"); err != nil {
		skip(err)
	}
	t.Cleanup(func() {
		for _, ns := range lab.nss {
			_ = ipRun("ip", "netns", "del", ns)
		}
		for _, l := range lab.links {
			_ = ipRun("ip", "link", "del", l)
		}
		_ = ipRun("ip", "link", "del", bridge)
	})
	must := func(args ...string) {
		t.Helper()
		if err := ipRun(args...); err != nil {
			t.Fatal(err)
		}
	}
	must("ip", "link", "set", bridge, "up")
	for i := range count {
		ns := fmt.Sprintf("ims%s-%d", lab.tag, i+1)
		link := fmt.Sprintf("imsv%s%d", lab.tag, i+1)
		must("ip", "netns", "add", ns)
		lab.nss = append(lab.nss, ns)
		must("ip", "link", "add", link, "type", "veth", "peer", "name", link+"p")
		lab.links = append(lab.links, link)
		must("ip", "link", "set", link+"p", "netns", ns)
		must("ip", "link", "set", link, "master", bridge)
		must("ip", "link", "set", link, "up")
		must("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
		must("ip", "netns", "exec", ns, "ip", "link", "set", link+"p", "name", "eth0")
		must("ip", "netns", "exec", ns, "ip", "addr", "add", lab.addr(i)+"/24", "dev", "eth0")
		must("ip", "netns", "exec", ns, "ip", "link", "set", "eth0", "up")
	}
	return lab
}

func (lab *netLab) addr(i int) string { return fmt.Sprintf("10.213.%d.%d", lab.subnet, i+1) }

// cut takes node i's link down (a partition: its packets go nowhere);
// mend brings it back.
func (lab *netLab) cut(i int) {
	if err := ipRun("ip", "link", "set", lab.links[i], "down"); err != nil {
		lab.t.Fatal(err)
	}
}

func (lab *netLab) mend(i int) {
	if err := ipRun("ip", "link", "set", lab.links[i], "up"); err != nil {
		lab.t.Fatal(err)
	}
}

// dialer makes its sockets in namespace ns: the dial runs on a thread
// that entered ns and that ends with it.
func dialer(ns string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		type result struct {
			c   net.Conn
			err error
		}
		done := make(chan result, 1)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread goes away with the goroutine
			f, err := os.Open("/var/run/netns/" + ns)
			if err != nil {
				done <- result{nil, err}
				return
			}
			defer f.Close()
			if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
				done <- result{nil, fmt.Errorf("setns %s: %w", ns, err)}
				return
			}
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			done <- result{c, err}
		}()
		r := <-done
		return r.c, r.err
	}
}

// TestClusterPartition: n3 is cut off from n1 and n2. The majority goes
// on: live delivery and history writes between n1 and n2, n3's user leaves
// their presence within the TTL. On n3 a call that needs the cluster fails
// after the broker's timeout, saying so, without holding its worker. Once
// the link is back, n3 serves again: a client of n3 recovers what it
// missed during the partition, exactly, and a publication from n3 reaches
// n1 with the next seq.
func TestClusterPartition(t *testing.T) {
	if testing.Short() {
		t.Skip("three processes with embedded NATS in network namespaces")
	}
	eachLang(t, func(t *testing.T, lang string) {
		lab := newNetLab(t, 3)
		nodes := startNodes(t, lang, 3, testScript(lang, "cluster"), func(n *clusterNode) {
			i, _ := strconv.Atoi(strings.TrimPrefix(n.name, "n"))
			n.route, n.netns = lab.addr(i-1)+":7222", lab.nss[i-1]
		})
		n1, n2, n3 := nodes[0], nodes[1], nodes[2]
		a := ccDial(t, n1, url.Values{"uid": {"ann"}, "rooms": {"r"}})
		waitFor(t, 60*time.Second, "three nodes in stats", func() bool {
			a.send("stats")
			return a.until("stats ") == "stats n1 3"
		})
		waitFor(t, 60*time.Second, "a publication stored by the three nodes", func() bool {
			a.send("pubr r first")
			return strings.HasPrefix(a.until("published "), "published 1")
		})
		b := ccDial(t, n2, url.Values{"uid": {"bob"}, "rooms": {"r,events"}})
		c := ccDial(t, n3, url.Values{"uid": {"cat"}, "rooms": {"r"}, "since": {"1"}})
		epoch := c.join["r"][1]
		waitFor(t, 30*time.Second, "presence of the three on n2", func() bool {
			b.send("presence r")
			return b.until("presence ") == "presence ann,bob,cat"
		})

		lab.cut(2)

		// n3 alone: a publication with history gets no answer and says so
		// after the broker's timeout; its worker answers meanwhile
		q := sameWorker(t, n3, c)
		got := waitsOffWorker(t, c, q, "pubr r lost", "published ")
		if lang == "js" && got != "published false" || lang == "lua" && !strings.HasPrefix(got, "published false ") {
			t.Fatalf("on n3 cut off: %q", got)
		}
		q.send("errors")
		if got := q.until("errors "); got == "errors 0" {
			t.Fatalf("n3's stats().broker_errors after the failed publication: %q", got)
		}

		// the majority: cat leaves within the TTL, history stays writable
		// (a new stream leader if n3 had it), live delivery goes on
		if got := b.until("presence r cat"); got != "presence r cat leave" {
			t.Fatalf("on n2 after n3 was cut off: %q", got)
		}
		stored := func(x *cc, what string) string {
			t.Helper()
			var text string
			waitFor(t, 90*time.Second, what, func() bool {
				text = what + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
				x.send("pubr r " + text)
				return !strings.HasPrefix(x.until("published "), "published false")
			})
			return text
		}
		during := stored(a, "during")
		var last uint64
		for last == 0 {
			if m := b.msg(); m.Text == during {
				last = m.Seq
			}
		}
		for i := range 9 {
			a.send("pub r during" + strconv.Itoa(i))
		}
		for i := range 9 {
			m := b.msg()
			if m.Text != "during"+strconv.Itoa(i) || m.Seq != last+1 {
				t.Fatalf("on n2 during the partition: %+v after seq %d", m, last)
			}
			last = m.Seq
		}

		lab.mend(2)

		// n3 serves again: cat is back in presence, a publication of n3
		// gets the next seq, and a client of n3 recovers exactly what it
		// missed
		if got := b.until("presence r cat"); got != "presence r cat join" {
			t.Fatalf("on n2 after the link came back: %q", got)
		}
		back := stored(c, "back")
		var backSeq uint64
		for backSeq == 0 {
			if m := a.msg(); m.Text == back {
				backSeq = m.Seq
			}
		}
		if backSeq <= last {
			t.Fatalf("n3's publication after the partition has seq %d, the last before it %d", backSeq, last)
		}
		c2 := ccDial(t, n3, url.Values{"rooms": {"r"}, "since": {"1"}, "epoch": {epoch}})
		if j := c2.join["r"]; len(j) != 3 || j[2] != "true" {
			t.Fatalf("recovery on n3 after the partition: join %v", j)
		}
		for i, m := range c2.pre {
			var s stampedMsg
			if err := json.Unmarshal([]byte(m), &s); err != nil || s.Seq != uint64(i+2) {
				t.Fatalf("recovered on n3 after the partition: %q, want seqs 2..%d in order", c2.pre, backSeq)
			}
		}
		if len(c2.pre) < int(backSeq-1) {
			t.Fatalf("recovered on n3 after the partition: %q, want seqs 2..%d", c2.pre, backSeq)
		}
	})
}
