package main

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

func numCPU() int { return runtime.NumCPU() }

// report renders the results as markdown.
func report(o *options, m machine, res *results, took time.Duration) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	results := res.tput

	p("# imscript benchmark\n\n")
	p("Command: `go run ./tests/bench%s` (from the repository root)  \n", argString(os.Args[1:]))
	p("Date: %s; the run took %s  \n", time.Now().Format("2006-01-02 15:04 MST"), took.Round(time.Second))
	p("Machine: %d CPUs (%s), Linux %s, %s, Node.js %s", m.cpus, orDash(m.cpu), orDash(m.kernel), orDash(m.goVer), orDash(m.nodeVer))
	if len(m.npm) > 0 {
		var pkgs []string
		for name, v := range m.npm {
			pkgs = append(pkgs, name+" "+v)
		}
		sort.Strings(pkgs)
		p(" with %s", strings.Join(pkgs, ", "))
	}
	if m.redis != "" {
		p(", redis-server %s", m.redis)
	}
	if m.nginx != "" {
		p(", %s", m.nginx)
	}
	p(", RLIMIT_NOFILE %d  \n", m.nofile)
	if m.commit != "" {
		p("imscript commit: %s  \n", m.commit)
	}
	if o.baseline != "" {
		p("Baseline (rows *-base): `%s`, built from %s  \n", o.baseline, o.baseRev)
	}
	if o.busy > 0 {
		p("%s: every section ran with %d busy-loop process(es) beside it, each spinning one core.  \n", busyHeading(o), o.busy)
	}
	inBench := slices.ContainsFunc(o.sections, func(sec string) bool { return !httpSection(sec) })
	anyHTTP := slices.ContainsFunc(o.sections, httpSection)
	switch {
	case anyHTTP && o.httpLoad == loadWrk && inBench:
		p("The load generators (%d epoll threads in the bench process; for the HTTP tables, %s with %d threads, as its own process) share those cores with the server under test.\n\n",
			o.threads, wrkName(o), max(1, min(o.threads, o.conns)))
	case anyHTTP && o.httpLoad == loadWrk:
		p("The load generator (%s with %d threads, as its own process) shares those cores with the server under test.\n\n", wrkName(o), max(1, min(o.threads, o.conns)))
	default:
		p("The load generator (%d epoll threads in the bench process) shares those cores with the server under test.\n\n", o.threads)
	}

	if o.has(secTCP) {
		p("## TCP echo\n\n")
		p("%s", busyLine(o))
		p("%d connections, %d-byte messages. Pipeline depth N: each connection writes N messages, reads N×%d bytes back, and repeats. "+
			"A message's latency runs from its batch's write to the read that completes its bytes. "+
			"Median of %d run(s) of %s each, after %s of warm-up; each run starts a fresh server process. "+
			"\"vs ceiling\" is msgs/s divided by the bare gnet echo's at the same depth. "+
			"A run marked * was disturbed (other work on the machine took more than %.2f cores, see below) even after %d retries; "+
			"medians leave disturbed runs out when a row has undisturbed ones. %s\n\n",
			o.conns, o.size, o.size, o.repeat, o.duration, o.warmup, o.maxOther, o.retries, perOpNote(o, secTCP))
		p("| server | depth | msgs/s | vs ceiling | server CPU/op | allocs/op | p50 latency | p99 latency | msgs/s of each run |\n")
		p("|---|---:|---:|---:|---:|---:|---:|---:|---|\n")
		for _, k := range o.selected(secTCP) {
			for _, d := range o.depths {
				runs := results[rowKey{secTCP, k.key, d}]
				if len(runs) == 0 {
					p("| %s | %d | — | — | — | — | — | — | %s |\n", k.label, d, failedCell(res, secTCP, k.key))
					continue
				}
				rate := medianOf(runs, func(r runResult) float64 { return r.rate })
				p("| %s | %d | %s | %s | %s | %s | %s | %s |\n", k.label, d, fmtRate(rate), ratioString(results, rowKey{secTCP, "gnet", d}, rowKey{secTCP, k.key, d}),
					perOpCells(runs),
					fmtLatency(medianOf(runs, func(r runResult) float64 { return float64(r.p50) })),
					fmtLatency(medianOf(runs, func(r runResult) float64 { return float64(r.p99) })),
					eachRun(runs))
			}
		}
		cpuTable(&b, o, results, secTCP, o.depths)
		baselineTable(&b, o, results, secTCP, o.depths)
	}

	for _, sec := range []string{secHTTP, secSQLite, secRedis, secWS} {
		if !o.has(sec) {
			continue
		}
		if dataSection(sec) {
			dataReport(&b, o, res, sec)
			continue
		}
		unit := "req/s"
		if sec == secHTTP {
			p("\n## HTTP hello\n\n")
			p("%s", busyLine(o))
			p("Load: %s.\n\n", httpLoadDesc(o))
			if o.httpLoad == loadWrk {
				p("%d keep-alive connections, each with one request outstanding: `GET / HTTP/1.1` with only a Host header (wrk's request), answered 200 with the body \"hello world\" "+
					"(Content-Type text/plain, Content-Length). wrk parses every response's HTTP framing and counts statuses ≥ 400 and socket errors, but does not look at bodies, "+
					"so before each run the bench sends its request twice on one connection and checks both replies (status 200, Content-Length, body, connection kept open); "+
					"statuses ≥ 400 and socket errors (none in a clean run) are listed under each run and in Problems. "+
					"Each run is %s, on a fresh server: req/s is wrk's Requests/sec (completed responses over its run time, which includes opening the connections), "+
					"p50/p99 its --latency percentiles (from a request's write to its response's completion; a request over wrk's 2 s timeout is a timeout error, not a latency). ",
					o.conns, wrkLoadLine(o, secHTTP))
			} else {
				p("%d keep-alive connections, each with one request outstanding (as wrk): `GET / HTTP/1.1`, answered 200 with the body \"hello world\" "+
					"(Content-Type text/plain, Content-Length). The load generator parses every response (status, Content-Length, body). "+
					"Latency runs from a request's write to the read that completes its response. ", o.conns)
			}
		} else {
			unit = "msgs/s"
			p("\n## WebSocket echo\n\n")
			p("%s", busyLine(o))
			p("%d upgraded WebSocket connections (no compression offered), each with one message outstanding: a masked %d-byte text frame, "+
				"answered with the same payload in one unmasked text frame, which the load generator parses and compares. "+
				"Latency runs from a message's write to the read that completes its echo. ", o.conns, o.size)
		}
		_, vsNginx := findKind(o.selected(sec), nginxKind.key)
		nginxHead, nginxSep, nginxNote := "", "", ""
		if vsNginx {
			nginxHead, nginxSep, nginxNote = " vs nginx |", "---:|", ", \"vs nginx\" by nginx + lua-nginx-module's"
		}
		p("Median of %d run(s) of %s each, after %s of warm-up; each run starts a fresh server process; "+
			"\"vs Node\" is the rate divided by Node.js's%s. %s Disturbed runs (*) as in the TCP table.\n\n", o.repeat, o.duration, o.warmup, nginxNote, perOpNote(o, sec))
		p("| server | %s | vs Node |%s server CPU/op | allocs/op | p50 latency | p99 latency | %s of each run |\n", unit, nginxHead, unit)
		p("|---|---:|---:|%s---:|---:|---:|---:|---|\n", nginxSep)
		for _, k := range o.selected(sec) {
			runs := results[rowKey{sec, k.key, 1}]
			if len(runs) == 0 {
				p("| %s | — | — |", k.label)
				if vsNginx {
					p(" — |")
				}
				p(" — | — | — | — | %s |\n", failedCell(res, sec, k.key))
				continue
			}
			rate := medianOf(runs, func(r runResult) float64 { return r.rate })
			p("| %s | %s | %s |", k.label, fmtRate(rate), ratioX(results, rowKey{sec, "node", 1}, rowKey{sec, k.key, 1}))
			if vsNginx {
				p(" %s |", ratioX(results, rowKey{sec, nginxKind.key, 1}, rowKey{sec, k.key, 1}))
			}
			p(" %s | %s | %s | %s |\n", perOpCells(runs),
				fmtLatency(medianOf(runs, func(r runResult) float64 { return float64(r.p50) })),
				fmtLatency(medianOf(runs, func(r runResult) float64 { return float64(r.p99) })),
				eachRun(runs))
		}
		cpuTable(&b, o, results, sec, []int{1})
		baselineTable(&b, o, results, sec, []int{1})
	}

	if o.has(secRoom) {
		roomReport(&b, o, res)
	}

	for _, sec := range []string{secTCPMem, secWSMem} {
		if !o.has(sec) {
			continue
		}
		what := "TCP connections"
		if sec == secWSMem {
			what = "WebSocket connections"
		}
		p("\n## Memory: %s idle %s\n\n", fmtInt(o.idle), what)
		p("%s", busyLine(o))
		if sec == secTCPMem {
			p("A fresh server process (the TCP echo servers); PSS and RSS from /proc/PID/smaps_rollup before and after %s connections that send nothing "+
				"(read once the server holds all their descriptors and has settled for %s). The bench raises its soft RLIMIT_NOFILE to the hard limit and the servers inherit it.\n\n", fmtInt(o.idle), 3*o.settle)
		} else {
			p("A fresh server process (the WebSocket echo servers); PSS and RSS before and after %s connections that complete the WebSocket handshake "+
				"and then send nothing (read after the last handshake and %s of settling).\n\n", fmtInt(o.idle), 3*o.settle)
		}
		p("| server | PSS before | PSS with %s connections | PSS per connection | RSS before | RSS with %s connections | RSS per connection |\n", fmtInt(o.idle), fmtInt(o.idle))
		p("|---|---:|---:|---:|---:|---:|---:|\n")
		for _, k := range o.selected(sec) {
			mr, ok := res.mem[memKey{sec, k.key}]
			if !ok {
				p("| %s | — | — | failed | — | — | — |\n", k.label)
				continue
			}
			p("| %s | %s | %s | %.2f KiB | %s | %s | %.2f KiB |\n", k.label,
				fmtKiB(mr.before.pss), fmtKiB(mr.after.pss), mr.pssPerConn(),
				fmtKiB(mr.before.rss), fmtKiB(mr.after.rss), mr.rssPerConn())
		}
	}

	if o.has(secStorm) {
		stormReport(p, o, res)
	}

	if o.has(secCluster) {
		clusterReport(&b, o, res)
	}

	targets(&b, o, res)

	p("\n## How each server runs\n\n")
	p("$T is the bench's temp dir, $P a free port, $W the folder the bench installs Node's packages into (-node-dir), a folder per package; the servers listen on 127.0.0.1.\n\n")
	for _, sec := range []string{secTCP, secHTTP, secSQLite, secRedis, secWS, secRoom, secCluster} {
		used := o.has(sec) || (sec == secTCP && o.has(secTCPMem)) || (sec == secWS && o.has(secWSMem))
		if !used {
			continue
		}
		title := map[string]string{secTCP: "TCP echo (every byte back unchanged)", secHTTP: "HTTP hello",
			secSQLite: fmt.Sprintf("SQLite (GET /user?id=N; every server with BENCH_SQLITE=$T/bench.db BENCH_POOL=%d in its environment)", o.pool),
			secRedis:  fmt.Sprintf("Redis (GET /get?k=bench:N; every server with BENCH_REDIS=redis://127.0.0.1:$R/0 BENCH_POOL=%d in its environment, $R the port of `redis-server --port $R --bind 127.0.0.1 --save \"\" --appendonly no`, started by the bench for the section)", o.pool),
			secWS:     "WebSocket echo (every message back unchanged)", secRoom: "Room broadcast (every message to every client)",
			secCluster: fmt.Sprintf("Cluster (room broadcast over %d nodes; $P_i the port of node i, $R_i its route port, $N nats-server's port, $H -cluster-history (%d); $DATA is `--data $T/cluster-KEY` when $H > 0, else nothing)", o.clusterNodes, o.clusterHistory)}[sec]
		p("%s:\n\n", title)
		for _, k := range o.selected(sec) {
			p("- %s: `%s`\n", k.label, k.line(o.workers))
			if k.key == nginxKind.key && sec == secHTTP {
				p("  (Debian's packages: `apt-get install %s`, which the bench runs when they are missing), with this nginx.conf:\n\n  ```nginx\n  %s\n  ```\n\n",
					strings.Join(nginxPackages, " "), strings.ReplaceAll(strings.TrimSpace(nginxConfShown(nil, o.workers)), "\n", "\n  "))
			}
		}
		if httpSection(sec) && o.has(sec) {
			if o.httpLoad == loadWrk {
				p("\nLoad (%s): %s\n", wrkName(o), wrkLoadLine(o, sec))
			} else {
				p("\nLoad: the bench's Go load generator (`-http-load go`), in the bench process.\n")
			}
		}
		p("\n")
	}
	if len(o.serverEnv) > 0 {
		p("Every server ran with %s added to its environment (-server-env).\n", strings.Join(o.serverEnv, " "))
	}
	if o.profile != "" {
		p("This run profiled the Go servers: the imscript rows ran under tests/bench/imsprof (the same host as `imscript run`, plus a profiler), gnetecho and goref with -cpuprofile; profiles in %s. "+
			"The memory rows of the Go servers ran with heap profiling (runtime.MemProfileRate=512), which costs memory of its own: "+
			"use a run without -profile for the memory numbers.\n", o.profile)
	}

	problems(&b, o, res)
	return b.String()
}

