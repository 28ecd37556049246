package nats

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/imscript/imscript/broker"
)

// natsServer is a nats-server process of the pinned version, built from
// the module (the Debian package is too old: per-message TTLs need 2.11).
type natsServer struct {
	t    testing.TB
	bin  string
	port int
	dir  string
	args []string
	cmd  *exec.Cmd
}

func startNATSServer(t testing.TB, args ...string) *natsServer {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and starts nats-server")
	}
	bin := filepath.Join(t.TempDir(), "nats-server")
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(goTool, "build", "-o", bin, "github.com/nats-io/nats-server/v2").CombinedOutput()
	if err != nil {
		t.Fatalf("building nats-server: %v\n%s", err, out)
	}
	s := &natsServer{t: t, bin: bin, port: freePort(t), dir: t.TempDir(), args: args}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *natsServer) start() {
	s.t.Helper()
	args := append([]string{"-a", "127.0.0.1", "-p", fmt.Sprint(s.port), "-js", "-sd", s.dir, "-n", "ext"}, s.args...)
	s.cmd = exec.Command(s.bin, args...)
	if testing.Verbose() {
		s.cmd.Stderr = os.Stderr
	}
	must(s.t, s.cmd.Start())
	waitFor(s.t, "nats-server to listen", func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.port))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// stop kills the server (SIGKILL).
func (s *natsServer) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		s.cmd = nil
	}
}

// External NATS: the nodes embed nothing and share an existing server (a
// user and password in the URL); delivery, contiguous history, presence
// with first/last, expiry and Close, and a server restart.
func TestExternal(t *testing.T) {
	ns := startNATSServer(t, "--user", "im", "--pass", "secret")
	url := fmt.Sprintf("nats://im:secret@127.0.0.1:%d", ns.port)
	if _, err := Open(Config{Node: "x", URLs: []string{fmt.Sprintf("nats://im:wrong@127.0.0.1:%d", ns.port)}, Logger: quiet()}); err == nil {
		t.Fatal("Open with a wrong password succeeded")
	}
	nodes := make([]*Broker, 3)
	recs := make([]*presRecorder, 3)
	for i := range nodes {
		b, err := Open(Config{Node: fmt.Sprint("e", i+1), URLs: []string{url}, PresenceTTL: testTTL, Logger: testLogger(t, fmt.Sprint("e", i+1))})
		must(t, err)
		t.Cleanup(func() { b.Close() })
		recs[i] = &presRecorder{}
		must(t, b.Start(recs[i]))
		nodes[i] = b
	}
	for _, b := range nodes {
		waitFor(t, b.Node()+" to be ready", func() bool { return b.isReady() && len(b.Nodes()) == 3 })
	}
	e1, e2, e3 := nodes[0], nodes[1], nodes[2]
	if st := e1.Stats(); st.Mode != modeExternal || st.Replicas != 1 {
		t.Fatalf("stats %+v", st)
	}
	for _, b := range nodes {
		must(t, b.Subscribe(lobby))
	}

	// delivery: each other node once, in order
	for i := range 20 {
		opts := broker.PublishOptions{}
		if i%2 == 0 {
			opts.HistorySize = 100
		}
		publish(t, e1, lobby, fmt.Sprint(i), opts)
	}
	for i, r := range recs[1:] {
		waitFor(t, nodes[i+1].Node()+"'s deliveries", func() bool { return len(r.got()) >= 20 })
		want := make([]string, 20)
		for j := range want {
			want[j] = fmt.Sprint(j)
		}
		if got := r.datas(); !slices.Equal(got, want) {
			t.Fatalf("%s got %q", nodes[i+1].Node(), got)
		}
	}
	if len(recs[0].got()) != 0 {
		t.Fatal("e1 got its own publications")
	}

	// contiguous seqs with publishers on every node
	var mu sync.Mutex
	var all []uint64
	var wg sync.WaitGroup
	for _, b := range nodes {
		wg.Go(func() {
			for range 40 {
				p, err := b.Publish(other, []byte("m"), broker.PublishOptions{HistorySize: 1000})
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
	wg.Wait()
	slices.Sort(all)
	if !slices.Equal(all, rng(1, 120)) {
		t.Fatalf("seqs %v", all)
	}
	hist, pos, err := e3.History(other, broker.HistoryQuery{Since: 100})
	must(t, err)
	if pos.Seq != 120 || !slices.Equal(seqs(hist), rng(101, 120)) {
		t.Fatalf("History: %v, %+v", seqs(hist), pos)
	}

	// presence
	if f, err := e1.AddPresence(lobby, "u"); err != nil || !f {
		t.Fatalf("first add: %v, %v", f, err)
	}
	waitFor(t, "e2 and e3 to see u", func() bool { return recs[1].hasChange("+u@lobby") && recs[2].hasChange("+u@lobby") })
	if f, err := e2.AddPresence(lobby, "u"); err != nil || f {
		t.Fatalf("second add: %v, %v", f, err)
	}
	if l, err := e1.RemovePresence(lobby, "u"); err != nil || l {
		t.Fatalf("first remove: %v, %v", l, err)
	}
	if l, err := e2.RemovePresence(lobby, "u"); err != nil || !l {
		t.Fatalf("last remove: %v, %v", l, err)
	}
	waitFor(t, "e1 and e3 to see u leave", func() bool { return recs[0].hasChange("-u@lobby") && recs[2].hasChange("-u@lobby") })

	// a node that dies: its users leave within the TTL
	_, err = e3.AddPresence(lobby, "z")
	must(t, err)
	waitFor(t, "e1 to see z", func() bool { return recs[0].hasChange("+z@lobby") })
	e3.kill()
	killed := time.Now()
	waitFor(t, "e1 to see z leave", func() bool { return recs[0].hasChange("-z@lobby") })
	if took := time.Since(killed); took > testTTL+testTTL/2 {
		t.Fatalf("z left %s after the kill", took)
	}
	waitFor(t, "e1 to drop e3", func() bool { return slices.Equal(e1.Nodes(), []string{"e1", "e2"}) })

	// the server restarts: the nodes reconnect and go on
	ns.stop()
	ns.start()
	waitFor(t, "the nodes to reconnect", func() bool { return e1.Stats().Reconnects > 0 && e2.Stats().Reconnects > 0 })
	var p broker.Publication
	waitFor(t, "a publication after the restart", func() bool {
		p, err = e2.Publish(other, []byte("after"), broker.PublishOptions{HistorySize: 1000})
		return err == nil
	})
	if p.Seq != 121 {
		t.Fatalf("seq after the restart: %d", p.Seq)
	}

	// Close: e2's users leave at once. (Just after the server's restart
	// the presence bucket may not answer yet: the key is then written by
	// a heartbeat.)
	_, _ = e2.AddPresence(lobby, "y")
	waitFor(t, "e1 to see y", func() bool { return recs[0].hasChange("+y@lobby") })
	start := time.Now()
	t.Log("closing e2")
	must(t, e2.Close())
	t.Log("closed e2", time.Since(start))
	waitFor(t, "e1 to see y leave", func() bool { return recs[0].hasChange("-y@lobby") })
	if took := time.Since(start); took > testTTL/2 {
		t.Fatalf("y left %s after Close", took)
	}
}

func testLogger(t testing.TB, name string) *slog.Logger {
	if os.Getenv("IMSCRIPT_TEST_LOG") == "" {
		return quiet()
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("n", name)
}
