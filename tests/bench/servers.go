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
	"slices"
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
	// npm lists the Node packages the server needs (in builds.nodeDir).
	npm []npmPkg
	// script is the imscript rows' script in tests/bench/ (empty for the
	// other servers); base is the key of the row a baseline row compares
	// with ("lua" for "lua-base"), empty for the others.
	script, base string
	// noBase, for an imscript row, names the module its script needs that
	// an older binary may lack: -baseline adds no baseline row for it.
	noBase string
	// rowOf is the -rows key that also selects this row (the cluster
	// section's lua-single and lua-cluster are selected by lua).
	rowOf string
	// cluster says how a cluster section row runs (cmd is nil there).
	cluster *clusterKind
	// refMetrics: a Go reference server (gnetecho, goref) that serves its
	// allocation count when started with BENCH_METRICS (allocs.go).
	refMetrics bool
	// needs, when set, says why the server cannot run here (a program
	// that is not installed), or nil.
	needs func(b *builds) error
}

// npmPkg is a Node package a server needs: npm installs spec into
// builds.nodeDir/name (a folder per package, so that installing one never
// prunes another).
type npmPkg struct {
	name, spec string
	// slow says how long the install may take, for the log.
	slow string
}

var (
	npmWS = npmPkg{name: "ws", spec: "ws@8"}
	// better-sqlite3 13 needs Node 22 (and crashes on Node 20); 12 is the
	// last for Node 20. Without a prebuilt binary for the machine, npm
	// compiles its native addon (SQLite included) with node-gyp.
	npmBetterSQLite = npmPkg{name: "better-sqlite3", spec: "better-sqlite3@12", slow: " (compiles its native addon when no prebuilt one can be fetched: about 2 minutes)"}
	// ioredis 6 is the latest and runs on Node 20 (engines: node >= 20).
	npmIORedis = npmPkg{name: "ioredis", spec: "ioredis@6"}
)

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
	nodeDir     string   // folder holding a folder per Node package (npmPkg), when a row needs one
	npmVersions map[string]string
	npmErrs     map[string]error // packages that did not install
	// dataEnv is the running data section's environment for every server
	// (BENCH_SQLITE or BENCH_REDIS, BENCH_POOL); backend the pid of the
	// process the servers talk to (redis-server), or 0.
	dataEnv []string
	backend int
	// the cluster section's Centrifugo row: its binaries and their
	// versions (from their build info), or why there are none
	centrifugo, natsServer   string
	centVersion, natsVersion string
	centErr                  error
	// the http section's nginx row: nginx and its modules, or why not
	nginx nginxSetup
}

// The servers of each section. Keys: gnet and go are the Go ceilings or
// references, lua and js the imscript scripts, node the Node.js servers.
var tcpKinds = []serverKind{
	{key: "gnet", label: "bare gnet v2 echo (ceiling)", cmd: func(b *builds, port int, prof string) *exec.Cmd {
		if prof != "" {
			return exec.Command(b.gnetecho, "-cpuprofile", prof)
		}
		return exec.Command(b.gnetecho)
	}, refMetrics: true, line: func(int) string { return "go build -o $T/gnetecho ./tests/bench/gnetecho && PORT=$P $T/gnetecho" }},
	imscriptKind("lua", "imscript Lua echo", "echo.lua"),
	imscriptKind("js", "imscript JS echo", "echo.js"),
	nodeKind("node", "Node.js net echo", "node_echo.js", ""),
}

// tcpEchoKinds are the TCP echo section's rows: tcpKinds, and the imscript
// rows again with --metrics (Prometheus metrics on, nobody scraping):
// what metrics cost on the hottest path.
var tcpEchoKinds = append(append([]serverKind(nil), tcpKinds...),
	metricsKind("lua", "imscript Lua echo, --metrics on", "echo.lua"),
	metricsKind("js", "imscript JS echo, --metrics on", "echo.js"))

