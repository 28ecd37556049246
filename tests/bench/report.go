package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

func numCPU() int { return runtime.NumCPU() }

// report renders the results as markdown.
func report(o *options, m machine, results map[rowKey][]runResult, mem map[string]memResult, rowErrs map[string][]string, took time.Duration) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	p("# imscript benchmark\n\n")
	p("Command: `go run ./tests/bench%s` (from the repository root)  \n", argString(os.Args[1:]))
	p("Date: %s; the run took %s  \n", time.Now().Format("2006-01-02 15:04 MST"), took.Round(time.Second))
	p("Machine: %d CPUs (%s), Linux %s, %s, Node.js %s, RLIMIT_NOFILE %d  \n", m.cpus, orDash(m.cpu), orDash(m.kernel), orDash(m.goVer), orDash(m.nodeVer), m.nofile)
	if m.commit != "" {
		p("imscript commit: %s  \n", m.commit)
	}
	p("The load generator (%d epoll threads in the bench process) shares those cores with the server under test.\n\n", o.threads)

	p("## TCP echo\n\n")
	p("%d connections, %d-byte messages. Pipeline depth N: each connection writes N messages, reads N×%d bytes back, and repeats. "+
		"A message's latency runs from its batch's write to the read that completes its bytes. "+
		"Median of %d run(s) of %s each, after %s of warm-up; each run starts a fresh server process. "+
		"\"vs ceiling\" is msgs/s divided by the bare gnet echo's at the same depth. "+
		"A run marked * was disturbed (other work on the machine took more than %.2f cores, see below) even after %d retries; "+
		"medians leave disturbed runs out when a row has undisturbed ones.\n\n",
		o.conns, o.size, o.size, o.repeat, o.duration, o.warmup, o.maxOther, o.retries)
	p("| server | depth | msgs/s | vs ceiling | p50 latency | p99 latency | msgs/s of each run |\n")
	p("|---|---:|---:|---:|---:|---:|---|\n")
	for _, key := range o.rows {
		k, _ := kindByKey(key)
		for _, d := range o.depths {
			runs := results[rowKey{key, d}]
			if len(runs) == 0 {
				p("| %s | %d | — | — | — | — | failed |\n", k.label, d)
				continue
			}
			rate := medianOf(runs, func(r runResult) float64 { return r.rate })
			p("| %s | %d | %s | %s | %s | %s | %s |\n", k.label, d, fmtRate(rate), ratioString(results, key, d),
				fmtLatency(medianOf(runs, func(r runResult) float64 { return float64(r.p50) })),
				fmtLatency(medianOf(runs, func(r runResult) float64 { return float64(r.p99) })),
				eachRun(runs))
		}
	}
	p("\n### Where the CPU goes (medians)\n\n")
	p("Over the measured window: server CPU from /proc/PID/stat, its syscalls from /proc/PID/io (syscr+syscw: the read and write families, not epoll_wait or futex), " +
		"context switches summed over the server's threads; \"other\" is machine-wide busy CPU (/proc/stat) charged to neither process: " +
		"mostly loopback softirq work, or other programs on the machine (a large value means the run was disturbed).\n\n")
	p("| server | depth | server CPU (cores) | server CPU per msg | load generator CPU (cores) | other / idle CPU (cores) | server read+write syscalls per msg | server context switches per msg |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, key := range o.rows {
		k, _ := kindByKey(key)
		for _, d := range o.depths {
			runs := results[rowKey{key, d}]
			if len(runs) == 0 {
				continue
			}
			rate := medianOf(runs, func(r runResult) float64 { return r.rate })
			cpu := medianOf(runs, func(r runResult) float64 { return r.srvCPU })
			perMsg := "—"
			if rate > 0 {
				perMsg = fmt.Sprintf("%.2f µs", cpu*1e6/rate)
			}
			p("| %s | %d | %.2f | %s | %.2f | %.2f / %.2f | %.3f | %.3f |\n", k.label, d, cpu, perMsg,
				medianOf(runs, func(r runResult) float64 { return r.loadCPU }),
				medianOf(runs, func(r runResult) float64 { return r.otherCPU }),
				medianOf(runs, func(r runResult) float64 { return r.idleCPU }),
				medianOf(runs, func(r runResult) float64 { return r.sysPerMsg }),
				medianOf(runs, func(r runResult) float64 { return r.csPerMsg }))
		}
	}

	if o.idle > 0 {
		p("\n## Memory: %s idle TCP connections\n\n", fmtInt(o.idle))
		p("A fresh server process; PSS and RSS from /proc/PID/smaps_rollup before and after %s connections that send nothing "+
			"(read once the server holds all their descriptors and has settled for %s). The bench raises its soft RLIMIT_NOFILE to the hard limit and the servers inherit it.\n\n", fmtInt(o.idle), 3*o.settle)
		p("| server | PSS before | PSS with %s connections | PSS per connection | RSS before | RSS with %s connections | RSS per connection |\n", fmtInt(o.idle), fmtInt(o.idle))
		p("|---|---:|---:|---:|---:|---:|---:|\n")
		for _, key := range o.rows {
			k, _ := kindByKey(key)
			mr, ok := mem[key]
			if !ok {
				p("| %s | — | — | failed | — | — | — |\n", k.label)
				continue
			}
			p("| %s | %s | %s | %.2f KiB | %s | %s | %.2f KiB |\n", k.label,
				fmtKiB(mr.before.pss), fmtKiB(mr.after.pss), mr.pssPerConn(),
				fmtKiB(mr.before.rss), fmtKiB(mr.after.rss), mr.rssPerConn())
		}
	}

	p("\n## Targets (issue 2, \"Must reach\")\n\n")
	p("| target | measured | result |\n|---|---|---|\n")
	rate := func(key string, d int) (float64, bool) {
		runs := results[rowKey{key, d}]
		if len(runs) == 0 {
			return 0, false
		}
		return medianOf(runs, func(r runResult) float64 { return r.rate }), true
	}
	const td = 16
	lua, okL := rate("lua", td)
	js, okJ := rate("js", td)
	node, okN := rate("node", td)
	ceil, okC := rate("gnet", td)
	target := func(name string, ok bool, measured string, pass bool) {
		switch {
		case !ok:
			p("| %s | not measured in this run | — |\n", name)
		case pass:
			p("| %s | %s | PASS |\n", name, measured)
		default:
			p("| %s | %s | **FAIL** |\n", name, measured)
		}
	}
	target("pipeline 16: Lua echo ≥ Node.js net echo", okL && okN,
		fmt.Sprintf("Lua %s vs Node %s msgs/s (%.2f×)", fmtRate(lua), fmtRate(node), lua/node), lua >= node)
	target("pipeline 16: Lua echo ≥ 75% of the gnet ceiling", okL && okC,
		fmt.Sprintf("%.0f%% (%s of %s msgs/s)", 100*lua/ceil, fmtRate(lua), fmtRate(ceil)), lua >= 0.75*ceil)
	target("pipeline 16: JS echo ≥ 60% of the gnet ceiling", okJ && okC,
		fmt.Sprintf("%.0f%% (%s of %s msgs/s)", 100*js/ceil, fmtRate(js), fmtRate(ceil)), js >= 0.60*ceil)
	for _, key := range []string{"lua", "js"} {
		mr, ok := mem[key]
		target(fmt.Sprintf("≤ 1 KiB server PSS per idle TCP connection at %s connections (imscript %s)", fmtInt(o.idle), map[string]string{"lua": "Lua", "js": "JS"}[key]),
			ok && o.idle >= 10000, fmt.Sprintf("%.2f KiB", mr.pssPerConn()), mr.pssPerConn() <= 1)
	}

	noisy := ""
	for _, key := range []string{"gnet", "lua", "js", "node"} {
		if allDisturbed(results[rowKey{key, td}]) {
			noisy += " " + key
		}
	}
	if noisy != "" {
		p("\nEvery run of these pipeline-16 rows was disturbed, so their numbers are unreliable:%s.\n", noisy)
	}
	p("\n## How each server runs\n\n")
	p("Every server echoes the bytes back unchanged. $T is the bench's temp dir, $P a free port; the servers listen on 127.0.0.1.\n\n")
	for _, key := range o.rows {
		k, _ := kindByKey(key)
		p("- %s: `%s`\n", k.label, k.commandLine(o.workers))
	}
	if len(o.serverEnv) > 0 {
		p("\nEvery server ran with %s added to its environment (-server-env).\n", strings.Join(o.serverEnv, " "))
	}
	if o.profile != "" {
		p("\nThis run profiled the Go servers: the imscript rows ran under tests/bench/imsprof (the same host as `imscript run`, plus a profiler), gnetecho with -cpuprofile; profiles in %s. "+
			"The memory rows of the Go servers ran with heap profiling (runtime.MemProfileRate=512), which costs memory of its own: "+
			"use a run without -profile for the memory numbers.\n", o.profile)
	}

	var errKeys []string
	for _, key := range o.rows {
		if len(rowErrs[key]) > 0 {
			errKeys = append(errKeys, key)
		}
	}
	broken := false
	for _, runs := range results {
		for _, r := range runs {
			if r.broken > 0 || r.disturbed {
				broken = true
			}
		}
	}
	if len(errKeys) > 0 || broken {
		p("\n## Problems in this run\n\n")
		for _, key := range errKeys {
			for _, e := range rowErrs[key] {
				p("- %s: %s\n", key, firstLine(e))
			}
		}
		for _, key := range o.rows {
			for _, d := range o.depths {
				for i, r := range results[rowKey{key, d}] {
					if r.broken > 0 {
						p("- %s depth %d run %d: %d connections broke (%s)\n", key, d, i+1, r.broken, strings.Join(r.errs, "; "))
					}
					if r.disturbed {
						p("- %s depth %d run %d: disturbed, %.2f cores of other work (busiest other processes: %s)\n", key, d, i+1, r.otherCPU, orDash(r.busiest))
					}
				}
			}
		}
	}
	return b.String()
}

func ratioString(results map[rowKey][]runResult, key string, d int) string {
	base := results[rowKey{"gnet", d}]
	runs := results[rowKey{key, d}]
	if len(base) == 0 || len(runs) == 0 {
		return "—"
	}
	c := medianOf(base, func(r runResult) float64 { return r.rate })
	if c == 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f%%", 100*medianOf(runs, func(r runResult) float64 { return r.rate })/c)
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
		if strings.ContainsAny(a, " \t'\"$`\\") {
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