// cpuTable writes where the CPU went in a throughput section.
func cpuTable(b *strings.Builder, o *options, results map[rowKey][]runResult, sec string, depths []int) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	p("\n### Where the CPU goes (medians)\n\n")
	if sec == secTCP {
		p("Over the measured window: server CPU from /proc/PID/stat, its syscalls from /proc/PID/io (syscr+syscw: the read and write families, not epoll_wait or futex), " +
			"context switches summed over the server's threads; \"other\" is machine-wide busy CPU (/proc/stat) charged to neither process: " +
			"mostly loopback softirq work, or other programs on the machine (a large value means the run was disturbed).\n\n")
	} else if httpSection(sec) && o.httpLoad == loadWrk {
		p("As for the TCP echo, over the window from just before the measured wrk process starts to just after it exits; per message = per request/reply. " +
			"The load generator CPU is wrk's own (user+system from its rusage, all its threads) plus the bench process's, which only waits for wrk.\n\n")
	} else {
		p("As for the TCP echo; per message = per request/reply.\n\n")
	}
	backendCol := sec == secRedis
	if backendCol {
		p("redis-server's CPU (from its /proc/PID/stat over the same window) is its own column, counted neither as the server's nor as other.\n\n")
	}
	depthCol := sec == secTCP
	backendHead, backendSep := "", ""
	if backendCol {
		backendHead, backendSep = " redis-server CPU (cores) | redis-server CPU per msg |", "---:|---:|"
	}
	busyHead, busySep := "", ""
	if o.busy > 0 {
		busyHead, busySep = " busy-loop CPU (cores) |", "---:|"
	}
	if depthCol {
		p("| server | depth | server CPU (cores) | server CPU per msg | load generator CPU (cores) |%s other / idle CPU (cores) | server read+write syscalls per msg | server context switches per msg |\n", busyHead)
		p("|---|---:|---:|---:|---:|%s---:|---:|---:|\n", busySep)
	} else {
		p("| server | server CPU (cores) | server CPU per msg |%s load generator CPU (cores) |%s other / idle CPU (cores) | server read+write syscalls per msg | server context switches per msg |\n", backendHead, busyHead)
		p("|---|---:|---:|%s---:|%s---:|---:|---:|\n", backendSep, busySep)
	}
	for _, k := range o.selected(sec) {
		for _, d := range depths {
			runs := results[rowKey{sec, k.key, d}]
			if len(runs) == 0 {
				continue
			}
			rate := medianOf(runs, func(r runResult) float64 { return r.rate })
			cpu := medianOf(runs, func(r runResult) float64 { return r.srvCPU })
			perMsg := "—"
			if rate > 0 {
				perMsg = fmt.Sprintf("%.2f µs", cpu*1e6/rate)
			}
			p("| %s", k.label)
			if depthCol {
				p(" | %d", d)
			}
			p(" | %.2f | %s", cpu, perMsg)
			if backendCol {
				bcpu := medianOf(runs, func(r runResult) float64 { return r.backendCPU })
				p(" | %.2f | %s", bcpu, fmtCPUPerOp(cpuPerOp(bcpu, rate)))
			}
			p(" | %.2f", medianOf(runs, func(r runResult) float64 { return r.loadCPU }))
			if o.busy > 0 {
				p(" | %.2f", medianOf(runs, func(r runResult) float64 { return r.busyCPU }))
			}
			p(" | %.2f / %.2f | %.3f | %.3f |\n",
				medianOf(runs, func(r runResult) float64 { return r.otherCPU }),
				medianOf(runs, func(r runResult) float64 { return r.idleCPU }),
				medianOf(runs, func(r runResult) float64 { return r.sysPerMsg }),
				medianOf(runs, func(r runResult) float64 { return r.csPerMsg }))
		}
	}
}

