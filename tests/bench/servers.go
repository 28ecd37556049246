package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// serverKind is one row of the table: a way to start an echo server.
type serverKind struct {
	key   string // as in -rows
	label string
	cmd   func(b *builds, port int, profPrefix string) *exec.Cmd
}

// builds holds the binaries the bench compiled and where the repo is.
type builds struct {
	root     string // repository root
	dir      string // temp dir with the binaries
	imscript string
	gnetecho string
	imsprof  string // only with -profile
	workers  int
	env      []string // extra KEY=VALUE for every server (-server-env)
}

var kinds = []serverKind{
	{key: "gnet", label: "bare gnet v2 echo (ceiling)", cmd: func(b *builds, port int, prof string) *exec.Cmd {
		if prof != "" {
			return exec.Command(b.gnetecho, "-cpuprofile", prof)
		}
		return exec.Command(b.gnetecho)
	}},
	{key: "lua", label: "imscript Lua echo", cmd: func(b *builds, port int, prof string) *exec.Cmd {
		return b.imscriptCmd("echo.lua", prof)
	}},
	{key: "js", label: "imscript JS echo", cmd: func(b *builds, port int, prof string) *exec.Cmd {
		return b.imscriptCmd("echo.js", prof)
	}},
	{key: "node", label: "Node.js net echo", cmd: func(b *builds, port int, _ string) *exec.Cmd {
		return exec.Command("node", filepath.Join(b.root, "tests", "bench", "node_echo.js"))
	}},
}

func kindByKey(k string) (serverKind, bool) {
	for _, s := range kinds {
		if s.key == k {
			return s, true
		}
	}
	return serverKind{}, false
}

func (b *builds) imscriptCmd(script string, prof string) *exec.Cmd {
	path := filepath.Join(b.root, "tests", "bench", script)
	w := strconv.Itoa(b.workers)
	if prof != "" {
		return exec.Command(b.imsprof, "-workers", w, "-cpuprofile", prof, path)
	}
	return exec.Command(b.imscript, "run", "--workers", w, "--no-watch", "--log-level", "warn", path)
}

// commandLine shows how a row's server is started, for the report.
func (k serverKind) commandLine(workers int) string {
	switch k.key {
	case "gnet":
		return "go build -o $T/gnetecho ./tests/bench/gnetecho && PORT=$P $T/gnetecho"
	case "lua", "js":
		return fmt.Sprintf("go build -o $T/imscript ./cmd/imscript && PORT=$P $T/imscript run --workers %d --no-watch --log-level warn tests/bench/echo.%s", workers, k.key)
	case "node":
		return "PORT=$P node tests/bench/node_echo.js"
	}
	return ""
}

// build compiles the server binaries into a temp dir.
func build(root string, workers int, profile bool) (*builds, error) {
	dir, err := os.MkdirTemp("", "imscript-bench-")
	if err != nil {
		return nil, err
	}
	b := &builds{root: root, dir: dir, workers: workers,
		imscript: filepath.Join(dir, "imscript"),
		gnetecho: filepath.Join(dir, "gnetecho"),
	}
	pkgs := [][2]string{{b.imscript, "./cmd/imscript"}, {b.gnetecho, "./tests/bench/gnetecho"}}
	if profile {
		b.imsprof = filepath.Join(dir, "imsprof")
		pkgs = append(pkgs, [2]string{b.imsprof, "./tests/bench/imsprof"})
	}
	for _, p := range pkgs {
		cmd := exec.Command("go", "build", "-o", p[0], p[1])
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build %s: %v\n%s", p[1], err, out)
		}
	}
	return b, nil
}

// server is one running server process.
type server struct {
	kind   serverKind
	cmd    *exec.Cmd
	pid    int
	addr   netip.AddrPort
	log    *tailBuffer
	exited chan struct{}
	err    error
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startServer starts a server of kind k on a free port and waits until it
// accepts connections.
func startServer(k serverKind, b *builds, profPrefix string, env ...string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := k.cmd(b, port, profPrefix)
	cmd.Dir = b.root
	cmd.Env = append(append(append(os.Environ(), b.env...), env...), "PORT="+strconv.Itoa(port))
	lb := &tailBuffer{max: 8 << 10}
	cmd.Stdout, cmd.Stderr = lb, lb
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", k.key, err)
	}
	s := &server{kind: k, cmd: cmd, pid: cmd.Process.Pid, log: lb, exited: make(chan struct{}),
		addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(port))}
	go func() {
		s.err = cmd.Wait()
		close(s.exited)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.addr.String(), time.Second)
		if err == nil {
			_ = c.Close()
			return s, nil
		}
		select {
		case <-s.exited:
			return nil, fmt.Errorf("%s exited before listening (%v):\n%s", k.key, s.err, lb.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("%s did not listen on %s within 30s:\n%s", k.key, s.addr, lb.String())
		}
	}
}

// alive reports whether the process still runs.
func (s *server) alive() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// stop ends the server: SIGTERM, then SIGKILL after 10 s.
func (s *server) stop() {
	if !s.alive() {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

func (s *server) signal(sig os.Signal) {
	if s.alive() {
		_ = s.cmd.Process.Signal(sig)
	}
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	t.mu.Unlock()
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

var errServerDied = errors.New("server exited during the run")
