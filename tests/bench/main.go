// Command bench is imscript's benchmark: TCP echo, HTTP hello, HTTP GETs
// that each do one SQLite or Redis read, WebSocket echo and room broadcast
// throughput and latency of the imscript Lua and JS scripts against
// Node.js (net, http with better-sqlite3 and ioredis, ws), nginx with
// lua-nginx-module (HTTP hello) and Go ceilings or references (bare gnet,
// net/http with database/sql and go-redis, gorilla/websocket), plus each server's memory with 10,000 idle TCP or
// WebSocket connections. Servers run as separate processes, one at a
// time; the load generators run in this process (the HTTP rows use wrk,
// a separate process, when it is installed). It writes a markdown
// table to stdout and to a file.
//
//	go run ./tests/bench                       # everything, about 9 minutes
//	go run ./tests/bench -bench http,ws -rows lua,node -repeat 1
//	go run ./tests/bench -rows lua,gnet -depths 16 -repeat 1 -bench tcp
//	go run ./tests/bench -profile /tmp/prof    # CPU and heap profiles of the Go servers
//	go run ./tests/bench -bench cluster        # room broadcast over 3 nodes vs 1, and Centrifugo (opt-in)
//
// See tests/bench/README.md for what each number means.
package main

import (
	"context"
	"debug/buildinfo"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/imscript/imscript/tests/bench/internal/sigprof"
)

// The sections of a run, in the order they run; -bench selects them.
const (
	secTCP     = "tcp"
	secHTTP    = "http"
	secSQLite  = "sqlite"
	secRedis   = "redis"
	secWS      = "ws"
	secRoom    = "room"
	secTCPMem  = "tcpmem"
	secWSMem   = "wsmem"
	secStorm   = "storm"
	secCluster = "cluster"
)

var allSections = []string{secTCP, secHTTP, secSQLite, secRedis, secWS, secRoom, secStorm, secCluster, secTCPMem, secWSMem}

// defaultSections is -bench's default: every section but cluster (opt-in:
// it runs about 2 minutes, and builds Centrifugo the first time).
var defaultSections = slices.DeleteFunc(slices.Clone(allSections), func(s string) bool { return s == secCluster })

// httpSection reports whether sec's rows are HTTP GETs under the HTTP
// load generator (-http-load): hello, and the data sections.
func httpSection(sec string) bool { return sec == secHTTP || sec == secSQLite || sec == secRedis }

// dataSection reports whether sec is a data section (one database call
// per request).
func dataSection(sec string) bool { return sec == secSQLite || sec == secRedis }

// kinds lists the servers a section can run: kindsOf's, and with
// -baseline a baseline row (lua-base, js-base) for each imscript row that
// an older binary can run (not for those with noBase).
func (o *options) kinds(sec string) []serverKind {
	ks := kindsOf(sec)
	if o.baseline == "" {
		return ks
	}
	out := slices.Clone(ks)
	for _, k := range ks {
		if k.script != "" && o.baseCan(k) {
			out = append(out, baselineKind(k, o.baseline))
		}
	}
	return out
}

// baseCan says whether the baseline binary can run imscript row k: a row
// whose script needs a module (noBase "imscript.sql") when the binary has
// it, which the bench asks it once (baseHasModule); not the rows that
// need a flag or setting of their own (--metrics, history_size).
func (o *options) baseCan(k serverKind) bool {
	if k.noBase == "" {
		return true
	}
	if !strings.HasPrefix(k.noBase, "imscript.") {
		return false
	}
	has, ok := o.baseHas[k.noBase]
	if !ok {
		has = baseHasModule(o.baseline, k.noBase)
		if o.baseHas == nil {
			o.baseHas = map[string]bool{}
		}
		o.baseHas[k.noBase] = has
	}
	return has
}

// baseHasModule runs the baseline binary on a script that ends with code 0
// when module (imscript.sql) is there.
func baseHasModule(bin, module string) bool {
	dir, err := os.MkdirTemp("", "imscript-bench-probe")
	if err != nil {
		return false
	}
	defer os.RemoveAll(dir)
	probe := filepath.Join(dir, "probe.lua")
	src := fmt.Sprintf("imscript.exit(%s ~= nil and 0 or 3)\n", module)
	if os.WriteFile(probe, []byte(src), 0o644) != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "run", "--no-watch", "--workers", "1", "--log-level", "error", probe)
	return cmd.Run() == nil
}

// noBaseline lists the selected imscript rows of sec that get no baseline
// row under -baseline, with why.
func (o *options) noBaseline(sec string) []serverKind {
	if o.baseline == "" {
		return nil
	}
	var ks []serverKind
	for _, k := range o.selected(sec) {
		if k.script != "" && !o.baseCan(k) {
			ks = append(ks, k)
		}
	}
	return ks
}

// kindsOf lists the servers a section can run without -baseline.
func kindsOf(sec string) []serverKind {
	switch sec {
	case secTCP:
		return tcpEchoKinds
	case secTCPMem:
		return tcpKinds
	case secHTTP:
		return httpKinds
	case secSQLite:
		return sqliteKinds
	case secRedis:
		return redisKinds
	case secWS:
		return wsKinds
	case secWSMem:
		return wsMemKinds
	case secRoom:
		return roomKinds
	case secStorm:
		return stormKinds
	case secCluster:
		return clusterKinds
	}
	return nil
}