// roomSummary is a broadcast row over its -room-repeat runs: medians of
// the undisturbed runs (of all when every run was disturbed), the largest
// loss, delivered/expected of the run that lost the most, the largest max
// latency.
type roomSummary struct {
	runs                   []*roomResult
	rate                   float64 // deliveries/s achieved
	sent                   int     // of the run that lost the most
	received, expected     uint64  // of the run that lost the most
	lost                   uint64  // the most any run lost
	p50, p99, maxLat       time.Duration
	srv, load, other, idle float64 // cores
	backend                float64 // cores of the backend (the cluster section's nats-server)
	pss, rss               int64
	disturbed              bool // every run was disturbed
}

func summarizeRoom(runs []*roomResult) (roomSummary, bool) {
	if len(runs) == 0 {
		return roomSummary{}, false
	}
	use := make([]*roomResult, 0, len(runs))
	for _, r := range runs {
		if !r.disturbed {
			use = append(use, r)
		}
	}
	sum := roomSummary{runs: runs, disturbed: len(use) == 0}
	if len(use) == 0 {
		use = runs
	}
	med := func(f func(r *roomResult) float64) float64 {
		xs := make([]float64, len(use))
		for i, r := range use {
			xs[i] = f(r)
		}
		return median(xs)
	}
	sum.rate = med(func(r *roomResult) float64 { return r.deliveryRate() })
	sum.p50 = time.Duration(med(func(r *roomResult) float64 { return float64(r.hist.quantile(0.5)) }))
	sum.p99 = time.Duration(med(func(r *roomResult) float64 { return float64(r.hist.quantile(0.99)) }))
	sum.srv = med(func(r *roomResult) float64 { return r.cpu.srv })
	sum.load = med(func(r *roomResult) float64 { return r.cpu.load })
	sum.other = med(func(r *roomResult) float64 { return r.cpu.other })
	sum.idle = med(func(r *roomResult) float64 { return r.cpu.idle })
	sum.pss = int64(med(func(r *roomResult) float64 { return float64(r.pss) }))
	sum.rss = int64(med(func(r *roomResult) float64 { return float64(r.rss) }))
	sum.backend = med(func(r *roomResult) float64 { return r.cpu.backend })
	worst := runs[0]
	for _, r := range runs {
		sum.maxLat = max(sum.maxLat, time.Duration(r.hist.max))
		if r.lost > worst.lost {
			worst = r
		}
	}
	sum.lost, sum.sent, sum.received, sum.expected = worst.lost, worst.sent, worst.received, worst.expected
	return sum, true
}

