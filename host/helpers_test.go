package host_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imscript/imscript"
	"github.com/imscript/imscript/host"
	"github.com/imscript/imscript/script/scripttest"
)

// waitLimit bounds every wait; tests poll for what they expect and fail
// only when it has not happened by then.
const waitLimit = scripttest.WaitLimit

// running is a host serving a script in this process (scripttest), with
// the names these tests use. It takes a testing.TB so that benchmarks start
// their hosts the same way as tests.
type running struct {
	*scripttest.Host
	t      testing.TB
	h      *host.Host
	dir    string
	script string
	stdout output // what the script printed, stderr included
	logs   output // what the host logged
}

// output reads one of a running host's buffers.
type output func() string

func (o output) String() string { return o() }

// newHost writes src as the script (name's extension picks the language)
// and creates its host, not yet running: two workers and an empty
// environment unless cfg says otherwise; cfg.Watch and cfg.GCMinHeap are
// taken too.
func newHost(t testing.TB, name, src string, cfg host.Config) *running {
	t.Helper()
	workers := cfg.Workers
	if workers == 0 {
		workers = 2
	}
	sh := scripttest.New(t, scripttest.Options{
		Name:    name,
		Src:     src,
		Workers: workers,
		Env:     cfg.Env,
		Config: func(c *imscript.Config) {
			c.Watch = cfg.Watch
			c.GCMinHeap = cfg.GCMinHeap
			c.Stderr = c.Stdout
		},
	})
	return &running{Host: sh, t: t, h: sh.H, dir: sh.Dir, script: sh.Script, stdout: sh.Stdout, logs: sh.Logs}
}

// run starts the host and waits until it has started.
func (r *running) run() *running {
	r.t.Helper()
	r.Host.Run()
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
	return r.Host.Stop()
}

// wait waits for Run to return by itself (srv:shutdown(), h.Shutdown()).
func (r *running) wait() error {
	r.t.Helper()
	return r.Host.Wait()
}

// write writes a file beside the script.
func (r *running) write(name, src string) {
	r.t.Helper()
	r.Host.Write(name, src)
}

// port is the bound port of the i-th declared server.
func (r *running) port(i int) int {
	r.t.Helper()
	return r.Host.Port(i)
}

// eventually polls cond until it holds or waitLimit passes.
func (r *running) eventually(what string, cond func() bool) {
	r.t.Helper()
	r.Host.Eventually(what, cond)
}

// waitStdout waits until the script has printed s.
func (r *running) waitStdout(s string) {
	r.t.Helper()
	r.Host.WaitStdout(s)
}

// waitLog waits until the host has logged s.
func (r *running) waitLog(s string) {
	r.t.Helper()
	r.Host.WaitLog(s)
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