type options struct {
	duration   time.Duration
	warmup     time.Duration
	repeat     int
	sections   []string
	rows       []string
	depths     []int
	conns      int
	size       int
	threads    int
	idle       int
	settle     time.Duration
	workers    int
	out        string
	profile    string
	serverEnv  []string
	maxOther   float64
	retries    int
	retryPause time.Duration
	nodeDir    string
	pool       int
	httpLoad   string // after parseFlags: "wrk" or "go"
	wrkPath    string // with -http-load wrk
	wrkVersion string
	baseline   string          // -baseline, made absolute
	baseRev    string          // where the baseline binary comes from: "commit REV" from its build info
	baseHas    map[string]bool // the modules the baseline binary has or lacks, as asked (baseCan)
	allocs     bool            // -allocs: read the Go servers' allocation counts (allocs.go)
	busy       int             // -busy: busy-loop processes beside every section (busy.go)
	docs       string          // -docs: the page whose marked tables a run with -out rewrites (docs.go)

	roomClients  int
	roomRepeat   int
	roomSenders  int
	roomRates    []int
	roomDuration time.Duration
	stressDur    time.Duration
	roomWarmup   time.Duration
	roomDrain    time.Duration
	stormClients int
	stormMissed  int
	stormTurns   int

	clusterNodes      int
	clusterClients    int
	clusterSenders    int
	clusterRate       int
	clusterDuration   time.Duration
	clusterLowClients int
	clusterLowRate    int
	clusterLowDur     time.Duration
	clusterJoin       time.Duration
	clusterHistory    int
	clusterRepeat     int
	centrifugo        string
	natsServer        string
}

func (o *options) has(sec string) bool { return slices.Contains(o.sections, sec) }

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// defaultRows is -rows' default; with -baseline it also takes the
// baseline rows.
const defaultRows = "gnet,go,lua,js,node,nginx,centrifugo"

func parseFlags() (*options, error) {
	return parseArgs(os.Args[1:], flag.ExitOnError)
}