// roomOf summarizes one broadcast row.
func roomOf(res *results, key string, rate int) (roomSummary, bool) {
	return summarizeRoom(res.room[roomKey{key, rate}])
}

// roomReport writes the broadcast table.
func roomReport(b *strings.Builder, o *options, res *results) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	p("\n## Room broadcast\n\n")
	p("%s", busyLine(o))
	p("%s WebSocket clients, all in one room; %d of them send %d-byte text messages at a fixed total rate (round-robin, paced by one goroutine), "+
		"and the server sends every message to every client, the sender too: N msgs/s in make N×%s deliveries/s. "+
		"Each message carries a sequence number and its send time, so each delivery gives an end-to-end latency (send → that client's read). "+
		"After %s of warm-up (not counted), the first rate is measured for %s; then the others (stress) for %s each, without warm-up; every row has fresh connections, all on the same server process. "+
		"After each row's sending the bench waits up to %s (or until nothing at all arrives for 1 s) for late deliveries. "+
		"\"delivered\" counts every delivery of a measured message after that drain; lost = expected − delivered (per message, duplicates not offsetting); "+
		"latency percentiles cover delivered messages only. \"deliveries/s\" counts those that arrived while sending. "+
		"CPU is over the sending window; the load generator (%d epoll reader threads and the sending goroutine) shares the cores with the server. "+
		"Server memory is read after the drain.",
		fmtInt(o.roomClients), o.roomSenders, max(o.size, roomHeader), fmtInt(o.roomClients), o.roomWarmup, o.roomDuration, o.stressDur, o.roomDrain, o.threads)
	if o.roomRepeat > 1 {
		p(" Every server ran %d times (-room-repeat; each time a fresh server process and all the rates), the servers taking turns; "+
			"each cell is the median over the runs (of the undisturbed ones when there are some), except lost and delivered / expected, from the run that lost the most, and max latency, the largest of all runs.", o.roomRepeat)
	}
	p("\n\n")
	p("| server | msgs/s in | deliveries/s expected | deliveries/s achieved | delivered / expected | lost | p50 latency | p99 latency | max latency | server CPU (cores) | load generator CPU (cores) | other / idle CPU (cores) | server PSS after |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, rate := range o.roomRates {
		for _, k := range o.selected(secRoom) {
			r, ok := roomOf(res, k.key, rate)
			if !ok {
				p("| %s | %s | %s | failed | — | — | — | — | — | — | — | — | — |\n", k.label, fmtInt(rate), fmtRate(float64(rate*o.roomClients)))
				continue
			}
			mark := ""
			if r.disturbed {
				mark = "*"
			}
			lost := fmtInt(int(r.lost))
			if r.lost > 0 {
				lost = fmt.Sprintf("**%s** (%.1f%%)", lost, 100*float64(r.lost)/float64(max(r.expected, 1)))
			}
			p("| %s | %s | %s | %s%s | %s / %s | %s | %s | %s | %s | %.2f | %.2f | %.2f / %.2f | %s |\n", k.label, fmtInt(rate), fmtRate(float64(rate*o.roomClients)),
				fmtRate(r.rate), mark, fmtInt(int(r.received)), fmtInt(int(r.expected)), lost,
				fmtLongLatency(r.p50), fmtLongLatency(r.p99), fmtLongLatency(r.maxLat),
				r.srv, r.load, r.other, r.idle, fmtKiB(r.pss))
		}
	}
	p("\nA row marked * was disturbed (other work took more than %.2f cores while sending); broadcast rows are not retried.\n", o.maxOther)
	roomBaselineTable(b, o, res)
}

// basePairs lists a section's baseline rows whose imscript row is
// selected too: [imscript row, baseline row].
func basePairs(o *options, sec string) [][2]serverKind {
	var pairs [][2]serverKind
	sel := o.selected(sec)
	for _, k := range sel {
		if k.base == "" {
			continue
		}
		if n, ok := findKind(sel, k.base); ok {
			pairs = append(pairs, [2]serverKind{n, k})
		}
	}
	return pairs
}

// regression is how much worse new is than base may get before a ratio
// is marked: new below 0.95 of the old performance.
const regression = 0.95

// ratioCell formats new/base; higherBetter says which way is a
// regression: a rate below 0.95× the baseline's, or a latency or CPU cost
// above 1/0.95× the baseline's. bad reports whether it marked one.
func ratioCell(nw, base float64, higherBetter bool) (cell string, bad, ok bool) {
	if nw <= 0 || base <= 0 {
		return "—", false, false
	}
	r := nw / base
	bad = r < regression
	if !higherBetter {
		bad = base/nw < regression
	}
	cell = fmt.Sprintf("%.3f", r)
	if bad {
		cell = "**" + cell + " ⚠**"
	}
	return cell, bad, true
}

// baselineNote explains the new/baseline tables; the verdict counts the
// marked ratios.
func baselineNote(b *strings.Builder, what string) {
	fmt.Fprintf(b, "Each imscript row next to the same row run by the baseline binary (-baseline), measured alternately: in every repeat the new row, then the baseline row, each on a fresh server process. "+
		"Ratios are new ÷ baseline of the medians above (%s). "+
		"**⚠** marks a regression of more than 5%%: a rate ratio below %.2f, or a p99 latency or server CPU per operation ratio above %.3f (= 1/%.2f: the new figure, counted as speed, below %.2f of the old one).\n\n",
		what, regression, 1/regression, regression, regression)
}

func baselineVerdict(b *strings.Builder, bad, total int) {
	switch {
	case total == 0:
		fmt.Fprintf(b, "\nNo pair has results on both sides.\n")
	case bad == 0:
		fmt.Fprintf(b, "\nAll %d ratios are within 5%% of the baseline (or better).\n", total)
	default:
		fmt.Fprintf(b, "\n**%d of %d ratios are regressions of more than 5%% (marked ⚠).**\n", bad, total)
	}
}