// metricsKind is row's script run with --metrics on a free port; it is
// selected with row (-rows lua also runs lua-metrics). It runs without
// the profiler (imsprof takes no host flags).
func metricsKind(row, label, script string) serverKind {
	return serverKind{key: row + "-metrics", rowOf: row, label: label, script: script, noBase: "--metrics",
		cmd: func(b *builds, port int, _ string) *exec.Cmd {
			mport, err := freePort()
			if err != nil {
				mport = port + 1
			}
			args := imscriptArgs(b.workers, filepath.Join(b.root, "tests", "bench", script))
			args = append([]string{args[0], "--metrics", "127.0.0.1:" + strconv.Itoa(mport)}, args[1:]...)
			return exec.Command(b.imscript, args...)
		},
		line: func(workers int) string {
			args := imscriptArgs(workers, "tests/bench/"+script)
			return fmt.Sprintf("go build -o $T/imscript ./cmd/imscript && PORT=$P $T/imscript %s --metrics 127.0.0.1:$M %s", args[0], strings.Join(args[1:], " "))
		}}
}

var httpKinds = []serverKind{
	{key: "gnet", label: "bare gnet v2, fixed answer (event-loop ceiling)", cmd: func(b *builds, port int, prof string) *exec.Cmd {
		if prof != "" {
			return exec.Command(b.gnetecho, "-http", "-cpuprofile", prof)
		}
		return exec.Command(b.gnetecho, "-http")
	}, refMetrics: true, line: func(int) string { return "go build -o $T/gnetecho ./tests/bench/gnetecho && PORT=$P $T/gnetecho -http" }},
	gorefKind("go", "Go net/http", "http"),
	imscriptKind("lua", "imscript Lua", "http_hello.lua"),
	imscriptKind("js", "imscript JS", "http_hello.js"),
	nodeKind("node", "Node.js http", "node_http.js", ""),
	nginxKind,
}

// The data sections' servers: every one reads the same data with the same
// pool size (-pool; better-sqlite3 and ioredis have one connection).
var sqliteKinds = []serverKind{
	gorefKind("go", "Go net/http + database/sql + modernc.org/sqlite", "sqlite"),
	newModuleKind(imscriptKind("lua", "imscript Lua (imscript.sql)", "http_sqlite.lua"), "imscript.sql"),
	newModuleKind(imscriptKind("js", "imscript JS (imscript.sql)", "http_sqlite.js"), "imscript.sql"),
	nodeKind("node", "Node.js http + better-sqlite3", "node_sqlite.js", "", npmBetterSQLite),
}

var redisKinds = []serverKind{
	gorefKind("go", "Go net/http + go-redis v9", "redis"),
	newModuleKind(imscriptKind("lua", "imscript Lua (imscript.redis)", "http_redis.lua"), "imscript.redis"),
	newModuleKind(imscriptKind("js", "imscript JS (imscript.redis)", "http_redis.js"), "imscript.redis"),
	nodeKind("node", "Node.js http + ioredis", "node_redis.js", "", npmIORedis),
}

// newModuleKind marks an imscript row whose script uses a module an older
// binary may not have: -baseline adds a baseline row for it only when the
// baseline binary has the module (the bench asks it: options.baseCan).
func newModuleKind(k serverKind, module string) serverKind {
	k.noBase = module
	return k
}

var wsKinds = []serverKind{
	gorefKind("go", "Go gorilla/websocket (reference)", "ws"),
	imscriptKind("lua", "imscript Lua", "ws_echo.lua"),
	imscriptKind("js", "imscript JS", "ws_echo.js"),
	nodeKind("node", "Node.js ws", "node_ws.js", "echo", npmWS),
}

var roomKinds = []serverKind{
	gorefKind("go", "Go gorilla/websocket (reference)", "room"),
	imscriptKind("lua", "imscript Lua (publish)", "ws_room.lua"),
	imscriptKind("js", "imscript JS (publish)", "ws_room.js"),
	historyKind("lua-hmem", "imscript Lua (publish, history in memory)", "ws_room.lua", false),
	historyKind("lua-hdisk", "imscript Lua (publish, history on disk)", "ws_room.lua", true),
	historyKind("js-hmem", "imscript JS (publish, history in memory)", "ws_room.js", false),
	historyKind("js-hdisk", "imscript JS (publish, history on disk)", "ws_room.js", true),
	nodeKind("node", "Node.js ws (broadcast loop)", "node_ws.js", "room", npmWS),
}

// wsMemKinds are the WebSocket echo servers and the room server with
// history in memory, each connection a member of its room.
var wsMemKinds = append(append([]serverKind(nil), wsKinds...),
	imscriptKind("lua-room", "imscript Lua (a room without history)", "ws_room.lua"),
	historyKind("lua-hmem", "imscript Lua (a room with history in memory)", "ws_room.lua", false),
	historyKind("js-hmem", "imscript JS (a room with history in memory)", "ws_room.js", false))

