package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The HTTP rows (hello, and the sqlite and redis GETs) run under wrk when
// it is installed (-http-load): the load generator the issue names. wrk runs as its own process, so its CPU
// comes from its rusage, not from the bench's.

// HTTP load generators (-http-load).
const (
	loadAuto = "auto"
	loadWrk  = "wrk"
	loadGo   = "go"
)

// resolveHTTPLoad turns -http-load into "wrk" or "go" and, for wrk, finds
// the binary and its version.
func resolveHTTPLoad(o *options) error {
	switch o.httpLoad {
	case loadAuto, loadWrk:
		path, err := exec.LookPath("wrk")
		if err != nil {
			if o.httpLoad == loadWrk {
				return errors.New("-http-load wrk: wrk is not on PATH; install it (apt-get install wrk) or use -http-load go")
			}
			o.httpLoad = loadGo
			return nil
		}
		o.httpLoad, o.wrkPath, o.wrkVersion = loadWrk, path, wrkVersion(path)
	case loadGo:
	default:
		return fmt.Errorf("-http-load: want auto, wrk or go, got %q", o.httpLoad)
	}
	if o.httpLoad != loadWrk || !slices.ContainsFunc(o.sections, httpSection) {
		return nil
	}
	// wrk's -d takes a whole number of seconds (or minutes, hours).
	if o.duration < time.Second || o.duration%time.Second != 0 {
		return fmt.Errorf("-duration %s: wrk (the HTTP load generator) takes whole seconds; use e.g. -duration 3s, or -http-load go", o.duration)
	}
	if o.warmup%time.Second != 0 {
		return fmt.Errorf("-warmup %s: wrk (the HTTP load generator) takes whole seconds; use e.g. -warmup 1s, or -http-load go", o.warmup)
	}
	if o.conns < o.threads {
		return fmt.Errorf("wrk needs at least as many connections (-conns %d) as threads (-threads %d)", o.conns, o.threads)
	}
	return nil
}

var versionRE = regexp.MustCompile(`\d+\.\d+(\.\d+)?`)

// wrkVersion reads the version from `wrk -v` ("wrk debian/4.1.0-3+b2
// [epoll] Copyright ..."; wrk exits 1 after printing it): "4.1.0".
func wrkVersion(path string) string {
	out, _ := exec.Command(path, "-v").CombinedOutput()
	line, _, _ := strings.Cut(string(out), "\n")
	f := strings.Fields(line)
	if len(f) < 2 || f[0] != "wrk" {
		return ""
	}
	if v := versionRE.FindString(f[1]); v != "" {
		return v
	}
	return f[1]
}

// httpWork is what an HTTP section's load asks for and how the bench
// checks the replies before a run.
type httpWork struct {
	// script is the wrk script (-s) and args its arguments (after --);
	// no script: wrk's own request, GET /.
	script string
	args   []string
	// check sends the load's request (or a few of them) and checks the
	// replies, before every run.
	check func(addr netip.AddrPort) error
}

// workOf is section sec's load: GET / for hello; for the data sections
// GET /user?id=N or /get?k=bench:N, N going through every row or key
// (the wrk script wrkGetScript, written to script).
func workOf(sec, script string) httpWork {
	switch sec {
	case secSQLite:
		return httpWork{script: script, args: []string{userPath, strconv.Itoa(sqliteRows)}, check: func(a netip.AddrPort) error {
			return checkGets(a, userPath, checkIDs(sqliteRows), checkUserReply)
		}}
	case secRedis:
		return httpWork{script: script, args: []string{redisPath, strconv.Itoa(redisKeys)}, check: func(a netip.AddrPort) error {
			return checkGets(a, redisPath, checkIDs(redisKeys), checkRedisReply)
		}}
	}
	return httpWork{check: checkHello}
}

// wrkArgs is the command line of one wrk run.
func wrkArgs(o *options, url string, d time.Duration, latency bool, w httpWork) []string {
	args := []string{"-t" + strconv.Itoa(max(1, min(o.threads, o.conns))), "-c" + strconv.Itoa(o.conns), "-d" + strconv.Itoa(int(d/time.Second)) + "s"}
	if latency {
		args = append(args, "--latency")
	}
	if w.script != "" {
		args = append(args, "-s", w.script)
	}
	args = append(args, url)
	if len(w.args) > 0 {
		args = append(append(args, "--"), w.args...)
	}
	return args
}

// wrkLoadLine describes section sec's load for the report, with $P for
// the port and $T for the bench's temp dir.
func wrkLoadLine(o *options, sec string) string {
	url := "http://127.0.0.1:$P/"
	w := workOf(sec, "$T/"+wrkScriptName)
	measure := "wrk " + strings.Join(wrkArgs(o, url, o.duration, true, w), " ")
	if o.warmup <= 0 {
		return "`" + measure + "`"
	}
	return "`wrk " + strings.Join(wrkArgs(o, url, o.warmup, false, w), " ") + "` (warm-up), then `" + measure + "`"
}

