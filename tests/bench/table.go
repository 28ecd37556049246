package main

// The table section: imscript.table operations from one worker, timed
// inside the script, next to a Go map behind a sync.RWMutex doing the same
// operations in the bench process. Each imscript row runs `imscript run
// --workers 1` on a script (written to the build dir) that declares a
// table of the shape of Swoole\Table's own examples (an int, a float and a
// short string column), makes the keys "key1" .. "keyN" up front, inserts
// every row once (untimed: the warm-up), then times each phase, a pass
// over the N keys repeated tablePasses times, each pass in a timer
// callback of its own (far below the watchdog's 5 s), phases 200 ms apart, prints one line per
// phase and exits. The bench reads the lines as they come and samples the
// process's CPU time (its threads' /proc schedstat) at each, while the
// script waits: each phase's CPU time per operation, steadier than wall
// time on a shared machine, is what the ratios use.
// With -baseline the older binary runs the same script right after (A B A
// B over -repeat runs); a phase it does not have (get-into) is n/a.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

const secTable = "table"

func init() {
	allSections = append(allSections, secTable)
	defaultSections = append(defaultSections, secTable)
}

// The section's shape: keys per pass and passes per phase.
const (
	tableKeys   = 100_000
	tablePasses = 3
)

// Swoole's published figure for Swoole\Table: "单线程每秒可读写 200 万次"
// (2 million reads/writes a second on one thread), wiki.swoole.com
// memory/table. It gives no script or machine; it is shown as a reference
// line, not measured here.
const swoolePublished = 2.0e6

// tablePhases in the order they run. set and get are Swoole's shape (a
// row literal per set; get returns a new row); set-reused writes one row
// table changed in place; get-into reads into a table passed to get.
var tablePhases = []struct{ key, doc string }{
	{"set", "`set(key, {n = i, score = i / 2, name = \"user\"})`, a row literal per call"},
	{"get", "`get(key)`, a new row per call, reading `.n`"},
	{"set-reused", "`set(key, row)`, one row table changed in place"},
	{"get-into", "`get(key, row)`, into one row table"},
	{"incr", "`incr(key, \"n\", 1)`"},
	{"getfield", "`get(key, \"n\")`"},
}

const tableLua = `
local N, PASSES = tonumber(imscript.env.BENCH_TABLE_KEYS), tonumber(imscript.env.BENCH_TABLE_PASSES)
local GAP = 200 -- ms between phases: the bench samples the process's CPU time meanwhile
local t = imscript.table("bench", { size = N, columns = { n = "int", score = "float", name = { "string", 16 } } })
local keys = {}
for i = 1, N do keys[i] = "key" .. i end
for i = 1, N do t:set(keys[i], { n = i, score = i / 2, name = "user" }) end
local phases = {
  { "set", function()
    for i = 1, N do t:set(keys[i], { n = i, score = i / 2, name = "user" }) end
  end },
  { "get", function()
    local s = 0
    for i = 1, N do s = s + t:get(keys[i]).n end
    return s
  end },
  { "set-reused", function()
    local row = { n = 0, score = 0, name = "user" }
    for i = 1, N do row.n = i; row.score = i / 2; t:set(keys[i], row) end
  end },
  { "get-into", function()
    local s, row = 0, {}
    for i = 1, N do s = s + t:get(keys[i], row).n end
    return s
  end },
  { "incr", function()
    for i = 1, N do t:incr(keys[i], "n", 1) end
  end },
  { "getfield", function()
    local s = 0
    for i = 1, N do s = s + t:get(keys[i], "n") end
    return s
  end },
}
-- run times pass j of phase k in a callback of its own (under the
-- watchdog's limit even on a slow machine), then the next one.
local function run(k, j, ms)
  local p = phases[k]
  if not p then imscript.exit(0) return end
  local t0 = imscript.now()
  local ok, err = pcall(p[2])
  ms = ms + imscript.now() - t0
  if not ok then
    print(string.format("phase=%s error=%s", p[1], (tostring(err):gsub("%s+", " "))))
  elseif j < PASSES then
    imscript.after(0, function() run(k, j + 1, ms) end)
    return
  else
    print(string.format("phase=%s ops=%d ms=%.3f", p[1], N * PASSES, ms))
  end
  imscript.after(GAP, function() run(k + 1, 1, 0) end)
end
print("ready")
imscript.after(GAP, function() run(1, 1, 0) end)
`