// parseArgs parses the command line (without the program name).
func parseArgs(args []string, onError flag.ErrorHandling) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("bench", onError)
	var rows, depths, sections, rates string
	fs.StringVar(&sections, "bench", strings.Join(defaultSections, ","), "sections to run (comma-separated): tcp (TCP echo), http (HTTP hello), sqlite (HTTP GET doing one SQLite point SELECT), redis (HTTP GET doing one Redis GET), ws (WebSocket echo), room (WebSocket room broadcast), storm (recovery storm), cluster (room broadcast over -cluster-nodes nodes vs one node, cross-node vs in-node latency, and Centrifugo v6 with its NATS broker; opt-in, not in the default list: about 2 minutes, plus building Centrifugo the first time), tcpmem and wsmem (memory with -idle idle TCP / WebSocket connections)")
	fs.DurationVar(&o.duration, "duration", 3*time.Second, "measured time per row and run (tcp, http, sqlite, redis, ws)")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "warm-up before each measured row (tcp, http, sqlite, redis, ws)")
	fs.IntVar(&o.repeat, "repeat", 3, "runs of every tcp, http, sqlite, redis and ws row; the table shows the median")
	fs.StringVar(&rows, "rows", defaultRows, "servers to run: gnet (bare gnet echo), go (net/http, gorilla/websocket), lua, js, node, nginx (nginx + lua-nginx-module, the http section), centrifugo (the cluster section), and with -baseline lua-base, js-base (comma-separated); a section runs those it has; the default adds lua-base and js-base when -baseline is set")
	fs.StringVar(&o.baseline, "baseline", "", "an imscript binary built from another commit (go build -o /tmp/imscript-old ./cmd/imscript): adds rows lua-base and js-base, run by it exactly as the lua and js rows are, measured alternately with them, and new/baseline ratio tables")
	fs.StringVar(&depths, "depths", "1,16", "tcp: pipeline depths (comma-separated)")
	fs.IntVar(&o.conns, "conns", 100, "connections per tcp, http, sqlite, redis and ws row")
	fs.IntVar(&o.size, "size", 64, "tcp and ws echo message size in bytes")
	fs.IntVar(&o.threads, "threads", 2, "load generator threads (epoll loops; wrk -t for the http rows)")
	fs.StringVar(&o.httpLoad, "http-load", loadAuto, "load generator of the http, sqlite and redis rows: wrk (needs wrk on PATH: apt-get install wrk), go (the bench's own epoll generator), or auto (wrk when on PATH, else go)")
	fs.IntVar(&o.pool, "pool", 4, "sqlite and redis: database connections per server at most (database/sql MaxOpenConns, imscript.sql max_open, go-redis PoolSize, imscript.redis pool_size; better-sqlite3 and ioredis have one)")
	fs.IntVar(&o.idle, "idle", 10000, "idle connections for the memory tables (0: skip them)")
	fs.DurationVar(&o.settle, "settle", time.Second, "memory tables: wait before each reading")
	fs.IntVar(&o.workers, "workers", 2, "imscript worker VMs (--workers)")
	fs.StringVar(&o.out, "out", "tests/bench/RESULTS.md", "also write the markdown here, relative to the repository root (empty: stdout only)")
	fs.StringVar(&o.docs, "docs", "docs/benchmark.md", "with -out: also replace the tables between <!-- bench:NAME --> markers in this page, relative to the repository root, when the run has every section they show and is not -busy (empty: never)")
	fs.StringVar(&o.profile, "profile", "", "write CPU profiles of the Go servers' measured windows, and heap profiles with the idle connections, to this dir (imscript rows then run under tests/bench/imsprof)")
	fs.Float64Var(&o.maxOther, "max-other", 0.35, "a run during which other work (other programs, softirq) took more cores than this is disturbed: retried, then flagged")
	fs.IntVar(&o.retries, "retries", 2, "retries of a disturbed run")
	fs.DurationVar(&o.retryPause, "retry-pause", 3*time.Second, "pause before retrying a disturbed run")
	fs.StringVar(&o.nodeDir, "node-dir", "", "folder for Node's packages (ws, better-sqlite3, ioredis: npm install --prefix DIR/NAME); each reused when it is there and loads (default: a fresh install in the bench's temp dir)")
	fs.StringVar(&o.nodeDir, "ws-dir", "", "the same as -node-dir (its old name)")
	fs.IntVar(&o.roomClients, "room-clients", 1000, "room: WebSocket clients, all in one room")
	fs.IntVar(&o.roomSenders, "room-senders", 10, "room: clients that send")
	fs.StringVar(&rates, "room-rates", "100,1000", "room: messages per second in, all senders together, one row each; the first is the target row, the others stress rows")
	fs.IntVar(&o.roomRepeat, "room-repeat", 1, "room: runs of every server (each on a fresh server process, all rates), the servers taking turns; the table shows medians (lost: the largest)")
	fs.DurationVar(&o.roomDuration, "room-duration", 10*time.Second, "room: measured sending time of the first rate")
	fs.DurationVar(&o.stressDur, "stress-duration", 5*time.Second, "room: measured sending time of the other rates")
	fs.DurationVar(&o.roomWarmup, "room-warmup", time.Second, "room: warm-up sending before each measured row")
	fs.IntVar(&o.stormClients, "storm-clients", 1000, "storm: clients that reconnect at once")
	fs.IntVar(&o.stormMissed, "storm-missed", 100, "storm: messages each client missed (at most the history kept, "+roomHistory+")")
	fs.IntVar(&o.stormTurns, "storm-turns", 3, "storm: turns of plain reconnects and recovering reconnects on one server")
	fs.IntVar(&o.clusterNodes, "cluster-nodes", 3, "cluster: nodes of the cluster rows (imscript and Centrifugo), 2 to 9")
	fs.IntVar(&o.clusterClients, "cluster-clients", 1000, "cluster: WebSocket clients of the main load, client i on node i % nodes")
	fs.IntVar(&o.clusterSenders, "cluster-senders", 10, "cluster: clients that send (spread over the nodes), main and low load")
	fs.IntVar(&o.clusterRate, "cluster-rate", 100, "cluster: messages per second in of the main load")
	fs.DurationVar(&o.clusterDuration, "cluster-duration", 10*time.Second, "cluster: measured sending time of the main load (after -room-warmup)")
	fs.IntVar(&o.clusterLowClients, "cluster-low-clients", 100, "cluster: clients of the low load (cross-node vs in-node latency)")
	fs.IntVar(&o.clusterLowRate, "cluster-low-rate", 10, "cluster: messages per second in of the low load")
	fs.DurationVar(&o.clusterLowDur, "cluster-low-duration", 20*time.Second, "cluster: measured sending time of the low load")
	fs.DurationVar(&o.clusterJoin, "cluster-join-wait", time.Minute, "cluster: longest wait for the nodes to listen and for a probe to reach every client cluster-wide")
	fs.IntVar(&o.clusterHistory, "cluster-history", 0, "cluster: HISTORY of the imscript rows, one node (with --data) and cluster alike (0: no history; Centrifugo's NATS broker keeps none)")
	fs.IntVar(&o.clusterRepeat, "cluster-repeat", 1, "cluster: runs of every row (each on fresh processes), the rows taking turns; the tables show medians (lost: the largest)")
	fs.StringVar(&o.centrifugo, "centrifugo", "", "cluster: a Centrifugo v6 binary (default: go install "+centrifugoModule+"@"+centrifugoWant+" into the bench's temp dir; the row is skipped when that fails)")
	fs.StringVar(&o.natsServer, "nats-server", "", "cluster: a nats-server binary for Centrifugo's broker (default: go install "+natsServerModule+"@"+natsServerWant+" into the bench's temp dir)")
	fs.DurationVar(&o.roomDrain, "room-drain", 5*time.Second, "room: longest wait for late deliveries after the sending stops")
	fs.BoolVar(&o.allocs, "allocs", true, "tcp, http, sqlite, redis, ws: read the Go servers' heap allocation count (go_memstats_mallocs_total) around each measured window, for allocs/op: the imscript rows then run with --metrics (but in tcp, whose -metrics rows report it), gnetecho and goref with BENCH_METRICS (not the imscript rows under -baseline or -profile)")
	fs.IntVar(&o.busy, "busy", 0, "run this many busy-loop processes (each spinning one core) beside every section, started before it and killed after it: the tables are then of a busy machine")
	fs.Func("server-env", "add KEY=VALUE to the servers' environment, e.g. GOMAXPROCS=4 (repeatable)", func(v string) error {
		if !strings.Contains(v, "=") {
			return fmt.Errorf("want KEY=VALUE, got %q", v)
		}
		o.serverEnv = append(o.serverEnv, v)
		return nil
	})
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: go run ./tests/bench [flags]   (from the repository root)\n\n"+
			"TCP echo, HTTP hello, HTTP GETs doing one SQLite or Redis read, WebSocket echo and room broadcast\n"+
			"throughput/latency and idle-connection memory of the imscript Lua and JS scripts, Node.js and Go\n"+
			"ceilings and references; writes a markdown table.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	rowsSet := false
	fs.Visit(func(f *flag.Flag) { rowsSet = rowsSet || f.Name == "rows" })
	want := map[string]bool{}
	for _, sec := range strings.Split(sections, ",") {
		sec = strings.TrimSpace(sec)
		if sec == "" {
			continue
		}
		if !slices.Contains(allSections, sec) {
			return nil, fmt.Errorf("-bench: unknown section %q (want %s)", sec, strings.Join(allSections, ", "))
		}
		want[sec] = true
	}
	for _, sec := range allSections {
		if want[sec] && (o.idle > 0 || (sec != secTCPMem && sec != secWSMem)) {
			o.sections = append(o.sections, sec)
		}
	}
	if o.baseline != "" {
		if err := checkBaseline(o); err != nil {
			return nil, err
		}
	}
	var err error
	if o.rows, err = selectRows(o, rows, rowsSet); err != nil {
		return nil, err
	}
	for _, d := range strings.Split(depths, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(d))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-depths: bad depth %q", d)
		}
		if !slices.Contains(o.depths, n) {
			o.depths = append(o.depths, n)
		}
	}
	for _, r := range strings.Split(rates, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(r))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-room-rates: bad rate %q", r)
		}
		if !slices.Contains(o.roomRates, n) {
			o.roomRates = append(o.roomRates, n)
		}
	}
	if o.busy < 0 {
		return nil, errors.New("-busy must not be negative")
	}
	if o.repeat < 1 || o.roomRepeat < 1 || o.conns < 1 || o.size < 1 || o.pool < 1 {
		return nil, errors.New("-repeat, -room-repeat, -conns, -size and -pool must be at least 1")
	}
	if o.size > 60<<10 {
		return nil, errors.New("-size: at most 60 KiB")
	}
	if o.roomClients < 1 || o.roomSenders < 1 {
		return nil, errors.New("-room-clients and -room-senders must be at least 1")
	}
	if o.clusterNodes < 2 || o.clusterNodes > 9 {
		return nil, errors.New("-cluster-nodes: 2 to 9")
	}
	if o.clusterClients < o.clusterNodes || o.clusterLowClients < o.clusterNodes || o.clusterSenders < 1 || o.clusterRate < 1 || o.clusterLowRate < 1 || o.clusterHistory < 0 || o.clusterRepeat < 1 {
		return nil, errors.New("-cluster-clients and -cluster-low-clients must be at least -cluster-nodes, -cluster-senders, -cluster-rate, -cluster-low-rate and -cluster-repeat at least 1, -cluster-history not negative")
	}
	for _, d := range o.depths {
		// A batch must fit the socket buffers: the load generator writes a
		// whole batch before it reads anything.
		if d*o.size > 64<<10 {
			return nil, fmt.Errorf("-depths %d × -size %d: a batch is limited to 64 KiB", d, o.size)
		}
	}
	if err := resolveHTTPLoad(o); err != nil {
		return nil, err
	}
	return o, nil
}