// baselineTable writes a throughput section's new/baseline ratios.
func baselineTable(b *strings.Builder, o *options, results map[rowKey][]runResult, sec string, depths []int) {
	pairs := basePairs(o, sec)
	if len(pairs) == 0 {
		return
	}
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	unit, op := "msgs/s", "msg"
	if httpSection(sec) {
		unit, op = "req/s", "request"
	}
	p("\n### New / baseline\n\n")
	baselineNote(b, "p99: the median of the runs' p99s; CPU per "+op+": median server cores ÷ median rate; the last column divides each repeat's two runs, * when either was disturbed")
	depthCol := sec == secTCP
	if depthCol {
		p("| server | depth | %s new / baseline | %s ratio | p99 new / baseline | p99 ratio | server CPU per %s new / baseline | CPU per %s ratio | %s ratio of each repeat |\n", unit, unit, op, op, unit)
		p("|---|---:|---:|---:|---:|---:|---:|---:|---|\n")
	} else {
		p("| server | %s new / baseline | %s ratio | p99 new / baseline | p99 ratio | server CPU per %s new / baseline | CPU per %s ratio | %s ratio of each repeat |\n", unit, unit, op, op, unit)
		p("|---|---:|---:|---:|---:|---:|---:|---|\n")
	}
	bad, total := 0, 0
	count := func(c string, isBad, ok bool) string {
		if ok {
			total++
		}
		if isBad {
			bad++
		}
		return c
	}
	for _, pr := range pairs {
		for _, d := range depths {
			nr, br := results[rowKey{sec, pr[0].key, d}], results[rowKey{sec, pr[1].key, d}]
			p("| %s", pr[0].label)
			if depthCol {
				p(" | %d", d)
			}
			if len(nr) == 0 || len(br) == 0 {
				p(" | — | — | — | — | — | — | — |\n")
				continue
			}
			nRate, bRate := medianOf(nr, func(r runResult) float64 { return r.rate }), medianOf(br, func(r runResult) float64 { return r.rate })
			nP99, bP99 := medianOf(nr, func(r runResult) float64 { return float64(r.p99) }), medianOf(br, func(r runResult) float64 { return float64(r.p99) })
			nCPU, bCPU := cpuPerOp(medianOf(nr, func(r runResult) float64 { return r.srvCPU }), nRate), cpuPerOp(medianOf(br, func(r runResult) float64 { return r.srvCPU }), bRate)
			p(" | %s / %s | %s | %s / %s | %s | %s / %s | %s | %s |\n",
				fmtRate(nRate), fmtRate(bRate), count(ratioCell(nRate, bRate, true)),
				fmtLatency(nP99), fmtLatency(bP99), count(ratioCell(nP99, bP99, false)),
				fmtCPUPerOp(nCPU), fmtCPUPerOp(bCPU), count(ratioCell(nCPU, bCPU, false)),
				eachRepeatRatio(nr, br))
		}
	}
	baselineVerdict(b, bad, total)
}

// eachRepeatRatio is new ÷ baseline rate of each repeat, the two runs
// measured one after the other; * when either was disturbed.
func eachRepeatRatio(nr, br []runResult) string {
	var parts []string
	for _, n := range nr {
		for _, b := range br {
			if b.rep != n.rep || b.rate <= 0 {
				continue
			}
			c := fmt.Sprintf("%.2f", n.rate/b.rate)
			if n.disturbed || b.disturbed {
				c += "*"
			}
			parts = append(parts, c)
		}
	}
	return orDash(strings.Join(parts, ", "))
}