const tableJS = `
const N = Number(imscript.env.BENCH_TABLE_KEYS), PASSES = Number(imscript.env.BENCH_TABLE_PASSES);
const GAP = 200; // ms between phases: the bench samples the process's CPU time meanwhile
const t = imscript.table("bench", { size: N, columns: { n: "int", score: "float", name: ["string", 16] } });
const keys = [];
for (let i = 1; i <= N; i++) keys.push("key" + i);
for (let i = 0; i < N; i++) t.set(keys[i], { n: i + 1, score: (i + 1) / 2, name: "user" });
const phases = [
  ["set", () => { for (let i = 0; i < N; i++) t.set(keys[i], { n: i, score: i / 2, name: "user" }); }],
  ["get", () => { let s = 0; for (let i = 0; i < N; i++) s += t.get(keys[i]).n; return s; }],
  ["set-reused", () => {
    const row = { n: 0, score: 0, name: "user" };
    for (let i = 0; i < N; i++) { row.n = i; row.score = i / 2; t.set(keys[i], row); }
  }],
  ["get-into", () => { let s = 0; const row = {}; for (let i = 0; i < N; i++) s += t.get(keys[i], row).n; return s; }],
  ["incr", () => { for (let i = 0; i < N; i++) t.incr(keys[i], "n", 1); }],
  ["getfield", () => { let s = 0; for (let i = 0; i < N; i++) s += t.get(keys[i], "n"); return s; }],
];
// run times pass j of phase k in a callback of its own (under the
// watchdog's limit even on a slow machine), then the next one.
function run(k, j, ms) {
  const p = phases[k];
  if (!p) { imscript.exit(0); return; }
  const t0 = imscript.now();
  try {
    p[1]();
  } catch (e) {
    console.log("phase=" + p[0] + " error=" + String(e.message).replace(/\s+/g, " "));
    imscript.after(GAP, () => run(k + 1, 1, 0));
    return;
  }
  ms += imscript.now() - t0;
  if (j < PASSES) {
    imscript.after(0, () => run(k, j + 1, ms));
    return;
  }
  console.log("phase=" + p[0] + " ops=" + N * PASSES + " ms=" + ms.toFixed(3));
  imscript.after(GAP, () => run(k + 1, 1, 0));
}
console.log("ready");
imscript.after(GAP, () => run(0, 1, 0));
`

// tablePhase is one phase of one run: ops/s by wall time (the script's
// clock) and CPU time per operation (the whole process: script, table,
// collector).
type tablePhase struct{ ops, cpuNs float64 }

// tableRow is one measured row of the section.
type tableRow struct {
	key, label string
	// runs: per phase, one result per run; errs: why a phase failed.
	runs map[string][]tablePhase
	errs map[string]string
}

var tableRes struct {
	ran  bool
	rows []*tableRow
	line map[string]string // how each row ran
}