// runResult is one measured row of one run.
type runResult struct {
	rate       float64
	p50, p99   time.Duration
	srvCPU     float64 // cores
	loadCPU    float64 // cores used by this process (the load generator)
	otherCPU   float64 // cores busy outside server, its backend and load generator: softirq, other processes
	backendCPU float64 // cores of the server's backend (redis-server)
	busyCPU    float64 // cores of the -busy processes
	idleCPU    float64 // cores idle
	allocs     float64 // the server's heap allocations per operation (allocsOK: known)
	allocsOK   bool
	sysPerMsg  float64 // server read+write family syscalls per message
	csPerMsg   float64 // server context switches per message
	broken     int
	errs       []string
	fails      []string // failures the load generator counted (wrk: status ≥ 400, socket errors)
	failShort  []string // the same, short, for the table
	busiest    string   // other processes that used CPU in the window
	disturbed  bool     // otherCPU above -max-other even after the retries
	rep        int      // which -repeat run
}

// rowKey names a throughput row: section, server, and (tcp) depth.
type rowKey struct {
	sec   string
	key   string
	depth int
}

// memKey names a memory row.
type memKey struct{ sec, key string }

// results is everything one run measured.
type results struct {
	tput    map[rowKey][]runResult
	storm   map[string]*stormResult     // by row key
	room    map[roomKey][]*roomResult   // one per -room-repeat run that succeeded
	cluster map[string][]*clusterResult // by row key, one per -cluster-repeat run whose main load succeeded
	// the cluster section's Centrifugo row: the binaries' versions, or why
	// it did not run
	centVersion, natsVersion, centErr string
	mem                               map[memKey]memResult
	rowErrs                           map[string][]string // "section/key" -> problems
}

