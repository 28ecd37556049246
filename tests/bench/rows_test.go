package main

import (
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The nginx row, as the bench starts it, answers wrk's request as the
// other HTTP rows do (checkHello: 200, Content-Length, "hello world",
// kept open), and its CPU is sampled over its master and its workers.
func TestNginxRow(t *testing.T) {
	setup := findNginx()
	if setup.err != nil {
		msg := fmt.Sprintf("%v (apt-get install %s)", setup.err, strings.Join(nginxPackages, " "))
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	b := &builds{dir: t.TempDir(), root: t.TempDir(), workers: 2, nginx: setup}
	s, err := startServer(nginxKind, b, "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.stop()
	if err := checkHello(s.addr); err != nil {
		t.Fatalf("reply: %v\n%s", err, s.log.String())
	}
	// master + 2 workers
	deadline := time.Now().Add(20 * time.Second)
	for len(procTree(s.pid)) != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("nginx's process tree %v, want the master and 2 workers", procTree(s.pid))
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.stop()
	if s.alive() {
		t.Error("nginx still runs after stop")
	}
}

// Without nginx the row is skipped with the packages named, and the
// table says so.
func TestNginxSkipped(t *testing.T) {
	b := &builds{nginx: nginxSetup{err: fmt.Errorf("skipped: nginx is not installed, and apt-get is not here to install %s", strings.Join(nginxPackages, " "))}}
	_, err := startServer(nginxKind, b, "")
	if err == nil || !strings.Contains(err.Error(), "libnginx-mod-http-lua") {
		t.Fatalf("start without nginx: %v", err)
	}
	res := &results{rowErrs: map[string][]string{}}
	res.fail(secHTTP, "nginx", "run 1: "+err.Error())
	if got := failedCell(res, secHTTP, "nginx"); !strings.HasPrefix(got, "skipped: nginx is not installed") {
		t.Errorf("cell %q", got)
	}
	res.fail(secHTTP, "lua", "run 1: server exited")
	if got := failedCell(res, secHTTP, "lua"); got != "failed" {
		t.Errorf("cell %q", got)
	}
}

func TestNginxConf(t *testing.T) {
	c := nginxConf([]string{"/m/ndk.so", "/m/lua.so"}, 2, 8123, "/tmp/x")
	for _, want := range []string{
		"load_module /m/ndk.so;\nload_module /m/lua.so;\n",
		"worker_processes 2;", "pid /tmp/x/nginx.pid;", "error_log /tmp/x/error.log warn;",
		"access_log off;", "keepalive_requests 1000000000;", "listen 127.0.0.1:8123;",
		`ngx.print("hello world")`, "client_body_temp_path /tmp/x/tmp/body;",
	} {
		if !strings.Contains(c, want) {
			t.Errorf("nginx.conf lacks %q:\n%s", want, c)
		}
	}
	if shown := nginxConfShown(nil, 2); !strings.Contains(shown, "listen 127.0.0.1:$P;") {
		t.Errorf("shown conf:\n%s", shown)
	}
}

// sampleProc counts a process's children.
func TestProcTree(t *testing.T) {
	cmd := exec.Command("sh", "-c", "sleep 60 & sleep 60 & wait")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, p := range procTree(cmd.Process.Pid)[1:] {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		tree := procTree(cmd.Process.Pid)
		if len(tree) == 3 && tree[0] == cmd.Process.Pid {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tree %v, want sh and its two sleeps", tree)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// -busy runs a process that spins, whose CPU busyCPU sees, and its stop
// ends it.
func TestBusy(t *testing.T) {
	o := &options{busy: 1}
	stop := startBusy(o, "test")
	if len(busyPids) != 1 {
		stop()
		t.Fatalf("busy pids %v", busyPids)
	}
	pid := busyPids[0]
	deadline := time.Now().Add(20 * time.Second)
	for busyCPU() < 50*time.Millisecond {
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("busy-loop CPU %s after 20 s", busyCPU())
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	if len(busyPids) != 0 {
		t.Errorf("busy pids after stop: %v", busyPids)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
		t.Errorf("busy-loop process %d still there after stop", pid)
	}
	if !strings.Contains(busyLine(o), "-busy 1") || busyLine(&options{}) != "" {
		t.Errorf("busy line %q", busyLine(o))
	}
}

// The allocation count is read from a Prometheus text exposition.
func TestScrapeCounter(t *testing.T) {
	n := 0
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		fmt.Fprintf(w, "# HELP go_memstats_mallocs_total Total number of heap objects allocated.\n# TYPE go_memstats_mallocs_total counter\n"+
			"go_memstats_mallocs_total_other 7\ngo_memstats_mallocs_total %d\ngo_memstats_frees_total 3\n", 1000*n+15049)
	}))
	defer ts.Close()
	s := &server{metrics: ts.URL + "/metrics", kind: serverKind{key: "lua"}}
	a := openAllocs(s)
	a.end()
	if got, ok := a.perOp(500); !ok || got != 2 {
		t.Errorf("allocs/op %v, %v; want 2", got, ok)
	}
	if _, ok := (&allocWindow{}).perOp(10); ok {
		t.Error("a window without metrics has allocs/op")
	}
	if _, err := scrapeCounter(ts.URL, "go_memstats_nothing"); err == nil {
		t.Error("a missing metric read without error")
	}
	runs := []runResult{{rate: 100, srvCPU: 0.001, allocs: 27.25, allocsOK: true}, {rate: 100, srvCPU: 0.001}}
	if got := perOpCells(runs); got != "10.00 µs | 27.2" {
		t.Errorf("cells %q", got)
	}
}

// -allocs runs the imscript rows of the request/reply sections with
// --metrics (not the tcp rows, not with -baseline) and the Go references
// with BENCH_METRICS.
func TestAllocsArgs(t *testing.T) {
	b := &builds{imscript: "/x/imscript", goref: "/x/goref", root: "/r", workers: 2}
	k, _ := findKind(httpKinds, "lua")
	cmd := withMetrics(k).cmd(b, 9000, "")
	i := slices.Index(cmd.Args, "--metrics")
	if i != 2 || !strings.HasPrefix(cmd.Args[i+1], "127.0.0.1:") || cmd.Args[1] != "run" {
		t.Fatalf("args %q", cmd.Args)
	}
	if got := metricsURL(cmd); got != "http://"+cmd.Args[i+1]+"/metrics" {
		t.Errorf("metrics URL %q", got)
	}
	if m, _ := findKind(tcpEchoKinds, "lua-metrics"); metricsURL(withMetrics(m).cmd(b, 9000, "")) == "" {
		t.Error("lua-metrics has no metrics URL")
	}
	if again := withMetrics(withMetrics(k)).cmd(b, 9000, ""); strings.Count(strings.Join(again.Args, " "), "--metrics") != 1 {
		t.Errorf("args %q", again.Args)
	}
	ref := exec.Command("/x/goref")
	ref.Env = []string{"A=1", "BENCH_METRICS=127.0.0.1:9"}
	if got := metricsURL(ref); got != "http://127.0.0.1:9/metrics" {
		t.Errorf("goref metrics URL %q", got)
	}
	for _, args := range [][]string{{"-allocs=false"}, {"-busy", "2"}} {
		o, err := parseArgs(append(args, "-bench", "tcp"), flag.ContinueOnError)
		if err != nil {
			t.Fatal(err)
		}
		if o.allocs == (args[0] == "-allocs=false") || (args[0] == "-busy") != (o.busy == 2) {
			t.Errorf("%q: allocs %v busy %d", args, o.allocs, o.busy)
		}
	}
	if _, err := parseArgs([]string{"-busy", "-1"}, flag.ContinueOnError); err == nil {
		t.Error("-busy -1 accepted")
	}
}

// A full run rewrites the marked tables of the docs page with its own;
// a run that lacks one of their sections, or a busy one, leaves the page.
func TestWriteDocs(t *testing.T) {
	md := strings.Join([]string{
		"# imscript benchmark", "", "## TCP echo", "", "text", "",
		"| server | msgs/s |", "|---|---:|", "| gnet | 2.4M |", "",
		"### Where the CPU goes", "", "| cpu |", "|---|", "| no |", "",
		"## HTTP hello", "", "| server | req/s |", "|---|---:|", "| nginx | 98k |", "",
		"## Memory: 10,000 idle TCP connections", "", "| tcp mem |", "|---|", "",
		"## Memory: 10,000 idle WebSocket connections", "", "| ws mem |", "|---|", "",
		"## Targets of issue 2 (TCP)", "", "| target | measured | result |", "|---|---|---|", "| a | 1 | PASS |", "",
		"## Targets of issue 3 (HTTP)", "", "| target | measured | result |", "|---|---|---|", "| b | 2 | **FAIL** |", "",
	}, "\n")
	page := "# Benchmark\n\n<!-- bench:run -->\nFrom the run of then.\n<!-- /bench:run -->\n\n" +
		"**TCP**\n\n<!-- bench:tcp -->\n| old |\n<!-- /bench:tcp -->\n\n<!-- bench:http -->\n| old |\n<!-- /bench:http -->\n\n" +
		"<!-- bench:tcpmem -->\n| old |\n<!-- /bench:tcpmem -->\n<!-- bench:wsmem -->\n| old |\n<!-- /bench:wsmem -->\n\n" +
		"<!-- bench:targets -->\n| old |\n<!-- /bench:targets -->\n\nThe end.\n"
	path := t.TempDir() + "/benchmark.md"
	if err := os.WriteFile(path, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	m := machine{cpus: 2, goVer: "go1.26.8", nodeVer: "v20.20.2", nginx: "nginx 1.22.1"}
	partial := &options{sections: []string{secTCP, secHTTP, secTCPMem}, httpLoad: loadGo}
	if wrote, why, err := writeDocs(partial, m, path, md); wrote || err != nil || !strings.Contains(why, "wsmem") {
		t.Errorf("partial run: wrote %v, %q, %v", wrote, why, err)
	}
	busy := &options{sections: []string{secTCP, secHTTP, secTCPMem, secWSMem}, busy: 1}
	if wrote, _, err := writeDocs(busy, m, path, md); wrote || err != nil {
		t.Errorf("busy run: wrote %v, %v", wrote, err)
	}
	full := &options{sections: []string{secTCP, secHTTP, secTCPMem, secWSMem}, httpLoad: loadGo}
	if wrote, why, err := writeDocs(full, m, path, md); !wrote || err != nil {
		t.Fatalf("full run: wrote %v, %q, %v", wrote, why, err)
	}
	got, _ := os.ReadFile(path)
	want := "# Benchmark\n\n<!-- bench:run -->\nFrom the run of " + time.Now().UTC().Format("2006-01-02") + " "
	if !strings.HasPrefix(string(got), want) || !strings.Contains(string(got), "(2 cores, go1.26.8, Node.js v20.20.2, nginx 1.22.1).\n<!-- /bench:run -->") {
		t.Errorf("run sentence:\n%s", got)
	}
	for _, w := range []string{
		"<!-- bench:tcp -->\n| server | msgs/s |\n|---|---:|\n| gnet | 2.4M |\n<!-- /bench:tcp -->",
		"<!-- bench:http -->\n| server | req/s |\n|---|---:|\n| nginx | 98k |\n<!-- /bench:http -->",
		"<!-- bench:tcpmem -->\n| tcp mem |\n|---|\n<!-- /bench:tcpmem -->",
		"<!-- bench:wsmem -->\n| ws mem |\n|---|\n<!-- /bench:wsmem -->",
		"<!-- bench:targets -->\n| target | measured | result |\n|---|---|---|\n| a | 1 | PASS |\n| b | 2 | **FAIL** |\n<!-- /bench:targets -->\n\nThe end.\n",
	} {
		if !strings.Contains(string(got), w) {
			t.Errorf("page lacks\n%s\n---\n%s", w, got)
		}
	}
	if strings.Contains(string(got), "| old |") || strings.Contains(string(got), "| cpu |") {
		t.Errorf("old or wrong tables left:\n%s", got)
	}
}

// docs/benchmark.md has every block a full run writes, each closed.
func TestDocsMarkers(t *testing.T) {
	b, err := os.ReadFile("../../docs/benchmark.md")
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"run", "targets"}
	for _, blk := range docBlocks {
		names = append(names, blk.name)
	}
	for _, n := range names {
		i, j := strings.Index(string(b), marker(n, false)), strings.Index(string(b), marker(n, true))
		if i < 0 || j < i {
			t.Errorf("docs/benchmark.md: block %s: markers at %d and %d", n, i, j)
		}
	}
}

// The HTTP table has the per-operation columns, "vs nginx" with the nginx
// row, and says when the nginx row was skipped; -busy marks it.
func TestReportColumns(t *testing.T) {
	o, err := parseArgs([]string{"-bench", "http", "-rows", "lua,node,nginx", "-http-load", "go", "-busy", "1"}, flag.ContinueOnError)
	if err != nil {
		t.Fatal(err)
	}
	res := &results{tput: map[rowKey][]runResult{}, rowErrs: map[string][]string{}}
	res.tput[rowKey{secHTTP, "lua", 1}] = []runResult{{rate: 50000, srvCPU: 1, allocs: 27.2, allocsOK: true, busyCPU: 0.9}}
	res.tput[rowKey{secHTTP, "node", 1}] = []runResult{{rate: 40000, srvCPU: 1}}
	res.fail(secHTTP, "nginx", "run 1: skipped: nginx is not installed, and apt-get is not here to install nginx libnginx-mod-http-lua")
	md := report(o, machine{cpus: 2}, res, time.Second)
	for _, want := range []string{
		"| server | req/s | vs Node | vs nginx | server CPU/op | allocs/op | p50 latency | p99 latency | req/s of each run |",
		"| imscript Lua | 50k | 1.25× | — | 20.00 µs | 27.2 | ",
		"| Node.js http | 40k | 1.00× | — | 25.00 µs | — | ",
		"| nginx + lua-nginx-module (content_by_lua_block) | — | — | — | — | — | — | — | skipped: nginx is not installed, and apt-get is not here to install nginx libnginx-mod-http-lua |",
		"## HTTP hello\n\n**Busy machine (-busy 1)**",
		"| busy-loop CPU (cores) |", "| imscript Lua | 1.00 | 20.00 µs | 0.00 | 0.90 |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}