// roomBaselineTable writes the broadcast rows' new/baseline ratios.
func roomBaselineTable(b *strings.Builder, o *options, res *results) {
	pairs := basePairs(o, secRoom)
	if len(pairs) == 0 {
		return
	}
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	p("\n### New / baseline\n\n")
	what := "server CPU per delivery: server cores ÷ deliveries/s achieved; lost is not a ratio: new, baseline, bold when the new row lost more"
	if o.roomRepeat > 1 {
		what = fmt.Sprintf("over %d runs each: medians, p99 the median of the runs' p99s; ", o.roomRepeat) + what + " (the most either lost in a run)"
	}
	baselineNote(b, what)
	p("| server | msgs/s in | deliveries/s new / baseline | deliveries/s ratio | p99 new / baseline | p99 ratio | server CPU per delivery new / baseline | CPU per delivery ratio | lost new / baseline |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	bad, total := 0, 0
	count := func(c string, isBad, ok bool) string {
		if ok {
			total++
		}
		if isBad {
			bad++
		}
		return c
	}
	for _, rate := range o.roomRates {
		for _, pr := range pairs {
			n, okN := roomOf(res, pr[0].key, rate)
			bs, okB := roomOf(res, pr[1].key, rate)
			if !okN || !okB {
				p("| %s | %s | — | — | — | — | — | — | — |\n", pr[0].label, fmtInt(rate))
				continue
			}
			nCPU, bCPU := cpuPerOp(n.srv, n.rate), cpuPerOp(bs.srv, bs.rate)
			lost := fmtInt(int(n.lost)) + " / " + fmtInt(int(bs.lost))
			if n.lost > bs.lost {
				lost = "**" + lost + "**"
			}
			p("| %s | %s | %s / %s | %s | %s / %s | %s | %s / %s | %s | %s |\n", pr[0].label, fmtInt(rate),
				fmtRate(n.rate), fmtRate(bs.rate), count(ratioCell(n.rate, bs.rate, true)),
				fmtLongLatency(n.p99), fmtLongLatency(bs.p99), count(ratioCell(float64(n.p99), float64(bs.p99), false)),
				fmtCPUPerOp(nCPU), fmtCPUPerOp(bCPU), count(ratioCell(nCPU, bCPU, false)), lost)
		}
	}
	baselineVerdict(b, bad, total)
}

// cpuPerOp is server CPU seconds per operation (0 when unknown).
func cpuPerOp(cores, rate float64) float64 {
	if rate <= 0 {
		return 0
	}
	return cores / rate
}

func fmtCPUPerOp(s float64) string {
	if s <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f µs", s*1e6)
}

// targets writes the pass/fail table of the issues' "Must reach" lists.
func targets(b *strings.Builder, o *options, res *results) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	results := res.tput
	rate := func(k rowKey) (float64, bool) {
		runs := results[k]
		if len(runs) == 0 {
			return 0, false
		}
		return medianOf(runs, func(r runResult) float64 { return r.rate }), true
	}
	// target writes one row; why says why a target that could not be
	// judged (!ok) was not ("" when it was not run).
	target := func(name string, ok bool, why, measured string, pass bool) {
		switch {
		case !ok && why == "":
			p("| %s | not measured in this run | — |\n", name)
		case !ok && strings.Contains(why, "not 10,000"):
			p("| %s | %s | — |\n", name, why)
		case !ok:
			p("| %s | %s | **FAIL** |\n", name, why)
		case pass:
			p("| %s | %s | PASS |\n", name, measured)
		default:
			p("| %s | %s | **FAIL** |\n", name, measured)
		}
	}
	lang := map[string]string{"lua": "Lua", "js": "JS"}
	// missing says why a target could not be judged: "" when its section
	// or servers were not run, else which row failed.
	missing := func(sec string, keys ...string) string {
		if !o.has(sec) {
			return ""
		}
		var failed []string
		for _, key := range keys {
			if _, ok := findKind(o.selected(sec), key); !ok {
				return ""
			}
			if len(res.rowErrs[sec+"/"+key]) > 0 {
				failed = append(failed, key)
			}
		}
		if len(failed) == 0 {
			return "no result (see Problems)"
		}
		return "the " + strings.Join(failed, " and ") + " row failed (see Problems)"
	}
	// fewIdle explains a memory target measured with fewer connections.
	fewIdle := func(ok bool, why string, mr memResult) string {
		if ok && o.idle < 10000 {
			return fmt.Sprintf("%.2f KiB, but at %s connections, not 10,000", mr.pssPerConn(), fmtInt(o.idle))
		}
		return why
	}
	if o.has(secTCP) || o.has(secTCPMem) {
		p("\n## Targets of issue 2 (TCP, \"Must reach\")\n\n")
		p("| target | measured | result |\n|---|---|---|\n")
		if o.has(secTCP) {
			const td = 16
			lua, okL := rate(rowKey{secTCP, "lua", td})
			js, okJ := rate(rowKey{secTCP, "js", td})
			node, okN := rate(rowKey{secTCP, "node", td})
			ceil, okC := rate(rowKey{secTCP, "gnet", td})
			target("pipeline 16: Lua echo ≥ Node.js net echo", okL && okN, missing(secTCP, "lua", "node"),
				fmt.Sprintf("Lua %s vs Node %s msgs/s (%.2f×)", fmtRate(lua), fmtRate(node), lua/node), lua >= node)
			target("pipeline 16: Lua echo ≥ 75% of the gnet ceiling", okL && okC, missing(secTCP, "lua", "gnet"),
				fmt.Sprintf("%.0f%% (%s of %s msgs/s)", 100*lua/ceil, fmtRate(lua), fmtRate(ceil)), lua >= 0.75*ceil)
			target("pipeline 16: JS echo ≥ 60% of the gnet ceiling", okJ && okC, missing(secTCP, "js", "gnet"),
				fmt.Sprintf("%.0f%% (%s of %s msgs/s)", 100*js/ceil, fmtRate(js), fmtRate(ceil)), js >= 0.60*ceil)
			for _, key := range []string{"lua", "js"} {
				off, okOff := rate(rowKey{secTCP, key, td})
				on, okOn := rate(rowKey{secTCP, key + "-metrics", td})
				target(fmt.Sprintf("pipeline 16, imscript %s: with --metrics ≥ 0.95 of without", lang[key]), okOff && okOn, missing(secTCP, key, key+"-metrics"),
					fmt.Sprintf("%.3f (%s vs %s msgs/s)", on/off, fmtRate(on), fmtRate(off)), on >= 0.95*off)
			}
		}
		if o.has(secTCPMem) {
			for _, key := range []string{"lua", "js"} {
				mr, ok := res.mem[memKey{secTCPMem, key}]
				target(fmt.Sprintf("≤ 1 KiB server PSS per idle TCP connection at %s connections (imscript %s)", fmtInt(o.idle), lang[key]),
					ok && o.idle >= 10000, fewIdle(ok, missing(secTCPMem, key), mr), fmt.Sprintf("%.2f KiB", mr.pssPerConn()), mr.pssPerConn() <= 1)
			}
		}
	}
	if o.has(secHTTP) || o.has(secWS) || o.has(secRoom) || o.has(secWSMem) {
		p("\n## Targets of issue 3 (HTTP and WebSocket, \"Must reach\")\n\n")
		p("| target | measured | result |\n|---|---|---|\n")
		if o.has(secHTTP) {
			lua, okL := rate(rowKey{secHTTP, "lua", 1})
			node, okN := rate(rowKey{secHTTP, "node", 1})
			failed := ""
			if hasFails(results[rowKey{secHTTP, "lua", 1}]) {
				failed = "; the Lua runs had failed requests, see Problems"
			}
			target("HTTP hello, 100 keep-alive connections: Lua ≥ 1.5× Node.js http req/s", okL && okN, missing(secHTTP, "lua", "node"),
				fmt.Sprintf("Lua %s vs Node %s req/s (%.2f×; load: %s%s)", fmtRate(lua), fmtRate(node), lua/node, httpLoadShort(o), failed), lua >= 1.5*node && failed == "")
		}
		if o.has(secWS) {
			lua, okL := rate(rowKey{secWS, "lua", 1})
			node, okN := rate(rowKey{secWS, "node", 1})
			target("WebSocket echo, 100 connections: Lua ≥ 1.3× Node.js + ws msgs/s", okL && okN, missing(secWS, "lua", "node"),
				fmt.Sprintf("Lua %s vs Node %s msgs/s (%.2f×)", fmtRate(lua), fmtRate(node), lua/node), lua >= 1.3*node)
		}
		if o.has(secRoom) && len(o.roomRates) > 0 {
			rt := o.roomRates[0]
			node, okN := roomOf(res, "node", rt)
			for _, key := range []string{"lua", "js"} {
				if _, ok := findKind(o.selected(secRoom), key); !ok {
					continue
				}
				r, ok := roomOf(res, key, rt)
				name := fmt.Sprintf("Room broadcast, %s clients, %s msgs/s in: imscript %s loses nothing and its p99 latency is below Node.js + ws's", fmtInt(o.roomClients), fmtInt(rt), lang[key])
				if !ok || !okN {
					target(name, false, missing(secRoom, key, "node"), "", false)
					continue
				}
				rp, np := r.p99, node.p99
				target(name, true, "", fmt.Sprintf("%s lost %s, p99 %s; Node lost %s, p99 %s", lang[key], fmtInt(int(r.lost)), fmtLongLatency(rp), fmtInt(int(node.lost)), fmtLongLatency(np)),
					r.lost == 0 && r.received == r.expected && r.sent > 0 && rp < np)
			}
		}
		if o.has(secWSMem) {
			for _, key := range []string{"lua", "js"} {
				mr, ok := res.mem[memKey{secWSMem, key}]
				target(fmt.Sprintf("≤ 2 KiB server PSS per idle WebSocket connection at %s connections (imscript %s)", fmtInt(o.idle), lang[key]),
					ok && o.idle >= 10000, fewIdle(ok, missing(secWSMem, key), mr), fmt.Sprintf("%.2f KiB", mr.pssPerConn()), mr.pssPerConn() <= 2)
			}
		}
	}
	if o.has(secRoom) || o.has(secStorm) || o.has(secWSMem) {
		p("\n## Targets of history and recovery (\"Must reach\")\n\n")
		p("| target | measured | result |\n|---|---|---|\n")
		for _, key := range []string{"lua", "js"} {
			if !o.has(secRoom) || len(o.roomRates) == 0 {
				break
			}
			if _, ok := findKind(o.selected(secRoom), key+"-hdisk"); ok {
				rt := o.roomRates[0]
				off, okOff := roomOf(res, key, rt)
				disk, okDisk := roomOf(res, key+"-hdisk", rt)
				target(fmt.Sprintf("Broadcast with history on disk, %s clients × %s msgs/s in (imscript %s): 0 lost, p99 ≤ 1.5× the history-off p99", fmtInt(o.roomClients), fmtInt(rt), lang[key]),
					okOff && okDisk, missing(secRoom, key, key+"-hdisk"),
					fmt.Sprintf("lost %s; p99 %s vs %s history off (%.2f×)", fmtInt(int(disk.lost)), fmtLongLatency(disk.p99), fmtLongLatency(off.p99), float64(disk.p99)/float64(off.p99)),
					disk.lost == 0 && disk.received == disk.expected && disk.sent > 0 && float64(disk.p99) <= 1.5*float64(off.p99))
			}
			if _, ok := findKind(o.selected(secRoom), key+"-hmem"); ok && slices.Contains(o.roomRates, 1000) {
				mem, okMem := roomOf(res, key+"-hmem", 1000)
				target(fmt.Sprintf("Broadcast at 1,000 msgs/s in, history in memory (imscript %s): 0 lost", lang[key]),
					okMem, missing(secRoom, key+"-hmem"),
					fmt.Sprintf("lost %s of %s, p99 %s", fmtInt(int(mem.lost)), fmtInt(int(mem.expected)), fmtLongLatency(mem.p99)),
					mem.lost == 0 && mem.received == mem.expected && mem.sent > 0)
			}
		}
		if o.has(secStorm) {
			for _, k := range o.selected(secStorm) {
				r, ok := res.storm[k.key]
				why := ""
				if !ok {
					why = "the run failed"
				}
				var pl, rc time.Duration
				if ok {
					pl, rc = medianDur(r.plain), medianDur(r.recover)
				}
				target(fmt.Sprintf("Recovery storm, %s (%s clients, %d missed each): every client exact, done within 2× plain reconnects", k.label, fmtInt(o.stormClients), o.stormMissed),
					ok, why, fmt.Sprintf("%s of %s exact; recover %s vs plain %s (%.2f×)", fmtInt(r.safeExact()), fmtInt(r.safeClients()), rc.Round(time.Millisecond), pl.Round(time.Millisecond), float64(rc)/float64(max(pl, 1))),
					ok && r.exact == r.clients && rc <= 2*pl)
			}
		}
		if o.has(secWSMem) {
			for _, key := range []string{"lua", "js"} {
				mr, ok := res.mem[memKey{secWSMem, key + "-hmem"}]
				if _, sel := findKind(o.selected(secWSMem), key+"-hmem"); !sel {
					continue
				}
				target(fmt.Sprintf("≤ 2 KiB server PSS per idle WebSocket connection, a member of a room with history, at %s connections (imscript %s)", fmtInt(o.idle), lang[key]),
					ok && o.idle >= 10000, fewIdle(ok, missing(secWSMem, key+"-hmem"), mr), fmt.Sprintf("%.2f KiB", mr.pssPerConn()), mr.pssPerConn() <= 2)
			}
		}
	}
	if o.has(secSQLite) || o.has(secRedis) {
		p("\n## Targets of the data modules (SQLite and Redis, \"Must reach\")\n\n")
		p("| target | measured | result |\n|---|---|---|\n")
		other := map[string]string{"go": "Go", "node": "Node"}
		for _, t := range dataTargets {
			if !o.has(t.sec) {
				continue
			}
			lua, okL := rate(rowKey{t.sec, "lua", 1})
			ref, okR := rate(rowKey{t.sec, t.other, 1})
			failed := ""
			if hasFails(results[rowKey{t.sec, "lua", 1}]) {
				failed = "; the Lua runs had failed requests, see Problems"
			}
			target(t.name, okL && okR, missing(t.sec, "lua", t.other),
				fmt.Sprintf("Lua %s vs %s %s req/s (%.2f×; load: %s%s)", fmtRate(lua), other[t.other], fmtRate(ref), lua/ref, httpLoadShort(o), failed),
				lua >= t.factor*ref && failed == "")
		}
	}
	if o.has(secCluster) {
		clusterTargets(p, target, missing, o, res)
	}
	var noisy []string
	for k, runs := range results {
		if allDisturbed(runs) {
			noisy = append(noisy, fmt.Sprintf("%s %s depth %d", k.sec, k.key, k.depth))
		}
	}
	if len(noisy) > 0 {
		sort.Strings(noisy)
		p("\nEvery run of these rows was disturbed, so their numbers are unreliable: %s.\n", strings.Join(noisy, ", "))
	}
}