func (r *results) fail(sec, key, msg string) {
	r.rowErrs[sec+"/"+key] = append(r.rowErrs[sec+"/"+key], msg)
}

// selectRows turns -rows into the row keys, in the order they run and are
// shown: -rows order, except that a baseline row comes right after its
// imscript row when both are asked for (so that in every repeat the new
// row runs and then the baseline row). With -baseline and -rows left at
// its default, every imscript row brings its baseline row.
func selectRows(o *options, rows string, rowsSet bool) ([]string, error) {
	var keys []string
	for _, r := range strings.Split(rows, ",") {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		known := false
		for _, sec := range allSections {
			if _, ok := findKind(o.kinds(sec), r); ok {
				known = true
			}
		}
		if !known && o.baseline == "" && strings.HasSuffix(r, baseSuffix) {
			return nil, fmt.Errorf("-rows: %s is a baseline row: it needs -baseline PATH", r)
		}
		if !known {
			want := "gnet, go, lua, js, node, nginx, centrifugo"
			if o.baseline != "" {
				want += ", lua-base, js-base"
			}
			return nil, fmt.Errorf("-rows: unknown server %q (want %s)", r, want)
		}
		if !slices.Contains(keys, r) {
			keys = append(keys, r)
		}
		if o.baseline != "" && !rowsSet && !strings.HasSuffix(r, baseSuffix) {
			for _, sec := range allSections {
				if k, ok := findKind(o.kinds(sec), r+baseSuffix); ok && !slices.Contains(keys, k.key) {
					keys = append(keys, k.key)
				}
			}
		}
	}
	// Each baseline row right after its imscript row.
	var ordered []string
	for _, key := range keys {
		base, isBase := strings.CutSuffix(key, baseSuffix)
		if isBase && slices.Contains(keys, base) {
			continue
		}
		ordered = append(ordered, key)
		if !isBase && slices.Contains(keys, key+baseSuffix) {
			ordered = append(ordered, key+baseSuffix)
		}
	}
	return ordered, nil
}

// checkBaseline makes -baseline absolute, checks that it is an executable
// file, rejects -profile with it, and reads the commit it was built from.
func checkBaseline(o *options) error {
	if o.profile != "" {
		return errors.New("-baseline and -profile do not mix: profiled imscript rows run tests/bench/imsprof of this tree, which the baseline binary has no counterpart of")
	}
	path, err := filepath.Abs(o.baseline)
	if err != nil {
		return fmt.Errorf("-baseline: %w", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("-baseline: %w", err)
	}
	if !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("-baseline %s: not an executable file", path)
	}
	o.baseline = path
	if bi, err := buildinfo.ReadFile(path); err == nil {
		var rev, dirty string
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision":
				rev = s.Value
			case s.Key == "vcs.modified" && s.Value == "true":
				dirty = " (with uncommitted changes)"
			}
		}
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if rev != "" {
			o.baseRev = "commit " + rev + dirty
		}
	}
	if o.baseRev == "" {
		o.baseRev = "a commit its build info does not name (built with -buildvcs=false?), file modified " + st.ModTime().Format("2006-01-02 15:04:05 MST")
	}
	return nil
}

// selected lists the servers of a section that -rows asks for, in -rows order
// (baseline rows right after their imscript rows).
func (o *options) selected(sec string) []serverKind {
	var ks []serverKind
	for _, key := range o.rows {
		if k, ok := findKind(o.kinds(sec), key); ok {
			ks = append(ks, k)
		}
		// lua and js also select their history rows (lua-hmem, lua-hdisk)
		// and the rows that name them in rowOf (the cluster section's)
		for _, k := range o.kinds(sec) {
			if (strings.HasPrefix(k.key, key+"-h") || k.rowOf == key) && k.key != key && !slices.Contains(o.rows, k.key) {
				ks = append(ks, k)
			}
		}
	}
	return ks
}

