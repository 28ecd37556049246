// Command bench is imscript's benchmark: TCP echo throughput and latency of
// a bare gnet v2 echo (the ceiling), the imscript Lua and JS echo scripts
// and a Node.js net echo, plus each server's memory with 10,000 idle
// connections. Servers run as separate processes, one at a time; the load
// generator runs in this process. It writes a markdown table to stdout and
// to a file.
//
//	go run ./tests/bench                       # everything, a few minutes
//	go run ./tests/bench -rows lua,gnet -depths 16 -repeat 1 -idle 0
//	go run ./tests/bench -profile /tmp/prof    # CPU and heap profiles of the Go servers
//
// See tests/bench/README.md for what each number means.
package main

import (
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

type options struct {
	duration   time.Duration
	warmup     time.Duration
	repeat     int
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
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func parseFlags() (*options, error) {
	o := &options{}
	var rows, depths string
	flag.DurationVar(&o.duration, "duration", 3*time.Second, "measured time per row and run")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "warm-up before each measured row")
	flag.IntVar(&o.repeat, "repeat", 3, "runs of every throughput row; the table shows the median")
	flag.StringVar(&rows, "rows", "gnet,lua,js,node", "servers to run: gnet, lua, js, node (comma-separated)")
	flag.StringVar(&depths, "depths", "1,16", "pipeline depths (comma-separated)")
	flag.IntVar(&o.conns, "conns", 100, "connections per throughput row")
	flag.IntVar(&o.size, "size", 64, "message size in bytes")
	flag.IntVar(&o.threads, "threads", 2, "load generator threads (epoll loops)")
	flag.IntVar(&o.idle, "idle", 10000, "idle connections for the memory table (0: skip it)")
	flag.DurationVar(&o.settle, "settle", time.Second, "memory table: wait before each reading")
	flag.IntVar(&o.workers, "workers", 2, "imscript worker VMs (--workers)")
	flag.StringVar(&o.out, "out", "tests/bench/RESULTS.md", "also write the markdown here, relative to the repository root (empty: stdout only)")
	flag.StringVar(&o.profile, "profile", "", "write CPU profiles of the Go servers' measured windows, and heap profiles with the idle connections, to this dir (imscript rows then run under tests/bench/imsprof)")
	flag.Float64Var(&o.maxOther, "max-other", 0.35, "a run during which other work (other programs, softirq) took more cores than this is disturbed: retried, then flagged")
	flag.IntVar(&o.retries, "retries", 2, "retries of a disturbed run")
	flag.DurationVar(&o.retryPause, "retry-pause", 3*time.Second, "pause before retrying a disturbed run")
	flag.Func("server-env", "add KEY=VALUE to the servers' environment, e.g. GOMAXPROCS=4 (repeatable)", func(v string) error {
		if !strings.Contains(v, "=") {
			return fmt.Errorf("want KEY=VALUE, got %q", v)
		}
		o.serverEnv = append(o.serverEnv, v)
		return nil
	})
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: go run ./tests/bench [flags]   (from the repository root)\n\n"+
			"TCP echo throughput/latency and idle-connection memory of a bare gnet echo,\n"+
			"the imscript Lua and JS echo scripts and a Node.js net echo; writes a markdown table.\n\nflags:\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	for _, r := range strings.Split(rows, ",") {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		if _, ok := kindByKey(r); !ok {
			return nil, fmt.Errorf("-rows: unknown server %q (want gnet, lua, js, node)", r)
		}
		o.rows = append(o.rows, r)
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
	if o.repeat < 1 || o.conns < 1 || o.size < 1 {
		return nil, errors.New("-repeat, -conns and -size must be at least 1")
	}
	for _, d := range o.depths {
		// A batch must fit the socket buffers: the load generator writes a
		// whole batch before it reads anything.
		if d*o.size > 64<<10 {
			return nil, fmt.Errorf("-depths %d × -size %d: a batch is limited to 64 KiB", d, o.size)
		}
	}
	return o, nil
}

// runResult is one measured row of one run.
type runResult struct {
	rate      float64
	p50, p99  time.Duration
	srvCPU    float64 // cores
	loadCPU   float64 // cores used by this process (the load generator)
	otherCPU  float64 // cores busy outside server and load generator: softirq, other processes
	idleCPU   float64 // cores idle
	sysPerMsg float64 // server read+write family syscalls per message
	csPerMsg  float64 // server context switches per message
	broken    int
	errs      []string
	busiest   string // other processes that used CPU in the window
	disturbed bool   // otherCPU above -max-other even after the retries
}

