package host_test

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imscript/imscript/internal/testutil"

	"github.com/imscript/imscript"
	"github.com/imscript/imscript/host"
)

// waitLimit bounds every wait; tests poll for what they expect and fail
// only when it has not happened by then.
const waitLimit = 10 * time.Second

type syncBuffer = testutil.SyncBuffer

// running is a host serving a script in this process. It takes a
// testing.TB so that benchmarks start their hosts the same way as tests.
type running struct {
	t       testing.TB
	h       *host.Host
	dir     string
	script  string
	stdout  syncBuffer
	logs    syncBuffer
	started *testutil.Running // nil until run
}

// newHost writes src as the script (name's extension picks the language)
// and creates its host, not yet running.
func newHost(t testing.TB, name, src string, cfg host.Config) *running {
	t.Helper()
	r := &running{t: t, dir: t.TempDir()}
	r.script = filepath.Join(r.dir, name)
	r.write(name, src)
	cfg.Script = r.script
	if cfg.Workers == 0 {
		cfg.Workers = 2
	}
	if cfg.Env == nil {
		cfg.Env = map[string]string{}
	}
	cfg.Logger = slog.New(slog.NewTextHandler(&r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.Stdout = &r.stdout
	cfg.Stderr = &r.stdout
	h, err := imscript.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.h = h
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("\n--- stdout:\n%s--- log:\n%s", r.stdout.String(), r.logs.String())
		}
	})
	return r
}

// run starts the host and waits until it has started.
func (r *running) run() *running {
	r.t.Helper()
	r.started = testutil.Start(r.t, r.h, waitLimit, nil)
	return r
}

// startHost is newHost + run.
func startHost(t testing.TB, name, src string, cfg host.Config) *running {
	t.Helper()
	return newHost(t, name, src, cfg).run()
}

// stop cancels Run and returns its result.
func (r *running) stop() error {
	r.t.Helper()
	if r.started == nil {
		return nil
	}
	return r.started.Stop(waitLimit)
}

// wait waits for Run to return by itself (srv:shutdown(), h.Shutdown()).
func (r *running) wait() error {
	r.t.Helper()
	return r.started.Wait(waitLimit)
}

// write writes a file beside the script.
func (r *running) write(name, src string) {
	r.t.Helper()
	p := filepath.Join(r.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

// port is the bound port of the i-th declared server.
func (r *running) port(i int) int {
	r.t.Helper()
	srvs := r.h.Servers()
	if i >= len(srvs) {
		r.t.Fatalf("only %d servers", len(srvs))
	}
	return srvs[i].Port()
}

// eventually polls cond until it holds or waitLimit passes.
func (r *running) eventually(what string, cond func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitStdout waits until the script has printed s.
func (r *running) waitStdout(s string) {
	r.t.Helper()
	r.eventually("stdout to hold "+strconv.Quote(s), func() bool { return strings.Contains(r.stdout.String(), s) })
}

// waitLog waits until the host has logged s.
func (r *running) waitLog(s string) {
	r.t.Helper()
	r.eventually("the log to hold "+strconv.Quote(s), func() bool { return strings.Contains(r.logs.String(), s) })
}

// client is a TCP connection to a test host, with a deadline on every use
// (waitLimit from the dial, unless the caller sets its own).
type client struct {
	t testing.TB
	net.Conn
	rd *bufio.Reader
}

func dial(t testing.TB, port int) *client {
	t.Helper()
	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(waitLimit))
	return &client{t: t, Conn: c, rd: bufio.NewReader(c)}
}

func (c *client) send(s string) {
	c.t.Helper()
	if _, err := c.Write([]byte(s)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// line reads one reply line, without its "\n".
func (c *client) line() string {
	c.t.Helper()
	s, err := c.rd.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read a line: %v (got %q)", err, s)
	}
	return strings.TrimSuffix(s, "\n")
}

// ask sends one line and reads one line.
func (c *client) ask(s string) string {
	c.t.Helper()
	c.send(s + "\n")
	return c.line()
}

// closed reads (and drops) whatever comes until the server closes the
// connection; it fails if the connection is still open at the deadline.
func (c *client) closed() {
	c.t.Helper()
	_, err := io.Copy(io.Discard, c.rd)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatal("the server did not close the connection")
	}
}

// lineOf is the 1-based line of src's first line holding marker.
func lineOf(t *testing.T, src, marker string) int {
	t.Helper()
	for i, l := range strings.Split(src, "\n") {
		if strings.Contains(l, marker) {
			return i + 1
		}
	}
	t.Fatalf("%q is not in the script", marker)
	return 0
}
