package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// serverKind is one row of a table: a way to start a server.
type serverKind struct {
	key   string // as in -rows
	label string
	cmd   func(b *builds, port int, profPrefix string) *exec.Cmd
	// line shows how the server is started, for the report.
	line func(workers int) string
	// nodeWS: the server needs the ws package (builds.nodeModules).
	nodeWS bool
	// script is the imscript rows' script in tests/bench/ (empty for the
	// other servers); base is the key of the row a baseline row compares
	// with ("lua" for "lua-base"), empty for the others.
	script, base string
}

// builds holds the binaries the bench compiled and where the repo is.
type builds struct {
	root        string // repository root
	dir         string // temp dir with the binaries
	imscript    string
	gnetecho    string
	goref       string
	imsprof     string // only with -profile
	baseline    string // -baseline: an imscript binary built from another commit
	workers     int
	env         []string // extra KEY=VALUE for every server (-server-env)
	nodeModules string   // folder holding node_modules/ws, when a row needs it
	wsVersion   string   // the ws package's version
}

// The servers of each section. Keys: gnet and go are the Go ceilings or
// references, lua and js the imscript scripts, node the Node.js servers.
var tcpKinds = []serverKind{
	{key: "gnet", label: "bare gnet v2 echo (ceiling)", cmd: func(b *builds, port int, prof string) *exec.Cmd {
		if prof != "" {
			return exec.Command(b.gnetecho, "-cpuprofile", prof)
		}
		return exec.Command(b.gnetecho)
	}, line: func(int) string { return "go build -o $T/gnetecho ./tests/bench/gnetecho && PORT=$P $T/gnetecho" }},
	imscriptKind("lua", "imscript Lua echo", "echo.lua"),
	imscriptKind("js", "imscript JS echo", "echo.js"),
	nodeKind("node", "Node.js net echo", "node_echo.js", ""),
}

var httpKinds = []serverKind{
	{key: "gnet", label: "bare gnet v2, fixed answer (event-loop ceiling)", cmd: func(b *builds, port int, prof string) *exec.Cmd {
		if prof != "" {
			return exec.Command(b.gnetecho, "-http", "-cpuprofile", prof)
		}
		return exec.Command(b.gnetecho, "-http")
	}, line: func(int) string { return "go build -o $T/gnetecho ./tests/bench/gnetecho && PORT=$P $T/gnetecho -http" }},
	gorefKind("go", "Go net/http", "http"),
	imscriptKind("lua", "imscript Lua", "http_hello.lua"),
	imscriptKind("js", "imscript JS", "http_hello.js"),
	nodeKind("node", "Node.js http", "node_http.js", ""),
}

var wsKinds = []serverKind{
	gorefKind("go", "Go gorilla/websocket (reference)", "ws"),
	imscriptKind("lua", "imscript Lua", "ws_echo.lua"),
	imscriptKind("js", "imscript JS", "ws_echo.js"),
	nodeKind("node", "Node.js ws", "node_ws.js", "echo"),
}

var roomKinds = []serverKind{
	gorefKind("go", "Go gorilla/websocket (reference)", "room"),
	imscriptKind("lua", "imscript Lua (publish)", "ws_room.lua"),
	imscriptKind("js", "imscript JS (publish)", "ws_room.js"),
	nodeKind("node", "Node.js ws (broadcast loop)", "node_ws.js", "room"),
}

func imscriptKind(key, label, script string) serverKind {
	return serverKind{key: key, label: label, script: script,
		cmd: func(b *builds, port int, prof string) *exec.Cmd { return b.imscriptCmd(script, prof) },
		line: func(workers int) string {
			return fmt.Sprintf("go build -o $T/imscript ./cmd/imscript && PORT=$P $T/imscript %s", strings.Join(imscriptArgs(workers, "tests/bench/"+script), " "))
		}}
}

// baseSuffix makes a baseline row's key from its imscript row's: lua-base.
const baseSuffix = "-base"