// tableRun runs the table section: every selected row once per repeat, in
// -rows order (a baseline row right after its imscript row).
func tableRun(o *options, b *builds) {
	tableRes.ran = true
	tableRes.line = map[string]string{}
	dir := filepath.Join(b.dir, "table")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		logf("table: %v", err)
		return
	}
	scripts := map[string]string{"lua": filepath.Join(dir, "table.lua"), "js": filepath.Join(dir, "table.js")}
	for lang, src := range map[string]string{"lua": tableLua, "js": tableJS} {
		if err := os.WriteFile(scripts[lang], []byte(src), 0o644); err != nil {
			logf("table: %v", err)
			return
		}
	}
	byKey := map[string]*tableRow{}
	for rep := 1; rep <= o.repeat; rep++ {
		for _, key := range o.rows {
			lang, isBase := strings.CutSuffix(key, baseSuffix)
			var bin, label string
			switch {
			case key == "go":
				label = "Go map + sync.RWMutex (in the bench process)"
			case lang != "lua" && lang != "js":
				continue
			case isBase:
				bin, label = o.baseline, "imscript "+map[string]string{"lua": "Lua", "js": "JS"}[lang]+", baseline "+filepath.Base(o.baseline)
			default:
				bin, label = b.imscript, "imscript "+map[string]string{"lua": "Lua", "js": "JS"}[lang]
			}
			r := byKey[key]
			if r == nil {
				r = &tableRow{key: key, label: label, runs: map[string][]tablePhase{}, errs: map[string]string{}}
				byKey[key] = r
				tableRes.rows = append(tableRes.rows, r)
			}
			logf("table %s: run %d", key, rep)
			var res map[string]tablePhase
			var errs map[string]string
			var err error
			if key == "go" {
				res = tableGo(tableKeys, tablePasses)
				tableRes.line[key] = "tableGo in tests/bench/table.go"
			} else {
				res, errs, err = tableScript(bin, scripts[lang])
				tableRes.line[key] = fmt.Sprintf("BENCH_TABLE_KEYS=%d BENCH_TABLE_PASSES=%d %s %s", tableKeys, tablePasses,
					filepath.Base(bin), strings.Join(imscriptArgs(1, "table."+lang), " "))
			}
			if err != nil {
				logf("table %s: %v", key, err)
				r.errs["run"] = err.Error()
				continue
			}
			for ph, v := range res {
				r.runs[ph] = append(r.runs[ph], v)
			}
			for ph, e := range errs {
				r.errs[ph] = e
			}
		}
	}
}

// threadsCPU is the CPU time of pid's threads, from their schedstat
// (nanoseconds, unlike /proc/PID/stat's 10 ms ticks).
func threadsCPU(pid int) time.Duration {
	files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	var sum int64
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if fs := strings.Fields(string(b)); len(fs) > 0 {
			n, _ := strconv.ParseInt(fs[0], 10, 64)
			sum += n
		}
	}
	return time.Duration(sum)
}

// tableScript runs one script with bin and returns each phase's result
// (and the error of a phase that failed). It samples the process's CPU
// time at each line, while the script waits between phases.
func tableScript(bin, script string) (map[string]tablePhase, map[string]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, imscriptArgs(1, script)...)
	cmd.Env = append(os.Environ(), "BENCH_TABLE_KEYS="+strconv.Itoa(tableKeys), "BENCH_TABLE_PASSES="+strconv.Itoa(tablePasses))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	res, errs := map[string]tablePhase{}, map[string]string{}
	var out strings.Builder
	var last time.Duration
	var bad error
	sc := bufio.NewScanner(pipe)
	for sc.Scan() {
		line := sc.Text()
		cpu := threadsCPU(cmd.Process.Pid)
		out.WriteString(line + "\n")
		prev := last
		last = cpu
		if line == "ready" || !strings.HasPrefix(line, "phase=") || bad != nil {
			continue
		}
		if name, e, ok := strings.Cut(strings.TrimPrefix(line, "phase="), " error="); ok {
			errs[name] = e
			continue
		}
		f := map[string]string{}
		for _, kv := range strings.Fields(line) {
			k, v, _ := strings.Cut(kv, "=")
			f[k] = v
		}
		ops, err1 := strconv.ParseFloat(f["ops"], 64)
		ms, err2 := strconv.ParseFloat(f["ms"], 64)
		if err1 != nil || err2 != nil || ms <= 0 || ops <= 0 || prev == 0 {
			bad = fmt.Errorf("bad line %q", line)
			continue
		}
		res[f["phase"]] = tablePhase{ops: ops / (ms / 1000), cpuNs: float64(cpu-prev) / ops}
	}
	if err := cmd.Wait(); err != nil {
		return nil, nil, fmt.Errorf("%v\n%s%s", err, out.String(), stderr.Bytes())
	}
	if bad != nil {
		return nil, nil, bad
	}
	if len(res)+len(errs) != len(tablePhases) {
		return nil, nil, fmt.Errorf("%d phases reported, want %d:\n%s%s", len(res)+len(errs), len(tablePhases), out.String(), stderr.Bytes())
	}
	return res, errs, nil
}

