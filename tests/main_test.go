// Package tests holds imscript's end-to-end tests: they build the imscript
// binary once, run real scripts (the examples in scripts/ and the helpers in
// testdata/) in both languages, and talk to them with real TCP/UDP clients.
package tests

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/imscript/imscript/internal/testutil"
)

// Generous deadlines: the suite must pass on a slow, busy 2-core VM.
const (
	startTimeout = 20 * time.Second
	ioTimeout    = 15 * time.Second
	waitTimeout  = 15 * time.Second
)

var (
	repoRoot string // the module root
	binPath  string // the imscript binary built by TestMain
)

// langs are the script languages; every test runs once per language with
// the same body.
var langs = []string{"lua", "js"}

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	root, err := filepath.Abs("..")
	if err != nil {
		fmt.Fprintln(os.Stderr, "tests:", err)
		return 1
	}
	repoRoot = root
	dir, err := os.MkdirTemp("", "imscript-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "tests:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	binPath = filepath.Join(dir, "imscript")
	build := exec.Command("go", "build", "-o", binPath, "./cmd/imscript")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "tests: go build ./cmd/imscript: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// eachLang runs body as a parallel subtest per language.
func eachLang(t *testing.T, body func(t *testing.T, lang string)) {
	t.Helper()
	for _, lang := range langs {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			body(t, lang)
		})
	}
}

// example is the path of an example program in scripts/<lang>/.
func example(lang, name string) string {
	return filepath.Join(repoRoot, "scripts", lang, name+"."+lang)
}

// testScript is the path of a helper script in testdata/<lang>/.
func testScript(lang, name string) string {
	return filepath.Join(repoRoot, "tests", "testdata", lang, name+"."+lang)
}

// copyScript copies a helper script into a fresh temp folder (for tests that
// rewrite it) and returns the copy's path.
func copyScript(t *testing.T, lang, name string) string {
	t.Helper()
	src, err := os.ReadFile(testScript(lang, name))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name+"."+lang)
	if err := os.WriteFile(path, src, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// markerLine is the 1-based line of the first line of file containing marker
// (scripts mark the lines whose numbers the tests expect in error messages).
func markerLine(t *testing.T, file, marker string) int {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(src), "\n") {
		if strings.Contains(l, marker) {
			return i + 1
		}
	}
	t.Fatalf("%s: no line contains %q", file, marker)
	return 0
}

// syncBuffer collects a child's output; tests poll it while the child runs.
type syncBuffer = testutil.SyncBuffer

// ---- free ports ----

var (
	portMu    sync.Mutex
	portsUsed = map[int]bool{}
)

