package tests

import (
	"net"
	"net/url"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Two imscript nodes on an existing NATS deployment (--nats): a
// nats-server process of the version the project embeds, built from the
// module (Debian's is older than the per-message TTLs presence needs).
// Room messages, a uid's tabs on both nodes, presence and its events,
// history recovered on the other node; SIGTERM of a node ends its users'
// presence at once (the TTL is a minute here).

var natsBin struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

func buildNATSServer(t *testing.T) string {
	t.Helper()
	natsBin.once.Do(func() {
		natsBin.path = filepath.Join(filepath.Dir(binPath), "nats-server")
		goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
		natsBin.out, natsBin.err = exec.Command(goTool, "build", "-o", natsBin.path, "github.com/nats-io/nats-server/v2").CombinedOutput()
	})
	if natsBin.err != nil {
		t.Fatalf("building nats-server: %v\n%s", natsBin.err, natsBin.out)
	}
	return natsBin.path
}

// startNATS runs a nats-server with JetStream on a free loopback port.
func startNATS(t *testing.T) string {
	t.Helper()
	port := freePort(t)
	cmd := exec.Command(buildNATSServer(t), "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-js", "-sd", t.TempDir(), "-n", "ext")
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting nats-server: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := "127.0.0.1:" + strconv.Itoa(port)
	waitFor(t, 30*time.Second, "nats-server to listen", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return "nats://" + addr
}

func TestClusterExternalNATS(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts nats-server and two imscript nodes")
	}
	eachLang(t, func(t *testing.T, lang string) {
		natsURL := startNATS(t)
		nodes := make([]*clusterNode, 2)
		var wg sync.WaitGroup
		for i := range nodes {
			n := &clusterNode{name: "e" + strconv.Itoa(i+1), lang: lang}
			nodes[i] = n
			wg.Go(func() {
				n.s = start(t, testScript(lang, "cluster"), runOpts{args: []string{
					"--node", n.name, "--nats", natsURL, "--presence-ttl", "60s",
				}})
			})
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		e1, e2 := nodes[0], nodes[1]
		// The broker logs its mode once it is ready, which may be after
		// the node listens.
		waitFor(t, 30*time.Second, "e1's log to say it uses an external NATS", func() bool {
			return strings.Contains(e1.s.stderr.String(), "mode=external")
		})
		st := ccDial(t, e2, url.Values{})
		waitFor(t, 30*time.Second, "two nodes in stats", func() bool {
			st.send("stats")
			return st.until("stats ") == "stats e2 2"
		})

		a := ccDial(t, e1, url.Values{"uid": {"ann"}, "rooms": {"r,events"}})
		b := ccDial(t, e2, url.Values{"uid": {"bob"}, "rooms": {"r,events"}})
		waitFor(t, 30*time.Second, "ann and bob present on e1", func() bool {
			a.send("presence r")
			return a.until("presence ") == "presence ann,bob"
		})
		b.send("pub r hello")
		for _, x := range []*cc{a, b} {
			if m := x.msg(); m.Text != "hello" || m.Seq != 1 {
				t.Fatalf("got %+v, want hello with seq 1", m)
			}
		}
		epoch := a.join["r"][1]

		// ann's second tab on e2 gets a message sent to her on e2 and her
		// tab on e1 too
		a2 := ccDial(t, e2, url.Values{"uid": {"ann"}})
		b.send("dm ann psst")
		for _, x := range []*cc{a, a2} {
			if m := x.msg(); m.Text != "psst" {
				t.Fatalf("ann's tab got %+v", m)
			}
		}

		// what e2 published is recovered on e1
		for i := range 5 {
			b.send("pub r m" + strconv.Itoa(i))
		}
		for range 5 {
			b.msg()
		}
		back := ccDial(t, e1, url.Values{"rooms": {"r"}, "since": {"1"}, "epoch": {epoch}})
		if j := back.join["r"]; j[0] != "6" || j[1] != epoch || j[2] != "true" || len(back.pre) != 5 {
			t.Fatalf("recovery on e1: join %v after %d messages, want the 5 of e2", j, len(back.pre))
		}

		// SIGTERM of e2: bob leaves on e1 at once, not after the TTL
		// (a minute)
		e2.s.signal(syscall.SIGTERM)
		if got := a.until("presence r bob"); got != "presence r bob leave" {
			t.Fatalf("on e1 after e2's SIGTERM: %q", got)
		}
		waitFor(t, 30*time.Second, "only ann present", func() bool {
			a.send("presence r")
			return a.until("presence ") == "presence ann"
		})
	})
}