// problems lists failed rows, broken connections and disturbed runs.
func problems(b *strings.Builder, o *options, res *results) {
	var lines []string
	for _, sec := range o.sections {
		for _, k := range o.selected(sec) {
			for _, e := range res.rowErrs[sec+"/"+k.key] {
				lines = append(lines, fmt.Sprintf("- %s %s: %s", sec, k.key, firstLine(e)))
			}
		}
	}
	for _, sec := range []string{secTCP, secHTTP, secSQLite, secRedis, secWS} {
		depths := []int{1}
		if sec == secTCP {
			depths = o.depths
		}
		for _, k := range o.selected(sec) {
			for _, d := range depths {
				for i, r := range res.tput[rowKey{sec, k.key, d}] {
					where := fmt.Sprintf("%s %s run %d", sec, k.key, i+1)
					if sec == secTCP {
						where = fmt.Sprintf("tcp %s depth %d run %d", k.key, d, i+1)
					}
					if r.broken > 0 {
						lines = append(lines, fmt.Sprintf("- %s: %d connections broke (%s)", where, r.broken, strings.Join(r.errs, "; ")))
					}
					for _, f := range r.fails {
						lines = append(lines, fmt.Sprintf("- %s: %s", where, f))
					}
					if r.disturbed {
						lines = append(lines, fmt.Sprintf("- %s: disturbed, %.2f cores of other work (busiest other processes: %s)", where, r.otherCPU, orDash(r.busiest)))
					}
				}
			}
		}
	}
	for _, rate := range o.roomRates {
		for _, k := range o.selected(secRoom) {
			for _, r := range res.room[roomKey{k.key, rate}] {
				roomProblems(&lines, o, k, rate, r)
			}
		}
	}
	clusterProblems(&lines, o, res)
	if len(lines) > 0 {
		fmt.Fprintf(b, "\n## Problems in this run\n\n%s\n", strings.Join(lines, "\n"))
	}
}