// freePort returns a port that is free for both TCP and UDP on all
// interfaces. It picks below the kernel's ephemeral range, so the clients'
// own ephemeral ports cannot take it between the check and the server's
// bind, and it never hands out the same port twice in one run.
func freePort(t *testing.T) int {
	t.Helper()
	portMu.Lock()
	defer portMu.Unlock()
	for range 1000 {
		p := 20000 + rand.IntN(12000)
		if portsUsed[p] {
			continue
		}
		l, err := net.Listen("tcp", ":"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		u, err := net.ListenPacket("udp", ":"+strconv.Itoa(p))
		l.Close()
		if err != nil {
			continue
		}
		u.Close()
		portsUsed[p] = true
		return p
	}
	t.Fatal("no free port found")
	return 0
}

// ---- server processes ----

// runOpts says how to start `imscript run`.
type runOpts struct {
	env     map[string]string // added to the environment (PORT is set by start)
	watch   bool              // watch the script for changes (default: --no-watch)
	workers int               // --workers (default 2)
	args    []string          // more options before the script (--data DIR)
	prefix  []string          // a command that runs it (ip netns exec NS)
}

// server is one running `imscript run` process.
type server struct {
	t      *testing.T
	script string
	cmd    *exec.Cmd
	port   int
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // Wait's result, valid after done
}

// start runs script with `imscript run --workers 2` on a free port and waits
// until it is listening. The process is killed when the test ends; its
// output is logged if the test failed.
func start(t *testing.T, script string, o runOpts) *server {
	t.Helper()
	for attempt := 1; ; attempt++ {
		s, retry := tryStart(t, script, o)
		if s != nil {
			return s
		}
		if !retry || attempt == 3 {
			t.FailNow()
		}
	}
}

func tryStart(t *testing.T, script string, o runOpts) (s *server, retry bool) {
	t.Helper()
	workers := o.workers
	if workers == 0 {
		workers = 2
	}
	args := []string{"run", "--workers", strconv.Itoa(workers)}
	if !o.watch {
		args = append(args, "--no-watch")
	}
	args = append(append(args, o.args...), script)
	s = &server{
		t:      t,
		script: script,
		port:   freePort(t),
		stdout: &syncBuffer{},
		stderr: &syncBuffer{},
		done:   make(chan struct{}),
	}
	cmd := exec.Command(binPath, args...)
	if len(o.prefix) > 0 {
		cmd = exec.Command(o.prefix[0], append(append(o.prefix[1:len(o.prefix):len(o.prefix)], binPath), args...)...)
	}
	cmd.Dir = filepath.Dir(script)
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(s.port))
	for k, v := range o.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout = s.stdout
	cmd.Stderr = s.stderr
	s.cmd = cmd
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", script, err)
	}
	go func() {
		s.err = cmd.Wait()
		close(s.done)
	}()
	started := s // the result s is nil when the start fails; clean up this one
	t.Cleanup(func() {
		started.kill()
		if t.Failed() {
			started.dump()
		}
	})
	deadline := time.Now().Add(startTimeout)
	for {
		if strings.Contains(s.stderr.String(), "imscript started") {
			return s, false
		}
		select {
		case <-s.done:
			if strings.Contains(s.stderr.String(), "address already in use") {
				t.Logf("port %d was taken, retrying", s.port)
				return nil, true
			}
			t.Errorf("%s exited before it was listening: %v", filepath.Base(script), s.err)
			return nil, false
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Errorf("%s did not start within %v", filepath.Base(script), startTimeout)
			return nil, false
		}
	}
}

// addr is the server's TCP/UDP address on loopback.
func (s *server) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

func (s *server) pid() int { return s.cmd.Process.Pid }

func (s *server) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

func (s *server) kill() {
	if !s.exited() {
		_ = s.cmd.Process.Kill()
	}
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
	}
}

func (s *server) signal(sig syscall.Signal) {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("signal %v: %v", sig, err)
	}
}

func (s *server) dump() {
	tail := func(x string) string {
		const max = 16 << 10
		if len(x) > max {
			return "...\n" + x[len(x)-max:]
		}
		return x
	}
	s.t.Logf("---- %s (port %d) stdout ----\n%s", filepath.Base(s.script), s.port, tail(s.stdout.String()))
	s.t.Logf("---- %s (port %d) stderr ----\n%s", filepath.Base(s.script), s.port, tail(s.stderr.String()))
}

// waitFor polls until cond holds, failing the test at the deadline.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitStdout waits until the server's stdout contains sub.
func (s *server) waitStdout(sub string) {
	s.t.Helper()
	waitFor(s.t, waitTimeout, fmt.Sprintf("stdout to contain %q", sub), func() bool {
		return strings.Contains(s.stdout.String(), sub)
	})
}

// waitStderr waits until the server's stderr (its log) contains every sub on
// one line.
func (s *server) waitStderr(subs ...string) string {
	s.t.Helper()
	var found string
	waitFor(s.t, waitTimeout, fmt.Sprintf("a log line with %q", subs), func() bool {
		found = lineWith(s.stderr.String(), subs...)
		return found != ""
	})
	return found
}

