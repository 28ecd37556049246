package main

import (
	"fmt"
	"strings"
)

// dataReport writes a data section's table (sqlite or redis): as the HTTP
// hello table, with the rate as a multiple of Go's and of Node's.
func dataReport(b *strings.Builder, o *options, res *results, sec string) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	results := res.tput
	if sec == secSQLite {
		p("\n## SQLite: one point SELECT per request\n\n")
	} else {
		p("\n## Redis: one GET per request\n\n")
	}
	p("%s", busyLine(o))
	p("Load: %s.\n\n", httpLoadDesc(o))
	if sec == secSQLite {
		p("%d keep-alive connections, each with one request outstanding: `GET /user?id=N`, answered 200 with row N as a JSON object "+
			"(`{\"id\":N,\"name\":\"User N\",\"email\":\"userN@example.com\",\"created\":…}`, about 82 bytes; the key order is each encoder's own). "+
			"Each request does one `SELECT id, name, email, created FROM users WHERE id = ?` on the same SQLite file, "+
			"made by the bench before the section in its temp dir: %s rows (id INTEGER PRIMARY KEY, name TEXT, email TEXT, created INTEGER), WAL mode. "+
			"Every server opens it as imscript.sql does (WAL, synchronous=NORMAL, 5 s busy timeout) with at most %d connections "+
			"(`-pool`: database/sql's MaxOpenConns and MaxIdleConns, imscript.sql's max_open; better-sqlite3 is synchronous: one connection, the statement prepared once). ",
			o.conns, fmtInt(sqliteRows), o.pool)
	} else {
		p("%d keep-alive connections, each with one request outstanding: `GET /get?k=bench:N`, answered 200 with the key's %d-byte value as text/plain. "+
			"Each request does one Redis `GET` of a key on a throwaway redis-server (no persistence) that the bench starts on a free loopback port for the section "+
			"and fills with %s keys bench:1 … bench:%d, each with its own value; the same server serves every row and run, and is stopped after the section. "+
			"Every server has at most %d connections to it (`-pool`: go-redis's and imscript.redis's pool size; ioredis has one connection, on which it keeps "+
			"the GETs of concurrent requests in flight together). go-redis runs as imscript.redis configures it (RESP2, no CLIENT SETINFO). "+
			"redis-server shares the machine's cores with the server and the load generator. ",
			o.conns, redisValue, fmtInt(redisKeys), redisKeys, o.pool)
	}
	n, what := sqliteRows, "id"
	if sec == secRedis {
		n, what = redisKeys, "key number"
	}
	ids := checkIDs(n)
	whole := "Content-Type application/json, and a body that decodes to exactly that row (the same four keys and values, integers as integers)"
	during := "holds the row's email (quoted)"
	if sec == secRedis {
		whole, during = "Content-Type text/plain, and the key's value as the body", "is the key's value"
	}
	if o.httpLoad == loadWrk {
		p("N goes through every %s: wrk runs the script `$T/%s` (each thread builds its requests once, `wrk.format(\"GET\", path)`, "+
			"and sends them in a fixed order, the same for every server: thread t asks for %s (j·7919 + t·4999) mod %s + 1 for j = 0, 1, 2, …; "+
			"thread 0 from j = 1, as wrk takes one request to check the script). ",
			what, wrkScriptName, what, fmtInt(n))
		p("wrk does not look at bodies, so before each run the bench sends wrk's request for the %ss %d, %d and %d on one connection and checks each reply whole: "+
			"status 200, Content-Length, the connection kept open, %s; "+
			"statuses ≥ 400 and socket errors (none in a clean run) are listed under each run and in Problems. "+
			"Each run is %s, on a fresh server: req/s is wrk's Requests/sec, p50/p99 its --latency percentiles. ",
			what, ids[0], ids[1], ids[2], whole, wrkLoadLine(o, sec))
	} else {
		p("N goes through every %s, in the same order on every server: the j-th request of connection c is for %s (j·7919 + c·4999) mod %s + 1. "+
			"Before each run the bench checks the replies for the %ss %d, %d and %d whole (status 200, Content-Length, the connection kept open, %s), "+
			"and during the run every response's status and Content-Length, and that its body %s. "+
			"Latency runs from a request's write to the read that completes its response. ",
			what, what, fmtInt(n), what, ids[0], ids[1], ids[2], whole, during)
	}
	p("Median of %d run(s) of %s each, after %s of warm-up; each run starts a fresh server process; "+
		"\"vs Go\" and \"vs Node\" are the rate divided by the Go reference's and by Node.js's. %s Disturbed runs (*) as in the TCP table.\n\n", o.repeat, o.duration, o.warmup, perOpNote(o, sec))
	p("| server | req/s | vs Go | vs Node | server CPU/op | allocs/op | p50 latency | p99 latency | req/s of each run |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, k := range o.selected(sec) {
		runs := results[rowKey{sec, k.key, 1}]
		if len(runs) == 0 {
			p("| %s | — | — | — | — | — | — | — | %s |\n", k.label, failedCell(res, sec, k.key))
			continue
		}
		rate := medianOf(runs, func(r runResult) float64 { return r.rate })
		p("| %s | %s | %s | %s | %s | %s | %s | %s |\n", k.label, fmtRate(rate),
			ratioX(results, rowKey{sec, "go", 1}, rowKey{sec, k.key, 1}),
			ratioX(results, rowKey{sec, "node", 1}, rowKey{sec, k.key, 1}),
			perOpCells(runs),
			fmtLatency(medianOf(runs, func(r runResult) float64 { return float64(r.p50) })),
			fmtLatency(medianOf(runs, func(r runResult) float64 { return float64(r.p99) })),
			eachRun(runs))
	}
	if nb := o.noBaseline(sec); len(nb) > 0 {
		var keys []string
		for _, k := range nb {
			keys = append(keys, k.key)
		}
		p("\nNo baseline rows (-baseline) for %s: the scripts use %s, which the baseline binary does not have "+
			"(asked by running it on a script that checks).\n", strings.Join(keys, " and "), nb[0].noBase)
	}
	cpuTable(b, o, results, sec, []int{1})
	baselineTable(b, o, results, sec, []int{1})
}

// dataTarget is one "Must reach" row of the data sections: the imscript
// Lua row's req/s at least factor × row other's.
type dataTarget struct {
	sec, other string
	factor     float64
	name       string
}

var dataTargets = []dataTarget{
	{secSQLite, "go", 0.7, "SQLite GET /user?id=N: imscript Lua ≥ 0.7× Go net/http + database/sql req/s"},
	{secSQLite, "node", 1, "SQLite GET /user?id=N: imscript Lua ≥ Node.js + better-sqlite3 req/s"},
	{secRedis, "go", 0.7, "Redis GET /get?k=KEY: imscript Lua ≥ 0.7× Go net/http + go-redis req/s"},
	{secRedis, "node", 1, "Redis GET /get?k=KEY: imscript Lua ≥ Node.js + ioredis req/s"},
}