// roomProblems adds one broadcast run's problems to lines.
func roomProblems(lines *[]string, o *options, k serverKind, rate int, r *roomResult) {
	where := fmt.Sprintf("room %s %d msgs/s", k.key, rate)
	if o.roomRepeat > 1 {
		where += fmt.Sprintf(" run %d", r.run)
	}
	if r.broken > 0 || len(r.errs) > 0 {
		*lines = append(*lines, fmt.Sprintf("- %s: %d connections broke (%s)", where, r.broken, strings.Join(r.errs, "; ")))
	}
	if r.dups > 0 {
		*lines = append(*lines, fmt.Sprintf("- %s: %d duplicate deliveries", where, r.dups))
	}
	if r.lagging > 50*time.Millisecond {
		*lines = append(*lines, fmt.Sprintf("- %s: the sender fell up to %s behind its schedule", where, r.lagging.Round(time.Millisecond)))
	}
	if r.disturbed {
		*lines = append(*lines, fmt.Sprintf("- %s: disturbed, %.2f cores of other work (busiest other processes: %s)", where, r.cpu.other, orDash(r.cpu.busiest)))
	}
}

// wrkName is "wrk 4.1.0".
func wrkName(o *options) string {
	if o.wrkVersion == "" {
		return "wrk"
	}
	return "wrk " + o.wrkVersion
}

// httpLoadDesc says which load generator measured the HTTP table.
func httpLoadDesc(o *options) string {
	if o.httpLoad == loadWrk {
		return fmt.Sprintf("%s, %d threads, %d connections (its own process; `-http-load go` runs the bench's Go generator instead)", wrkName(o), max(1, min(o.threads, o.conns)), o.conns)
	}
	return fmt.Sprintf("the bench's Go load generator, %d epoll threads in the bench process, %d connections (`-http-load wrk` runs wrk instead, when installed)", o.threads, o.conns)
}

// httpLoadShort names the HTTP load generator in the targets table.
func httpLoadShort(o *options) string {
	if o.httpLoad == loadWrk {
		return wrkName(o)
	}
	return "the bench's Go generator"
}

func ratioString(results map[rowKey][]runResult, base, row rowKey) string {
	c, ok1 := rateOf(results, base)
	r, ok2 := rateOf(results, row)
	if !ok1 || !ok2 || c == 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f%%", 100*r/c)
}

// ratioX is row's rate as a multiple of base's.
func ratioX(results map[rowKey][]runResult, base, row rowKey) string {
	c, ok1 := rateOf(results, base)
	r, ok2 := rateOf(results, row)
	if !ok1 || !ok2 || c == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", r/c)
}

func rateOf(results map[rowKey][]runResult, k rowKey) (float64, bool) {
	runs := results[k]
	if len(runs) == 0 {
		return 0, false
	}
	return medianOf(runs, func(r runResult) float64 { return r.rate }), true
}

// fmtLongLatency formats latencies that may run to seconds.
func fmtLongLatency(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= 100*time.Millisecond:
		return fmt.Sprintf("%.0f ms", d.Seconds()*1e3)
	}
	return fmtLatency(float64(d))
}

// medianOf is the median of f over the undisturbed runs, or over all runs
// when every run was disturbed.
func medianOf(runs []runResult, f func(runResult) float64) float64 {
	var xs []float64
	for _, r := range usable(runs) {
		xs = append(xs, f(r))
	}
	return median(xs)
}

func usable(runs []runResult) []runResult {
	var ok []runResult
	for _, r := range runs {
		if !r.disturbed {
			ok = append(ok, r)
		}
	}
	if len(ok) == 0 {
		return runs
	}
	return ok
}

// hasFails reports whether a run counted failed requests (wrk's statuses
// ≥ 400 or socket errors).
func hasFails(runs []runResult) bool {
	for _, r := range runs {
		if len(r.fails) > 0 {
			return true
		}
	}
	return false
}

func allDisturbed(runs []runResult) bool {
	for _, r := range runs {
		if !r.disturbed {
			return false
		}
	}
	return len(runs) > 0
}

func eachRun(runs []runResult) string {
	parts := make([]string, len(runs))
	for i, r := range runs {
		parts[i] = fmtRate(r.rate)
		if r.disturbed {
			parts[i] += "*"
		}
		if len(r.failShort) > 0 {
			parts[i] += " (**" + strings.Join(r.failShort, ", ") + "**)"
		}
	}
	return strings.Join(parts, ", ")
}

func fmtRate(r float64) string {
	switch {
	case r >= 1e6:
		return fmt.Sprintf("%.2fM", r/1e6)
	case r >= 1e3:
		return fmt.Sprintf("%.0fk", r/1e3)
	}
	return fmt.Sprintf("%.0f", r)
}

func fmtLatency(ns float64) string {
	d := time.Duration(ns)
	switch {
	case d >= histMax:
		return "> " + histMax.String()
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.1f ms", d.Seconds()*1e3)
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2f ms", d.Seconds()*1e3)
	}
	return fmt.Sprintf("%d µs", d.Microseconds())
}

// fmtInt writes n with thousands separators: 10,000.
func fmtInt(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func fmtKiB(k int64) string {
	if k >= 10*1024 {
		return fmt.Sprintf("%.1f MiB", float64(k)/1024)
	}
	return fmt.Sprintf("%d KiB", k)
}

func argString(args []string) string {
	var b strings.Builder
	for _, a := range args {
		b.WriteByte(' ')
		if a == "" || strings.ContainsAny(a, " \t'\"$`\\") {
			b.WriteString("'" + strings.ReplaceAll(a, "'", `'\''`) + "'")
		} else {
			b.WriteString(a)
		}
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