// roomHistory is how many messages the history rows keep.
const roomHistory = "100"

// historyKind is imscript row script with the room's history on: in
// memory, or on disk (--data, a fresh folder per server process).
func historyKind(key, label, script string, disk bool) serverKind {
	return serverKind{key: key, label: label, script: script, noBase: "history_size",
		cmd: func(b *builds, port int, prof string) *exec.Cmd {
			cmd := b.imscriptCmd(script, prof)
			cmd.Env = append(cmd.Env, "HISTORY="+roomHistory)
			if disk && prof == "" {
				dir := filepath.Join(b.dir, "data-"+strconv.Itoa(port))
				_ = os.RemoveAll(dir)
				cmd.Args = append([]string{cmd.Args[0], cmd.Args[1], "--data", dir}, cmd.Args[2:]...)
			}
			return cmd
		},
		line: func(workers int) string {
			data := ""
			if disk {
				data = "--data $T/data-$P "
			}
			args := imscriptArgs(workers, "tests/bench/"+script)
			return fmt.Sprintf("go build -o $T/imscript ./cmd/imscript && PORT=$P HISTORY=%s $T/imscript %s %s%s", roomHistory, args[0], data, strings.Join(args[1:], " "))
		}}
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
	return serverKind{key: key, label: label, refMetrics: true,
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

// nodeKind runs a Node.js script (MODE=mode when mode is set: node_ws.js),
// with the packages pkgs on NODE_PATH.
func nodeKind(key, label, script, mode string, pkgs ...npmPkg) serverKind {
	return serverKind{key: key, label: label, npm: pkgs,
		cmd: func(b *builds, port int, _ string) *exec.Cmd {
			cmd := exec.Command("node", filepath.Join(b.root, "tests", "bench", script))
			if mode != "" {
				cmd.Env = append(cmd.Env, "MODE="+mode)
			}
			if len(pkgs) > 0 {
				var dirs []string
				for _, p := range pkgs {
					dirs = append(dirs, filepath.Join(b.nodeDir, p.name, "node_modules"))
				}
				cmd.Env = append(cmd.Env, "NODE_PATH="+strings.Join(dirs, string(os.PathListSeparator)))
			}
			return cmd
		},
		line: func(int) string {
			var install, paths []string
			for _, p := range pkgs {
				install = append(install, fmt.Sprintf("npm install --no-save --prefix $W/%s %s && ", p.name, p.spec))
				paths = append(paths, "$W/"+p.name+"/node_modules")
			}
			env := ""
			if len(paths) > 0 {
				env = "NODE_PATH=" + strings.Join(paths, ":") + " "
			}
			if mode != "" {
				env += "MODE=" + mode + " "
			}
			return strings.Join(install, "") + env + "PORT=$P node tests/bench/" + script
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
	kind serverKind
	cmd  *exec.Cmd
	pid  int
	// backend is the pid of the process the server talks to (the redis
	// section's redis-server), whose CPU the windows count apart; 0: none.
	backend int
	addr    netip.AddrPort
	metrics string // its /metrics URL, when it serves one (allocs.go)
	log     *tailBuffer
	exited  chan struct{}
	err     error
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
	for _, p := range k.npm {
		if err := b.npmErrs[p.name]; err != nil {
			return nil, fmt.Errorf("%s needs Node's %s, which did not install: %w", k.key, p.spec, err)
		}
	}
	if k.needs != nil {
		if err := k.needs(b); err != nil {
			return nil, err
		}
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := k.cmd(b, port, profPrefix)
	cmd.Dir = b.root
	own := cmd.Env
	cmd.Env = append(append(append(append(append(os.Environ(), own...), b.dataEnv...), b.env...), env...), "PORT="+strconv.Itoa(port))
	s, err := launch(k.key, cmd, port)
	if err != nil {
		return nil, err
	}
	s.kind, s.backend = k, b.backend
	return s, nil
}

// launch starts cmd, a server that is to listen on 127.0.0.1:port, and
// waits until it accepts connections (30 s at most). name names it in
// errors.
func launch(name string, cmd *exec.Cmd, port int) (*server, error) {
	s, err := spawn(name, cmd, port)
	if err != nil {
		return nil, err
	}
	if err := s.waitListen(name, 30*time.Second); err != nil {
		return nil, err
	}
	return s, nil
}

// spawn starts cmd, a server that is to listen on 127.0.0.1:port, and does
// not wait for it (waitListen does).
func spawn(name string, cmd *exec.Cmd, port int) (*server, error) {
	lb := &tailBuffer{max: 8 << 10}
	cmd.Stdout, cmd.Stderr = lb, lb
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	s := &server{cmd: cmd, pid: cmd.Process.Pid, log: lb, exited: make(chan struct{}),
		addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(port))}
	go func() {
		s.err = cmd.Wait()
		close(s.exited)
	}()
	return s, nil
}

// waitListen waits until the spawned server accepts connections; when it
// exits first, or does not listen within limit, it is stopped and the
// error holds the end of its output.
func (s *server) waitListen(name string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	port := s.addr.Port()
	for {
		c, err := net.DialTimeout("tcp", s.addr.String(), time.Second)
		if err == nil {
			_ = c.Close()
			// Another program may have taken the port between freePort and
			// the server's listen: then the server exits with an error.
			select {
			case <-s.exited:
				return fmt.Errorf("%s exited after start (%v), port %d taken by another program?\n%s", name, s.err, port, s.log.String())
			case <-time.After(100 * time.Millisecond):
			}
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("%s exited before listening (%v):\n%s", name, s.err, s.log.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return fmt.Errorf("%s did not listen on %s within %s:\n%s", name, s.addr, limit, s.log.String())
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

// installNodePackages installs the Node packages the selected rows need
// into -node-dir (default: the bench's temp dir), each into a folder of
// its own. A package that does not install fails only the rows that need
// it (startServer reports why).
func installNodePackages(o *options, b *builds) error {
	var need []npmPkg
	for _, sec := range o.sections {
		for _, k := range o.selected(sec) {
			for _, p := range k.npm {
				if !slices.Contains(need, p) {
					need = append(need, p)
				}
			}
		}
	}
	if len(need) == 0 {
		return nil
	}
	b.nodeDir = o.nodeDir
	if b.nodeDir == "" {
		b.nodeDir = filepath.Join(b.dir, "node")
	}
	var err error
	if b.nodeDir, err = filepath.Abs(b.nodeDir); err != nil {
		return err
	}
	b.npmVersions, b.npmErrs = map[string]string{}, map[string]error{}
	for _, p := range need {
		v, err := installNPM(b.nodeDir, p)
		if err != nil {
			logf("%v", err)
			b.npmErrs[p.name] = err
			continue
		}
		b.npmVersions[p.name] = v
	}
	return nil
}

// installNPM makes package pkg available in dir/pkg.name (its
// node_modules/pkg.name): it installs pkg.spec there with npm unless it is
// already there and loads, and returns the installed version. A folder
// per package: npm install --no-save prunes what the folder's package.json
// does not list, so one folder for all would lose the others.
func installNPM(dir string, pkg npmPkg) (string, error) {
	prefix := filepath.Join(dir, pkg.name)
	meta := filepath.Join(prefix, "node_modules", pkg.name, "package.json")
	if _, err := os.Stat(meta); err == nil {
		err := nodeRequire(prefix, pkg.name)
		if err == nil {
			return npmVersion(meta)
		}
		// A native addon built for another Node.js, or a broken install.
		logf("%s in %s does not load (%v): installing it again", pkg.name, prefix, firstLine(err.Error()))
		if err := os.RemoveAll(prefix); err != nil {
			return "", err
		}
	}
	if err := os.MkdirAll(prefix, 0o755); err != nil {
		return "", err
	}
	logf("installing Node's %s into %s%s", pkg.spec, prefix, pkg.slow)
	cmd := exec.Command("npm", "install", "--no-save", "--no-audit", "--no-fund", "--prefix", prefix, pkg.spec)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("npm install %s: %v\n%s", pkg.spec, err, out)
	}
	if err := nodeRequire(prefix, pkg.name); err != nil {
		return "", fmt.Errorf("npm installed %s into %s, but node cannot load it: %w", pkg.spec, prefix, err)
	}
	return npmVersion(meta)
}

// nodeRequire checks that node loads package name from prefix/node_modules.
func nodeRequire(prefix, name string) error {
	cmd := exec.Command("node", "-e", "require(process.argv[1])", name)
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(prefix, "node_modules"))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

func npmVersion(meta string) (string, error) {
	b, err := os.ReadFile(meta)
	if err != nil {
		return "", err
	}
	var m struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return "", fmt.Errorf("%s: %w", meta, err)
	}
	return m.Version, nil
}
