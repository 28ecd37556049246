package main

import (
	"strings"
)

// The per-operation columns of the throughput tables (tcp, http, sqlite,
// redis, ws): server CPU per operation and, for the servers written in
// Go, heap allocations per operation (allocs.go).

// perOpCells are a row's "server CPU/op | allocs/op" cells: median
// server cores ÷ median rate, and the median of the runs' allocations
// per operation.
func perOpCells(runs []runResult) string {
	rate := medianOf(runs, func(r runResult) float64 { return r.rate })
	cpu := medianOf(runs, func(r runResult) float64 { return r.srvCPU })
	return fmtCPUPerOp(cpuPerOp(cpu, rate)) + " | " + fmtAllocs(runs)
}

// perOpNote explains the two columns under a section's heading.
func perOpNote(o *options, sec string) string {
	op := "message"
	if httpSection(sec) {
		op = "request"
	}
	s := "\"server CPU/op\" is the server's CPU time (user + system, all its processes and threads) per " + op + " over the measured window: median cores ÷ median rate. "
	switch {
	case !o.allocs:
		s += "allocs/op is not measured in this run (-allocs=false)."
	case o.baseline != "":
		s += "allocs/op (the Go runtime's heap allocations per " + op + ") is measured on the Go references (and the tcp rows with --metrics) only: with -baseline the imscript rows run without --metrics, which an older binary may not have."
	default:
		s += "allocs/op is the Go runtime's heap allocations (go_memstats_mallocs_total, read from the server's /metrics just before and just after the window) per " + op + ": "
		if sec == secTCP {
			s += "the imscript rows with --metrics on report it (their plain rows are the reference for what --metrics costs), "
		} else {
			s += "the imscript rows run with --metrics 127.0.0.1:$M for it (nobody else scraping), "
		}
		s += "gnetecho and goref serve the same counter with BENCH_METRICS; — for servers that are not Go"
		if o.profile != "" {
			s += " and for the profiled imscript rows"
		}
		s += "."
	}
	return s
}

// failedCell is the last cell of a row without results: "failed", or why
// the row was skipped.
func failedCell(res *results, sec, key string) string {
	for _, e := range res.rowErrs[sec+"/"+key] {
		if _, why, ok := strings.Cut(firstLine(e), "skipped: "); ok {
			return "skipped: " + why
		}
	}
	return "failed"
}