// goRow is the Go baseline's row.
type goRow struct {
	n     int64
	score float64
	name  string
}

// tableGo is the Go baseline: the same phases over a map of row structs
// behind one sync.RWMutex (writes lock it, reads read-lock it; get copies
// the row out).
func tableGo(n, passes int) map[string]tablePhase {
	var mu sync.RWMutex
	rows := make(map[string]*goRow, n)
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "key" + strconv.Itoa(i+1)
	}
	set := func(k string, r goRow) {
		mu.Lock()
		if p := rows[k]; p != nil {
			*p = r
		} else {
			rows[k] = &r
		}
		mu.Unlock()
	}
	get := func(k string) (goRow, bool) {
		mu.RLock()
		p := rows[k]
		var r goRow
		if p != nil {
			r = *p
		}
		mu.RUnlock()
		return r, p != nil
	}
	for i, k := range keys {
		set(k, goRow{n: int64(i), score: float64(i) / 2, name: "user"})
	}
	var sink int64
	fns := map[string]func(){
		"set": func() {
			for i, k := range keys {
				set(k, goRow{n: int64(i), score: float64(i) / 2, name: "user"})
			}
		},
		"get": func() {
			for _, k := range keys {
				r, _ := get(k)
				sink += r.n
			}
		},
		"incr": func() {
			for _, k := range keys {
				mu.Lock()
				rows[k].n++
				mu.Unlock()
			}
		},
		"getfield": func() {
			for _, k := range keys {
				mu.RLock()
				sink += rows[k].n
				mu.RUnlock()
			}
		},
	}
	fns["set-reused"], fns["get-into"] = fns["set"], fns["get"]
	res := map[string]tablePhase{}
	for _, ph := range tablePhases {
		cpu0, t0 := selfCPU(), time.Now()
		for range passes {
			fns[ph.key]()
		}
		ops := float64(n * passes)
		res[ph.key] = tablePhase{ops: ops / time.Since(t0).Seconds(), cpuNs: float64(selfCPU()-cpu0) / ops}
	}
	_ = sink
	return res
}