// baselineKind is imscript row k run by the -baseline binary: the same
// arguments, script (from this tree), workers and environment.
func baselineKind(k serverKind, binary string) serverKind {
	name := filepath.Base(binary)
	label := k.label + " (baseline " + name + ")"
	if strings.HasSuffix(k.label, ")") {
		label = strings.TrimSuffix(k.label, ")") + "; baseline " + name + ")"
	}
	script := k.script
	return serverKind{key: k.key + baseSuffix, label: label, script: script, base: k.key,
		cmd: func(b *builds, port int, _ string) *exec.Cmd {
			return exec.Command(b.baseline, imscriptArgs(b.workers, filepath.Join(b.root, "tests", "bench", script))...)
		},
		line: func(workers int) string {
			return fmt.Sprintf("PORT=$P %s %s", binary, strings.Join(imscriptArgs(workers, "tests/bench/"+script), " "))
		}}
}

func gorefKind(key, label, mode string) serverKind {
	return serverKind{key: key, label: label,
		cmd: func(b *builds, port int, prof string) *exec.Cmd {
			if prof != "" {
				return exec.Command(b.goref, "-mode", mode, "-cpuprofile", prof)
			}
			return exec.Command(b.goref, "-mode", mode)
		},
		line: func(int) string {
			return "go build -o $T/goref ./tests/bench/goref && PORT=$P $T/goref -mode " + mode
		}}
}

// nodeKind runs a Node.js script; mode set means it is node_ws.js (MODE=mode,
// with the ws package on NODE_PATH).
func nodeKind(key, label, script, mode string) serverKind {
	return serverKind{key: key, label: label, nodeWS: mode != "",
		cmd: func(b *builds, port int, _ string) *exec.Cmd {
			cmd := exec.Command("node", filepath.Join(b.root, "tests", "bench", script))
			if mode != "" {
				cmd.Env = []string{"MODE=" + mode, "NODE_PATH=" + filepath.Join(b.nodeModules, "node_modules")}
			}
			return cmd
		},
		line: func(int) string {
			if mode != "" {
				return "npm install --no-save --prefix $W ws@8 && NODE_PATH=$W/node_modules MODE=" + mode + " PORT=$P node tests/bench/" + script
			}
			return "PORT=$P node tests/bench/" + script
		}}
}

func findKind(list []serverKind, key string) (serverKind, bool) {
	for _, s := range list {
		if s.key == key {
			return s, true
		}
	}
	return serverKind{}, false
}

func (b *builds) imscriptCmd(script string, prof string) *exec.Cmd {
	path := filepath.Join(b.root, "tests", "bench", script)
	if prof != "" {
		return exec.Command(b.imsprof, "-workers", strconv.Itoa(b.workers), "-cpuprofile", prof, path)
	}
	return exec.Command(b.imscript, imscriptArgs(b.workers, path)...)
}

// imscriptArgs are the arguments of every imscript row, new or baseline.
func imscriptArgs(workers int, script string) []string {
	return []string{"run", "--workers", strconv.Itoa(workers), "--no-watch", "--log-level", "warn", script}
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
		goref:    filepath.Join(dir, "goref"),
	}
	pkgs := [][2]string{{b.imscript, "./cmd/imscript"}, {b.gnetecho, "./tests/bench/gnetecho"}, {b.goref, "./tests/bench/goref"}}
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
	own := cmd.Env
	cmd.Env = append(append(append(append(os.Environ(), own...), b.env...), env...), "PORT="+strconv.Itoa(port))
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
			// Another program may have taken the port between freePort and
			// the server's listen: then the server exits with an error.
			select {
			case <-s.exited:
				return nil, fmt.Errorf("%s exited after start (%v), port %d taken by another program?\n%s", k.key, s.err, port, lb.String())
			case <-time.After(100 * time.Millisecond):
			}
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

// installWS makes Node's ws package available in dir (dir/node_modules/ws):
// it installs ws@8 there with npm unless it is already there, and returns
// the installed version.
func installWS(dir string) (string, error) {
	pkg := filepath.Join(dir, "node_modules", "ws", "package.json")
	if _, err := os.Stat(pkg); err != nil {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
		cmd := exec.Command("npm", "install", "--no-save", "--no-audit", "--no-fund", "--prefix", dir, "ws@8")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("npm install ws@8: %v\n%s", err, out)
		}
	}
	b, err := os.ReadFile(pkg)
	if err != nil {
		return "", err
	}
	var meta struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		return "", fmt.Errorf("%s: %w", pkg, err)
	}
	return meta.Version, nil
}
