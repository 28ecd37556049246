package main

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/imscript/imscript/tests/bench/internal/refserver"
)

// Allocations per operation (-allocs): the servers written in Go report
// the Go runtime's count of heap allocations, go_memstats_mallocs_total,
// on a Prometheus /metrics endpoint: imscript with --metrics (its
// runtime collector), gnetecho and goref with BENCH_METRICS=HOST:PORT
// (refserver). The bench reads it just before a measured window opens and
// just after it closes (so the reads' own CPU is outside the window) and
// divides by the operations of the window.

// mallocsMetric is the counter read.
const mallocsMetric = "go_memstats_mallocs_total"

// startMeasured starts server k for a throughput section (tcp, http,
// sqlite, redis, ws): with -allocs, an imscript row with --metrics on a
// free port (but in the tcp section, whose lua and js rows are the
// reference of the --metrics rows lua-metrics and js-metrics: those
// report the count) and a Go reference row with BENCH_METRICS. Rows that
// run with --metrics anyway (lua-metrics) report it too.
func startMeasured(o *options, b *builds, sec string, k serverKind, prof string) (*server, error) {
	var env []string
	switch {
	case !o.allocs:
	case k.refMetrics:
		if port, err := freePort(); err == nil {
			env = append(env, refserver.MetricsEnv+"=127.0.0.1:"+strconv.Itoa(port))
		}
	case k.script != "" && prof == "" && sec != secTCP && o.baseline == "":
		k = withMetrics(k)
	}
	s, err := startServer(k, b, prof, env...)
	if err != nil {
		return nil, err
	}
	if o.allocs {
		s.metrics = metricsURL(s.cmd)
	}
	return s, nil
}

// withMetrics is imscript row k run with --metrics on a free port.
func withMetrics(k serverKind) serverKind {
	inner := k.cmd
	k.cmd = func(b *builds, port int, prof string) *exec.Cmd {
		cmd := inner(b, port, prof)
		if slices.Contains(cmd.Args, "--metrics") || len(cmd.Args) < 2 || cmd.Args[1] != "run" {
			return cmd
		}
		mport, err := freePort()
		if err != nil {
			return cmd
		}
		cmd.Args = slices.Insert(cmd.Args, 2, "--metrics", "127.0.0.1:"+strconv.Itoa(mport))
		return cmd
	}
	return k
}

// metricsURL is the /metrics URL of a started server: from its
// --metrics argument or its BENCH_METRICS variable; "" for none.
func metricsURL(cmd *exec.Cmd) string {
	if i := slices.Index(cmd.Args, "--metrics"); i > 0 && i+1 < len(cmd.Args) {
		return "http://" + cmd.Args[i+1] + "/metrics"
	}
	for _, kv := range cmd.Env {
		if v, ok := strings.CutPrefix(kv, refserver.MetricsEnv+"="); ok && v != "" {
			return "http://" + v + "/metrics"
		}
	}
	return ""
}

var metricsClient = &http.Client{Timeout: 5 * time.Second}

// readMallocs reads the server's allocation count; ok is false for a
// server without metrics or when the read fails (logged).
func readMallocs(s *server) (n float64, ok bool) {
	if s.metrics == "" {
		return 0, false
	}
	n, err := scrapeCounter(s.metrics, mallocsMetric)
	if err != nil {
		logf("%s: %s: %v", s.kind.key, mallocsMetric, err)
		return 0, false
	}
	return n, true
}

// scrapeCounter fetches a Prometheus text exposition and returns the
// value of the unlabelled metric name.
func scrapeCounter(url, name string) (float64, error) {
	resp, err := metricsClient.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), name+" ")
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return 0, fmt.Errorf("%s %q: %w", name, v, err)
		}
		return f, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("GET %s: %w", url, err)
	}
	return 0, errors.New("no " + name + " in " + url)
}

// allocWindow reads the count at a window's two ends.
type allocWindow struct {
	s      *server
	n0, n1 float64
	ok     bool
}

// openAllocs reads the count as a window opens (before the CPU window).
func openAllocs(s *server) *allocWindow {
	w := &allocWindow{s: s}
	w.n0, w.ok = readMallocs(s)
	return w
}

// end reads the count as the window closes (after the CPU window).
func (w *allocWindow) end() {
	if w.ok {
		w.n1, w.ok = readMallocs(w.s)
	}
}

// perOp is the allocations of the window per operation; ok is false
// when the count is unknown.
func (w *allocWindow) perOp(ops uint64) (float64, bool) {
	if w == nil || !w.ok || ops == 0 || w.n1 < w.n0 {
		return 0, false
	}
	return (w.n1 - w.n0) / float64(ops), true
}

// medianAllocs is the median allocations per operation over the runs
// that have the figure.
func medianAllocs(runs []runResult) (float64, bool) {
	var xs []float64
	for _, r := range usable(runs) {
		if r.allocsOK {
			xs = append(xs, r.allocs)
		}
	}
	if len(xs) == 0 {
		return 0, false
	}
	return median(xs), true
}

// fmtAllocs formats allocations per operation ("—" when unknown).
func fmtAllocs(runs []runResult) string {
	a, ok := medianAllocs(runs)
	if !ok {
		return "—"
	}
	if a >= 100 {
		return fmt.Sprintf("%.0f", a)
	}
	return fmt.Sprintf("%.1f", a)
}