func run() error {
	o, err := parseFlags()
	if err != nil {
		return err
	}
	began := time.Now()
	root, err := repoRoot()
	if err != nil {
		return err
	}
	limit, err := raiseNoFile()
	if err != nil {
		return fmt.Errorf("raise RLIMIT_NOFILE: %w", err)
	}
	if o.idle > 0 && uint64(o.idle)+512 > limit {
		return fmt.Errorf("-idle %d needs more descriptors than RLIMIT_NOFILE allows (%d)", o.idle, limit)
	}
	if o.has(secRoom) && uint64(o.roomClients)+512 > limit {
		return fmt.Errorf("-room-clients %d needs more descriptors than RLIMIT_NOFILE allows (%d)", o.roomClients, limit)
	}
	if o.has(secCluster) && uint64(o.clusterClients)+512 > limit {
		return fmt.Errorf("-cluster-clients %d needs more descriptors than RLIMIT_NOFILE allows (%d)", o.clusterClients, limit)
	}
	if o.profile != "" {
		if o.profile, err = filepath.Abs(o.profile); err != nil {
			return err
		}
		if err := os.MkdirAll(o.profile, 0o755); err != nil {
			return err
		}
	}
	env := describeMachine(root, limit)
	logf("building servers")
	b, err := build(root, o.workers, o.profile != "")
	if err != nil {
		return err
	}
	b.env = o.serverEnv
	b.baseline = o.baseline
	defer os.RemoveAll(b.dir)
	res := &results{tput: map[rowKey][]runResult{}, room: map[roomKey][]*roomResult{}, cluster: map[string][]*clusterResult{}, storm: map[string]*stormResult{}, mem: map[memKey]memResult{}, rowErrs: map[string][]string{}}

	if err := installNodePackages(o, b); err != nil {
		return err
	}
	env.npm = b.npmVersions
	if env.nginx, err = prepareNginx(o, b); err != nil {
		logf("nginx: %v", err)
	}

	// The throughput sections run repeat by repeat, every selected row once
	// per repeat (fresh server each), in -rows order with a baseline row
	// right after its imscript row: with -baseline, new and baseline
	// alternate (A B A B ...), so drift of the machine hits both alike.
	if o.has(secTCP) {
		stopBusy := startBusy(o, secTCP)
		for rep := 1; rep <= o.repeat; rep++ {
			for _, k := range o.selected(secTCP) {
				if err := throughputRun(o, b, k, rep, res.tput); err != nil {
					logf("tcp %s: %v", k.key, err)
					res.fail(secTCP, k.key, fmt.Sprintf("run %d: %v", rep, err))
				}
			}
		}
		stopBusy()
	}
	for _, sec := range []string{secHTTP, secSQLite, secRedis, secWS} {
		if !o.has(sec) || len(o.selected(sec)) == 0 {
			continue
		}
		var stop func()
		if dataSection(sec) {
			if stop, err = setupData(o, b, sec, &env); err != nil {
				logf("%s: %v", sec, err)
				for _, k := range o.selected(sec) {
					res.fail(sec, k.key, "the section's data: "+err.Error())
				}
				continue
			}
		}
		stopBusy := startBusy(o, sec)
		for rep := 1; rep <= o.repeat; rep++ {
			for _, k := range o.selected(sec) {
				if err := rrRun(o, b, sec, k, rep, res.tput); err != nil {
					logf("%s %s: %v", sec, k.key, err)
					res.fail(sec, k.key, fmt.Sprintf("run %d: %v", rep, err))
				}
			}
		}
		stopBusy()
		if stop != nil {
			stop()
		}
	}
	// Every repeat runs each selected server in turn (a baseline row right
	// after its imscript row), so new and baseline alternate: A B A B.
	if o.has(secRoom) {
		stopBusy := startBusy(o, secRoom)
		for rep := 1; rep <= o.roomRepeat; rep++ {
			for _, k := range o.selected(secRoom) {
				roomRun(o, b, k, rep, res)
			}
		}
		stopBusy()
	}
	if o.has(secStorm) {
		stopBusy := startBusy(o, secStorm)
		for _, k := range o.selected(secStorm) {
			stormRun(o, b, k, res)
		}
		stopBusy()
	}
	if o.has(secCluster) {
		prepareCentrifugo(o, b)
		res.centVersion, res.natsVersion = b.centVersion, b.natsVersion
		if b.centErr != nil {
			res.centErr = b.centErr.Error()
		}
		stopBusy := startBusy(o, secCluster)
		for rep := 1; rep <= o.clusterRepeat; rep++ {
			for _, k := range o.selected(secCluster) {
				clusterRun(o, b, k, rep, res)
			}
		}
		stopBusy()
	}
	for _, sec := range []string{secTCPMem, secWSMem} {
		if !o.has(sec) {
			continue
		}
		stopBusy := startBusy(o, sec)
		for _, k := range o.selected(sec) {
			memRun(o, b, sec, k, res)
		}
		stopBusy()
	}
	if o.has(secTable) {
		tableRun(o, b) // table.go
	}
	took := time.Since(began)
	md := report(o, env, res, took)
	md += tableReport() // table.go: "" unless the table section ran
	fmt.Print(md)
	if o.out != "" {
		path := o.out
		if !filepath.IsAbs(path) {
			path = filepath.Join(root, path)
		}
		if err := os.WriteFile(path, []byte(md), 0o644); err != nil {
			return err
		}
		logf("wrote %s (the run took %s)", path, took.Round(time.Second))
		updateDocs(o, root, env, md)
	}
	return nil
}

// memRun measures one server's memory with -idle idle connections (TCP,
// or upgraded WebSocket connections for wsmem). A failed attempt is
// reported and tried once more with a fresh server.
func memRun(o *options, b *builds, sec string, k serverKind, res *results) {
	for attempt := 1; attempt <= 2; attempt++ {
		err := memAttempt(o, b, sec, k, res)
		if err == nil {
			return
		}
		logf("%s %s: memory: %v", sec, k.key, err)
		res.fail(sec, k.key, fmt.Sprintf("memory, attempt %d: %v", attempt, err))
	}
}