// wrkOutput is what wrk printed about one run.
type wrkOutput struct {
	requests  uint64        // responses completed (any status)
	elapsed   time.Duration // wrk's run time, connecting included
	reqPerSec float64       // requests / elapsed
	p50, p99  time.Duration // from the --latency distribution
	latency   bool          // the output had both
	non2xx    uint64        // "Non-2xx or 3xx responses": wrk counts status ≥ 400
	connErrs  uint64        // "Socket errors: connect N, read N, write N, timeout N"
	readErrs  uint64
	writeErrs uint64
	timeouts  uint64
}

var (
	wrkRequestsRE = regexp.MustCompile(`^\s*(\d+) requests in ([0-9.]+[a-z]+),`)
	wrkRateRE     = regexp.MustCompile(`^Requests/sec:\s+([0-9.]+)\s*$`)
	wrkPctRE      = regexp.MustCompile(`^\s*([0-9.]+)%\s+([0-9.]+[a-z]+)\s*$`)
	wrkSocketRE   = regexp.MustCompile(`^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)\s*$`)
	wrkNon2xxRE   = regexp.MustCompile(`^\s*Non-2xx or 3xx responses: (\d+)\s*$`)
)

// parseWrk reads wrk 4's report of a run (the percentiles only with
// --latency).
func parseWrk(out string) (wrkOutput, error) {
	var w wrkOutput
	var haveReqs, haveRate, have50, have99, inDist bool
	for _, line := range strings.Split(out, "\n") {
		if strings.TrimSpace(line) == "Latency Distribution" {
			inDist = true
			continue
		}
		if inDist {
			if m := wrkPctRE.FindStringSubmatch(line); m != nil {
				d, err := parseWrkTime(m[2])
				if err != nil {
					return w, fmt.Errorf("latency distribution %q: %w", strings.TrimSpace(line), err)
				}
				switch m[1] {
				case "50":
					w.p50, have50 = d, true
				case "99":
					w.p99, have99 = d, true
				}
				continue
			}
			inDist = false
		}
		if m := wrkRequestsRE.FindStringSubmatch(line); m != nil {
			n, err := strconv.ParseUint(m[1], 10, 64)
			if err != nil {
				return w, fmt.Errorf("requests %q: %w", m[1], err)
			}
			d, err := parseWrkTime(m[2])
			if err != nil {
				return w, fmt.Errorf("run time %q: %w", m[2], err)
			}
			w.requests, w.elapsed, haveReqs = n, d, true
		} else if m := wrkRateRE.FindStringSubmatch(line); m != nil {
			v, err := strconv.ParseFloat(m[1], 64)
			if err != nil {
				return w, fmt.Errorf("Requests/sec %q: %w", m[1], err)
			}
			w.reqPerSec, haveRate = v, true
		} else if m := wrkSocketRE.FindStringSubmatch(line); m != nil {
			for i, p := range []*uint64{&w.connErrs, &w.readErrs, &w.writeErrs, &w.timeouts} {
				*p, _ = strconv.ParseUint(m[i+1], 10, 64)
			}
		} else if m := wrkNon2xxRE.FindStringSubmatch(line); m != nil {
			w.non2xx, _ = strconv.ParseUint(m[1], 10, 64)
		}
	}
	switch {
	case !haveReqs:
		return w, errors.New(`no "N requests in T" line`)
	case !haveRate:
		return w, errors.New(`no "Requests/sec:" line`)
	}
	w.latency = have50 && have99
	return w, nil
}

// parseWrkTime reads wrk's time format: a number and us, ms, s, m or h.
func parseWrkTime(s string) (time.Duration, error) {
	i := strings.IndexFunc(s, func(r rune) bool { return r >= 'a' && r <= 'z' })
	if i <= 0 {
		return 0, fmt.Errorf("time %q without a unit", s)
	}
	v, err := strconv.ParseFloat(s[:i], 64)
	if err != nil {
		return 0, fmt.Errorf("time %q: %w", s, err)
	}
	unit, ok := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second, "m": time.Minute, "h": time.Hour}[s[i:]]
	if !ok {
		return 0, fmt.Errorf("time %q: unknown unit", s)
	}
	return time.Duration(math.Round(v * float64(unit))), nil
}