// lineWith returns the first line of text containing every sub, or "".
func lineWith(text string, subs ...string) string {
next:
	for _, l := range strings.Split(text, "\n") {
		for _, sub := range subs {
			if !strings.Contains(l, sub) {
				continue next
			}
		}
		return l
	}
	return ""
}

// rssKiB is the process's resident set size (VmRSS) in KiB.
func rssKiB(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			return strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
		}
	}
	return 0, errors.New("no VmRSS in /proc status")
}

// ---- clients ----

// dial opens a TCP connection to the server, closed when the test ends.
func dial(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// write writes b in full, with a deadline.
func write(t *testing.T, c net.Conn, b []byte) {
	t.Helper()
	_ = c.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := c.Write(b); err != nil {
		t.Fatalf("write %d bytes: %v", len(b), err)
	}
}

// readN reads exactly n bytes, with a deadline.
func readN(t *testing.T, c net.Conn, n int) []byte {
	t.Helper()
	b, err := readNErr(c, n)
	if err != nil {
		t.Fatalf("read %d bytes: got %d (%q): %v", n, len(b), abbrev(b), err)
	}
	return b
}

func readNErr(c net.Conn, n int) ([]byte, error) {
	_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
	b := make([]byte, n)
	k, err := io.ReadFull(c, b)
	return b[:k], err
}

// expect reads len(want) bytes and compares them with want exactly.
func expect(t *testing.T, c net.Conn, want []byte) {
	t.Helper()
	got := readN(t, c, len(want))
	if !bytes.Equal(got, want) {
		t.Fatalf("reply differs:\n got %q\nwant %q", abbrev(got), abbrev(want))
	}
}

// roundTrip sends msg and expects exactly want back.
func roundTrip(t *testing.T, c net.Conn, msg, want []byte) {
	t.Helper()
	write(t, c, msg)
	expect(t, c, want)
}

// roundTripLarge is roundTrip for a message larger than the socket
// buffers: it writes and reads at once, so that neither side stalls on
// full buffers.
func roundTripLarge(t *testing.T, c net.Conn, msg, want []byte) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		_ = c.SetWriteDeadline(time.Now().Add(ioTimeout))
		_, err := c.Write(msg)
		errc <- err
	}()
	expect(t, c, want)
	if err := <-errc; err != nil {
		t.Fatalf("write %d bytes: %v", len(msg), err)
	}
}

// readLine reads up to and including the next '\n', byte by byte (the tests
// that use it exchange short lines).
func readLine(c net.Conn, timeout time.Duration) (string, error) {
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	var line []byte
	var one [1]byte
	for {
		if _, err := c.Read(one[:]); err != nil {
			return string(line), err
		}
		line = append(line, one[0])
		if one[0] == '\n' {
			return string(line), nil
		}
	}
}

// expectClosed waits until the server closes c: a read returns EOF (or a
// reset) without any data.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
	var buf [256]byte
	n, err := c.Read(buf[:])
	if n > 0 {
		t.Fatalf("want the connection closed with no data, read %q", buf[:n])
	}
	if err == nil || isTimeout(err) {
		t.Fatalf("want the connection closed by the server, read: %v", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// abbrev shortens big payloads in failure messages.
func abbrev(b []byte) []byte {
	if len(b) <= 200 {
		return b
	}
	out := append([]byte(nil), b[:100]...)
	out = append(out, fmt.Sprintf("...(%d bytes)...", len(b)-200)...)
	return append(out, b[len(b)-100:]...)
}

// allBytes is every byte value once, 0..255.
func allBytes() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// invalidUTF8 holds byte sequences no UTF-8 decoder accepts.
var invalidUTF8 = []byte("\xff\xfe\xfd bad \xc3\x28 \xa0\xa1 \xe2\x28\xa1 \xf0\x28\x8c\xbc \xed\xa0\x80 \xc0\xaf \x00 end\x80")

// randomBytes returns n pseudo-random bytes (fixed seed: failures repeat).
func randomBytes(n int) []byte {
	r := rand.New(rand.NewPCG(uint64(n), 42))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}