func memAttempt(o *options, b *builds, sec string, k serverKind, res *results) error {
	what := "TCP"
	dial := dialMany
	if sec == secWSMem {
		what, dial = "WebSocket", dialManyWS
	}
	logf("%s %s: memory with %d idle %s connections", sec, k.key, o.idle, what)
	prof := ""
	if o.profile != "" && k.key != "node" {
		prof = filepath.Join(o.profile, sec+"-"+k.key+"-idle")
	}
	var env []string
	if prof != "" {
		env = append(env, sigprof.MemProfileRateEnv+"=512")
	}
	s, err := startServer(k, b, prof, env...)
	if err != nil {
		return err
	}
	m, err := measureIdle(s, o.idle, o.settle, prof != "", dial)
	alive := s.alive()
	s.stop()
	if err != nil {
		return fmt.Errorf("%w (server still running: %v)\n%s", err, alive, s.log.String())
	}
	if prof != "" {
		to := prof + ".heap.pprof"
		if os.Rename(prof+"-1.heap.pprof", to) == nil {
			logf("heap profile with %d idle connections: %s", o.idle, to)
		}
		_ = os.Remove(prof + "-1.pprof")
	}
	res.mem[memKey{sec, k.key}] = m
	logf("%s %s: PSS %d -> %d KiB, %.2f KiB/conn", sec, k.key, m.before.pss, m.after.pss, m.pssPerConn())
	return nil
}

// throughputRun starts one server and measures every depth against it.
func throughputRun(o *options, b *builds, k serverKind, rep int, results map[rowKey][]runResult) error {
	prof := ""
	if o.profile != "" && k.key != "node" {
		prof = filepath.Join(o.profile, fmt.Sprintf("%s-r%d", k.key, rep))
	}
	defer func() {
		// Only the CPU profiles of the throughput rows are of interest.
		for i := 1; prof != ""; i++ {
			if os.Remove(fmt.Sprintf("%s-%d.heap.pprof", prof, i)) != nil {
				break
			}
		}
	}()
	s, err := startMeasured(o, b, secTCP, k, prof)
	if err != nil {
		return err
	}
	profSeq := 0            // profiles the server has written so far
	profOf := map[int]int{} // depth -> its profile's sequence number
	defer func() {
		s.stop()
		for d, n := range profOf {
			from := fmt.Sprintf("%s-%d.pprof", prof, n)
			to := filepath.Join(o.profile, fmt.Sprintf("%s-p%d-r%d.pprof", k.key, d, rep))
			if err := os.Rename(from, to); err == nil {
				logf("profile %s", to)
			}
		}
	}()
	for _, depth := range o.depths {
		for attempt := 0; ; attempt++ {
			r, err := measureRow(o, s, depth, prof)
			if err != nil {
				return fmt.Errorf("depth %d: %w\n%s", depth, err, s.log.String())
			}
			if prof != "" {
				profSeq++
				profOf[depth] = profSeq
			}
			note := ""
			if r.disturbed {
				note = "  DISTURBED by " + orDash(r.busiest)
			}
			logf("run %d tcp %-8s depth %-3d %9.0f msgs/s  p50 %-8s p99 %-8s server %.2f, load %.2f, other %.2f, idle %.2f cores, %.2f rd/wr syscalls/msg%s%s",
				rep, k.key, depth, r.rate, r.p50, r.p99, r.srvCPU, r.loadCPU, r.otherCPU, r.idleCPU, r.sysPerMsg, brokenNote(r), note)
			if r.disturbed && attempt < o.retries {
				time.Sleep(o.retryPause)
				continue
			}
			r.rep = rep
			results[rowKey{secTCP, k.key, depth}] = append(results[rowKey{secTCP, k.key, depth}], r)
			break
		}
	}
	return nil
}

// measureRow runs one depth against a running server and samples the
// server's and the machine's CPU over the measured window.
func measureRow(o *options, s *server, depth int, prof string) (runResult, error) {
	return measureLoad(o, s, prof, func(onMeasure, onDone func()) (*loadResult, error) {
		return runLoad(loadSpec{
			addr: s.addr, conns: o.conns, size: o.size, depth: depth, threads: o.threads,
			warmup: o.warmup, duration: o.duration, onMeasure: onMeasure, onDone: onDone,
		})
	})
}

// cpuWindow samples the server's, this process's and the machine's CPU at
// the start of a measured window.
type cpuWindow struct {
	s0   procSample
	b0   procSample // the server's backend (redis-server), when it has one
	l0   time.Duration
	m0   machineCPU
	p0   procTimes
	busy time.Duration // the -busy processes' CPU
	pid  int
	prof bool
	srv  *server
}

func openWindow(s *server, prof bool) *cpuWindow {
	if prof {
		s.signal(syscall.SIGUSR1)
	}
	w := &cpuWindow{p0: scanProcs(), pid: s.pid, prof: prof, srv: s}
	if s.backend != 0 {
		w.b0 = sampleProc(s.backend)
	}
	w.s0, w.l0, w.m0, w.busy = sampleProc(s.pid), selfCPU(), sampleMachine(), busyCPU()
	return w
}