// failures lists what wrk counted as failed, shortest form first; empty
// for a clean run (wrk prints neither error line then).
func (w wrkOutput) failures() (short, long []string) {
	if w.non2xx > 0 {
		short = append(short, fmt.Sprintf("%d status ≥ 400", w.non2xx))
		long = append(long, fmt.Sprintf("%d of %d responses had a status ≥ 400 (wrk's \"Non-2xx or 3xx responses\")", w.non2xx, w.requests))
	}
	if errs := w.connErrs + w.readErrs + w.writeErrs + w.timeouts; errs > 0 {
		short = append(short, fmt.Sprintf("%d socket errors", errs))
		long = append(long, fmt.Sprintf("wrk socket errors: connect %d, read %d, write %d, timeout %d (timed-out requests are not in the latencies)", w.connErrs, w.readErrs, w.writeErrs, w.timeouts))
	}
	return short, long
}

// runWrk runs wrk once and returns its output and its CPU time.
func runWrk(o *options, url string, d time.Duration, latency bool, w httpWork) (string, time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, o.wrkPath, wrkArgs(o, url, d, latency, w)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var cpu time.Duration
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	if err != nil {
		return out.String(), cpu, fmt.Errorf("wrk %s: %v\n%s", strings.Join(cmd.Args[1:], " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), cpu, nil
}

// wrkRequest is the request wrk sends for a URL without a script.
func wrkRequest(host string) []byte { return wrkGet("/", host) }

// checkHello sends wrk's request twice on one connection and checks both
// replies as the Go load generator checks every reply (status 200,
// Content-Length, body "hello world", connection kept open): wrk itself
// counts only statuses ≥ 400 and never looks at the body.
func checkHello(addr netip.AddrPort) error {
	c, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	rc := &rrConn{want: []byte("hello world")}
	buf := make([]byte, 0, 4096)
	tmp := make([]byte, 4096)
	for i := 1; i <= 2; i++ {
		if _, err := c.Write(wrkRequest(addr.String())); err != nil {
			return fmt.Errorf("request %d: write: %w", i, err)
		}
		buf = buf[:0]
		for {
			n, rerr := c.Read(tmp)
			buf = append(buf, tmp[:n]...)
			k, err := parseHTTPReply(rc, buf)
			if err != nil {
				return fmt.Errorf("reply %d: %w", i, err)
			}
			if k > 0 {
				if k < len(buf) {
					return fmt.Errorf("reply %d: %d unexpected bytes after it: %q", i, len(buf)-k, clip(buf[k:], 80))
				}
				break
			}
			if rerr != nil {
				return fmt.Errorf("reply %d after %d bytes (%q): %w", i, len(buf), clip(buf, 80), rerr)
			}
		}
	}
	return nil
}

// measureWrk measures one HTTP run (hello, or a data section's GETs)
// with wrk against a running server: check the replies, warm up, then the
// measured wrk run, with the CPU window around the measured wrk process.
func measureWrk(o *options, s *server, prof string, work httpWork) (runResult, error) {
	url := "http://" + s.addr.String() + "/"
	if err := work.check(s.addr); err != nil {
		return runResult{}, fmt.Errorf("the server's reply to wrk's request is wrong, not running wrk: %w", err)
	}
	if o.warmup > 0 {
		out, _, err := runWrk(o, url, o.warmup, false, work)
		if err != nil {
			return runResult{}, fmt.Errorf("warm-up: %w", err)
		}
		if w, err := parseWrk(out); err == nil {
			if _, long := w.failures(); len(long) > 0 {
				logf("%s warm-up: %s", s.kind.key, strings.Join(long, "; "))
			}
		}
	}
	a := openAllocs(s)
	w := openWindow(s, prof != "")
	out, wrkCPU, err := runWrk(o, url, o.duration, true, work)
	u := w.closeExt(true, wrkCPU)
	a.end()
	if err != nil {
		return runResult{}, err
	}
	if !s.alive() {
		return runResult{}, errServerDied
	}
	wo, err := parseWrk(out)
	if err != nil {
		return runResult{}, fmt.Errorf("wrk's output: %w\n%s", err, out)
	}
	if !wo.latency {
		return runResult{}, fmt.Errorf("wrk's output has no 50%% and 99%% latency\n%s", out)
	}
	if wo.requests == 0 {
		return runResult{}, fmt.Errorf("wrk completed no request\n%s", out)
	}
	r := runResult{
		rate:       wo.reqPerSec,
		p50:        wo.p50,
		p99:        wo.p99,
		srvCPU:     u.srv,
		loadCPU:    u.load,
		idleCPU:    u.idle,
		otherCPU:   u.other,
		backendCPU: u.backend,
		busyCPU:    u.busy,
		busiest:    u.busiest,
	}
	r.allocs, r.allocsOK = a.perOp(wo.requests)
	r.failShort, r.fails = wo.failures()
	r.sysPerMsg = float64(u.syscalls) / float64(wo.requests)
	r.csPerMsg = float64(u.ctxSwitches) / float64(wo.requests)
	r.disturbed = r.otherCPU > o.maxOther
	return r, nil
}