type rowKey struct {
	key   string
	depth int
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
	defer os.RemoveAll(b.dir)

	results := map[rowKey][]runResult{}
	rowErrs := map[string][]string{}
	for rep := 1; rep <= o.repeat; rep++ {
		for _, key := range o.rows {
			k, _ := kindByKey(key)
			if err := throughputRun(o, b, k, rep, results); err != nil {
				logf("%s: %v", key, err)
				rowErrs[key] = append(rowErrs[key], fmt.Sprintf("run %d: %v", rep, err))
			}
		}
	}
	mem := map[string]memResult{}
	if o.idle > 0 {
		for _, key := range o.rows {
			k, _ := kindByKey(key)
			logf("%s: memory with %d idle connections", key, o.idle)
			prof := ""
			if o.profile != "" && key != "node" {
				prof = filepath.Join(o.profile, key+"-idle")
			}
			var env []string
			if prof != "" {
				env = append(env, sigprof.MemProfileRateEnv+"=512")
			}
			s, err := startServer(k, b, prof, env...)
			if err != nil {
				rowErrs[key] = append(rowErrs[key], "memory: "+err.Error())
				continue
			}
			m, err := measureIdle(s, o.idle, o.settle, prof != "")
			s.stop()
			if prof != "" {
				to := filepath.Join(o.profile, key+"-idle.heap.pprof")
				if os.Rename(prof+"-1.heap.pprof", to) == nil {
					logf("heap profile with %d idle connections: %s", o.idle, to)
				}
				_ = os.Remove(prof + "-1.pprof")
			}
			if err != nil {
				logf("%s: memory: %v", key, err)
				rowErrs[key] = append(rowErrs[key], "memory: "+err.Error())
				continue
			}
			mem[key] = m
			logf("%s: PSS %d -> %d KiB, %.2f KiB/conn", key, m.before.pss, m.after.pss, m.pssPerConn())
		}
	}
	took := time.Since(began)
	md := report(o, env, results, mem, rowErrs, took)
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
	}
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
	s, err := startServer(k, b, prof)
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
			logf("run %d %-5s depth %-3d %9.0f msgs/s  p50 %-8s p99 %-8s server %.2f, load %.2f, other %.2f, idle %.2f cores, %.2f rd/wr syscalls/msg%s%s",
				rep, k.key, depth, r.rate, r.p50, r.p99, r.srvCPU, r.loadCPU, r.otherCPU, r.idleCPU, r.sysPerMsg, brokenNote(r), note)
			if r.disturbed && attempt < o.retries {
				time.Sleep(o.retryPause)
				continue
			}
			results[rowKey{k.key, depth}] = append(results[rowKey{k.key, depth}], r)
			break
		}
	}
	return nil
}

// measureRow runs one depth against a running server and samples the
// server's and the machine's CPU over the measured window.
func measureRow(o *options, s *server, depth int, prof string) (runResult, error) {
	var s0, s1 procSample
	var l0, l1 time.Duration
	var m0, m1 machineCPU
	var p0, p1 procTimes
	spec := loadSpec{
		addr: s.addr, conns: o.conns, size: o.size, depth: depth, threads: o.threads,
		warmup: o.warmup, duration: o.duration,
		onMeasure: func() {
			if prof != "" {
				s.signal(syscall.SIGUSR1)
			}
			p0 = scanProcs()
			s0, l0, m0 = sampleProc(s.pid), selfCPU(), sampleMachine()
		},
		onDone: func() {
			s1, l1, m1 = sampleProc(s.pid), selfCPU(), sampleMachine()
			p1 = scanProcs()
			if prof != "" {
				s.signal(syscall.SIGUSR2)
			}
		},
	}
	res, err := runLoad(spec)
	if err != nil {
		return runResult{}, err
	}
	if !s.alive() {
		return runResult{}, errServerDied
	}
	wall := s1.at.Sub(s0.at)
	sec := wall.Seconds()
	r := runResult{
		rate:    res.rate(),
		p50:     res.hist.quantile(0.50),
		p99:     res.hist.quantile(0.99),
		srvCPU:  (s1.cpu - s0.cpu).Seconds() / sec,
		loadCPU: (l1 - l0).Seconds() / sec,
		idleCPU: (m1.idle - m0.idle).Seconds() / sec,
		broken:  res.brokenCn,
		errs:    res.errs,
	}
	r.otherCPU = max(0, (m1.busy-m0.busy).Seconds()/sec-r.srvCPU-r.loadCPU)
	if res.msgs > 0 {
		r.sysPerMsg = float64((s1.syscr-s0.syscr)+(s1.syscw-s0.syscw)) / float64(res.msgs)
		r.csPerMsg = float64(s1.ctxSwitches-s0.ctxSwitches) / float64(res.msgs)
	}
	r.busiest = busiestOthers(p0, p1, wall, os.Getpid(), s.pid)
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