// tableReport is the section's part of the report ("" when it did not
// run).
func tableReport() string {
	if !tableRes.ran {
		return ""
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "\n## Table — shared table rows from one worker\n\n")
	fmt.Fprintf(&sb, "`imscript.table(\"bench\", { size = %d, columns = { n = \"int\", score = \"float\", name = { \"string\", 16 } } })`, keys \"key1\" .. \"key%d\" made before timing, every row inserted once untimed; each phase is %d passes over the %d keys, a pass in one script call, one worker. Each cell: ops/s by the script's clock, and the process's CPU time per operation (all its threads, collector included; steadier on a shared machine). Medians of the runs.\n\n",
		tableKeys, tableKeys, tablePasses, tableKeys)
	find := func(key string) *tableRow {
		for _, r := range tableRes.rows {
			if r.key == key {
				return r
			}
		}
		return nil
	}
	med := func(r *tableRow, ph string) (tablePhase, bool) {
		if r == nil || len(r.runs[ph]) == 0 {
			return tablePhase{}, false
		}
		var ops, cpu []float64
		for _, p := range r.runs[ph] {
			ops, cpu = append(ops, p.ops), append(cpu, p.cpuNs)
		}
		return tablePhase{ops: median(ops), cpuNs: median(cpu)}, true
	}
	sb.WriteString("| phase |")
	for _, r := range tableRes.rows {
		fmt.Fprintf(&sb, " %s |", r.key)
	}
	sb.WriteString("\n|---|" + strings.Repeat("---:|", len(tableRes.rows)) + "\n")
	for _, ph := range tablePhases {
		fmt.Fprintf(&sb, "| %s |", ph.doc)
		for _, r := range tableRes.rows {
			if m, ok := med(r, ph.key); ok {
				fmt.Fprintf(&sb, " %s · %.0f ns |", fmtRate(m.ops), m.cpuNs)
			} else if r.errs[ph.key] != "" {
				sb.WriteString(" n/a |")
			} else {
				sb.WriteString(" — |")
			}
		}
		sb.WriteString("\n")
	}
	// Ratios of CPU time per operation (b's over a's: how many times a
	// does more per CPU second), and ops per CPU second against Swoole's
	// published figure.
	var pairs [][2]string
	for _, lang := range []string{"lua", "js"} {
		if find(lang) != nil && find(lang+baseSuffix) != nil {
			pairs = append(pairs, [2]string{lang, lang + baseSuffix})
		}
	}
	for _, lang := range []string{"lua", "js"} {
		if find(lang) != nil && find("go") != nil {
			pairs = append(pairs, [2]string{lang, "go"})
		}
	}
	var langs []string
	for _, lang := range []string{"lua", "js"} {
		if find(lang) != nil {
			langs = append(langs, lang)
		}
	}
	if len(pairs)+len(langs) > 0 {
		sb.WriteString("\nRatios of CPU time per operation (a / b: b's CPU ns/op over a's), and ops per CPU second (10⁹ / CPU ns/op) over Swoole's published 2.0M:\n\n| phase |")
		for _, p := range pairs {
			fmt.Fprintf(&sb, " %s / %s |", p[0], p[1])
		}
		for _, lang := range langs {
			fmt.Fprintf(&sb, " %s / Swoole 2.0M |", lang)
		}
		sb.WriteString("\n|---|" + strings.Repeat("---:|", len(pairs)+len(langs)) + "\n")
		for _, ph := range tablePhases {
			fmt.Fprintf(&sb, "| %s |", ph.key)
			for _, p := range pairs {
				a, ok1 := med(find(p[0]), ph.key)
				b, ok2 := med(find(p[1]), ph.key)
				if ok1 && ok2 && a.cpuNs > 0 {
					fmt.Fprintf(&sb, " %.2f× |", b.cpuNs/a.cpuNs)
				} else {
					sb.WriteString(" — |")
				}
			}
			for _, lang := range langs {
				if a, ok := med(find(lang), ph.key); ok && a.cpuNs > 0 {
					fmt.Fprintf(&sb, " %.2f× |", 1e9/a.cpuNs/swoolePublished)
				} else {
					sb.WriteString(" — |")
				}
			}
			sb.WriteString("\n")
		}
	}
	sb.WriteString("\nSwoole 2.0M is Swoole's published figure for Swoole\\Table (\"单线程每秒可读写 200 万次\": 2 million reads/writes a second on one thread, wiki.swoole.com, memory/table), which names no script, row shape or machine; Swoole does not run here, so that column compares with the figure, not with a measurement.\n\n")
	for _, r := range tableRes.rows {
		fmt.Fprintf(&sb, "- %s: %s — `%s`", r.key, r.label, tableRes.line[r.key])
		var errs []string
		for ph, e := range r.errs {
			errs = append(errs, ph+": "+e)
		}
		slices.Sort(errs)
		if len(errs) > 0 {
			fmt.Fprintf(&sb, "; n/a: %s", strings.Join(errs, "; "))
		}
		sb.WriteString("\n")
	}
	return sb.String()
}