// cpuUse is what a window used.
type cpuUse struct {
	wall                   time.Duration
	srv, load, other, idle float64 // cores
	backend                float64 // cores of the server's backend (redis-server)
	busy                   float64 // cores of the -busy processes
	syscalls, ctxSwitches  int64   // the server's
	busiest                string
}

// close samples again; stopProf also ends the server's CPU profile.
func (w *cpuWindow) close(stopProf bool) cpuUse { return w.closeExt(stopProf, 0) }

// closeExt is close when the load generator (wrk) ran as a child process
// that used extCPU within the window: the load generator's CPU is then
// extCPU plus this process's own (which only waited for it).
func (w *cpuWindow) closeExt(stopProf bool, extCPU time.Duration) cpuUse {
	s1, l1, m1, busy1 := sampleProc(w.pid), selfCPU(), sampleMachine(), busyCPU()
	var b1 procSample
	if w.srv.backend != 0 {
		b1 = sampleProc(w.srv.backend)
	}
	p1 := scanProcs()
	if w.prof && stopProf {
		w.srv.signal(syscall.SIGUSR2)
	}
	u := cpuUse{wall: s1.at.Sub(w.s0.at)}
	sec := u.wall.Seconds()
	u.srv = (s1.cpu - w.s0.cpu).Seconds() / sec
	u.load = (l1 - w.l0 + extCPU).Seconds() / sec
	u.idle = (m1.idle - w.m0.idle).Seconds() / sec
	if w.srv.backend != 0 {
		u.backend = max(0, (b1.cpu-w.b0.cpu).Seconds()/sec)
	}
	u.busy = max(0, (busy1-w.busy).Seconds()/sec)
	u.other = max(0, (m1.busy-w.m0.busy).Seconds()/sec-u.srv-u.load-u.backend-u.busy)
	u.syscalls = (s1.syscr - w.s0.syscr) + (s1.syscw - w.s0.syscw)
	u.ctxSwitches = s1.ctxSwitches - w.s0.ctxSwitches
	skip := append(append(procTree(w.pid), os.Getpid(), w.srv.backend), busyPids...)
	u.busiest = busiestOthers(w.p0, p1, u.wall, skip...)
	return u
}

// measureLoad runs one row through load (which calls onMeasure and onDone
// around its measured window) and adds the CPU the window used.
func measureLoad(o *options, s *server, prof string, load func(onMeasure, onDone func()) (*loadResult, error)) (runResult, error) {
	var w *cpuWindow
	var a *allocWindow
	var u cpuUse
	res, err := load(func() { a = openAllocs(s); w = openWindow(s, prof != "") }, func() { u = w.close(true); a.end() })
	if err != nil {
		return runResult{}, err
	}
	if !s.alive() {
		return runResult{}, errServerDied
	}
	r := runResult{
		rate:       res.rate(),
		p50:        res.hist.quantile(0.50),
		p99:        res.hist.quantile(0.99),
		srvCPU:     u.srv,
		loadCPU:    u.load,
		idleCPU:    u.idle,
		otherCPU:   u.other,
		backendCPU: u.backend,
		busyCPU:    u.busy,
		broken:     res.brokenCn,
		errs:       res.errs,
		busiest:    u.busiest,
	}
	r.allocs, r.allocsOK = a.perOp(res.msgs)
	if res.msgs > 0 {
		r.sysPerMsg = float64(u.syscalls) / float64(res.msgs)
		r.csPerMsg = float64(u.ctxSwitches) / float64(res.msgs)
	}
	r.disturbed = r.otherCPU > o.maxOther
	return r, nil
}

func brokenNote(r runResult) string {
	if r.broken == 0 {
		return ""
	}
	return fmt.Sprintf("  (%d connections broke: %s)", r.broken, strings.Join(r.errs, "; "))
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

// repoRoot finds the module root (the directory holding go.mod) upwards
// from the working directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/imscript/imscript\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run the bench inside the imscript repository (go run ./tests/bench)")
		}
		dir = parent
	}
}

// machine describes where the bench ran.
type machine struct {
	cpus    int
	cpu     string
	kernel  string
	goVer   string
	nodeVer string
	commit  string
	nofile  uint64
	npm     map[string]string // Node package → version installed
	redis   string            // redis-server's version (the redis section)
	nginx   string            // nginx's and its Lua module's versions (the http section's nginx row)
}

func describeMachine(root string, nofile uint64) machine {
	m := machine{cpus: numCPU(), goVer: cmdOutput(root, "go", "env", "GOVERSION"), nodeVer: cmdOutput(root, "node", "--version"), nofile: nofile}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	var u syscall.Utsname
	if syscall.Uname(&u) == nil {
		var sb strings.Builder
		for _, c := range u.Release {
			if c == 0 {
				break
			}
			sb.WriteByte(byte(c))
		}
		m.kernel = sb.String()
	}
	m.commit = cmdOutput(root, "git", "rev-parse", "--short", "HEAD")
	if st := cmdOutput(root, "git", "status", "--porcelain", "--untracked-files=no"); st != "" && m.commit != "" {
		m.commit += " (with uncommitted changes)"
	}
	return m
}

func cmdOutput(dir, name string, args ...string) string {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
