package table_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/imscript/imscript/script"

	"github.com/imscript/imscript/stdlib/table"
)

var testCols = []table.Column{
	{Name: "fd", Kind: table.Int},
	{Name: "name", Kind: table.String, Size: 8},
	{Name: "score", Kind: table.Float},
}

func TestSetGetIncrDel(t *testing.T) {
	tb := table.New("users", testCols, 16, 16)
	if err := tb.Set("a", script.Map{"fd": int64(3), "name": "ann", "score": 1.5}); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(tb.Get("a")); got != "map[fd:3 name:ann score:1.5]" {
		t.Errorf("Get(a) = %s", got)
	}
	if tb.Get("zz") != nil {
		t.Error("Get of a missing key is not nil")
	}
	// Set merges: columns not given keep their values; other keys are ignored.
	if err := tb.Set("a", script.Map{"score": 2.0, "nope": 1}); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(tb.Get("a")); got != "map[fd:3 name:ann score:2]" {
		t.Errorf("after a partial set: %s", got)
	}
	fd, _ := tb.Column("fd")
	score, _ := tb.Column("score")
	if n, err := tb.IncrInt("a", fd, 5); n != 8 || err != nil {
		t.Errorf("IncrInt = %d, %v", n, err)
	}
	if f, err := tb.IncrFloat("a", score, -0.5); f != 1.5 || err != nil {
		t.Errorf("IncrFloat = %v, %v", f, err)
	}
	// incr on a missing key creates a zeroed row.
	if n, err := tb.IncrInt("b", fd, 2); n != 2 || err != nil {
		t.Errorf("IncrInt(b) = %d, %v", n, err)
	}
	if got := fmt.Sprint(tb.Get("b")); got != "map[fd:2 name: score:0]" {
		t.Errorf("created row: %s", got)
	}
	if tb.Count() != 2 || !tb.Exists("a") || tb.Exists("zz") {
		t.Errorf("count %d, exists(a) %v, exists(zz) %v", tb.Count(), tb.Exists("a"), tb.Exists("zz"))
	}
	if !tb.Del("a") || tb.Del("a") || tb.Count() != 1 {
		t.Errorf("del: count %d", tb.Count())
	}
	tb.Clear()
	if tb.Count() != 0 || tb.Exists("b") {
		t.Errorf("after Clear: count %d", tb.Count())
	}
}

func TestWrongValuesChangeNothing(t *testing.T) {
	tb := table.New("users", testCols, 16, 16)
	for _, row := range []script.Map{
		{"fd": "x"},
		{"fd": 1.5},
		{"score": true},
		{"name": int64(1)},
		{"name": "far too long"},
		{"fd": int64(1), "name": "ok", "score": "bad"},
	} {
		var fe *table.FieldError
		if err := tb.Set("k", row); !errors.As(err, &fe) {
			t.Errorf("Set(%v) = %v, want a FieldError", row, err)
		}
	}
	if tb.Count() != 0 {
		t.Errorf("a failed set stored a row")
	}
	// Binary data fits a string column; int and float columns take either
	// kind of number.
	if err := tb.Set("k", script.Map{"name": []byte{0, 0xff}, "fd": 2.0, "score": int64(3)}); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintf("%q", tb.Get("k")["name"]); got != `"\x00\xff"` {
		t.Errorf("binary string: %s", got)
	}
}

func TestFullTableRefusesNewRowsOnly(t *testing.T) {
	tb := table.New("small", testCols, 2, 3)
	fd, _ := tb.Column("fd")
	for _, k := range []string{"a", "b", "c"} {
		if _, err := tb.IncrInt(k, fd, 1); err != nil {
			t.Fatal(err)
		}
	}
	var full *table.FullError
	if _, err := tb.IncrInt("d", fd, 1); !errors.As(err, &full) || full.MaxSize != 3 {
		t.Fatalf("4th row: %v", err)
	}
	if err := tb.Set("d", script.Map{"fd": int64(1)}); !errors.As(err, &full) {
		t.Fatalf("set of a 4th row: %v", err)
	}
	if !strings.Contains(full.Error(), "table small is full") {
		t.Errorf("message: %v", full)
	}
	// Existing rows still change; a deleted row makes room.
	if n, err := tb.IncrInt("a", fd, 1); n != 2 || err != nil {
		t.Errorf("incr of an existing row: %d, %v", n, err)
	}
	tb.Del("a")
	if _, err := tb.IncrInt("d", fd, 1); err != nil {
		t.Errorf("after a delete: %v", err)
	}
	tb.SetMaxSize(10)
	if _, err := tb.IncrInt("e", fd, 1); err != nil {
		t.Errorf("after raising max_size: %v", err)
	}
	if tb.Count() != 4 {
		t.Errorf("count %d", tb.Count())
	}
}

func TestIterSeesEveryRowOnce(t *testing.T) {
	tb := table.New("it", testCols, 1000, 5000)
	fd, _ := tb.Column("fd")
	want := map[string]int64{}
	for i := range 3000 {
		k := fmt.Sprintf("k%d", i)
		want[k] = int64(i)
		if _, err := tb.IncrInt(k, fd, int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	next := tb.Iter()
	got := map[string]int64{}
	for k, row, ok := next(); ok; k, row, ok = next() {
		if _, dup := got[k]; dup {
			t.Fatalf("key %s seen twice", k)
		}
		got[k] = row["fd"].(int64)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("iteration saw %d rows, want %d", len(got), len(want))
	}
	if _, _, ok := next(); ok {
		t.Error("a finished iteration goes on")
	}
}

// TestConcurrentIncrIsExact hammers shared and private rows from many
// goroutines while others set, get, delete and iterate (run with -race).
func TestConcurrentIncrIsExact(t *testing.T) {
	tb := table.New("hammer", testCols, 64, 1<<16)
	fd, _ := tb.Column("fd")
	score, _ := tb.Column("score")
	const goroutines, rounds = 8, 5000
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				shared := fmt.Sprintf("s%d", i%16)
				if _, err := tb.IncrInt(shared, fd, 1); err != nil {
					t.Error(err)
					return
				}
				if _, err := tb.IncrFloat(shared, score, 0.5); err != nil {
					t.Error(err)
					return
				}
				own := fmt.Sprintf("g%d-%d", g, i%32)
				_ = tb.Set(own, script.Map{"name": "x"})
				_ = tb.Get(own)
				if i%7 == 0 {
					tb.Del(own)
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 50 {
			next := tb.Iter()
			for _, _, ok := next(); ok; _, _, ok = next() {
			}
		}
	}()
	wg.Wait()
	var total int64
	var scores float64
	for i := range 16 {
		row := tb.Get(fmt.Sprintf("s%d", i))
		total += row["fd"].(int64)
		scores += row["score"].(float64)
	}
	if total != goroutines*rounds || scores != goroutines*rounds*0.5 {
		t.Errorf("counters: %d and %v, want %d and %v", total, scores, goroutines*rounds, goroutines*rounds*0.5)
	}
	n := 0
	next := tb.Iter()
	for _, _, ok := next(); ok; _, _, ok = next() {
		n++
	}
	if n != tb.Count() {
		t.Errorf("iteration saw %d rows, Count says %d", n, tb.Count())
	}
}

// ---- through the bindings ----

// script is the same program in both languages: it prints one line per
// step with say(...), rendering values alike.
var scripts = map[string]string{
	"lua": `
local function show(v)
  if v == nil then return "nil" end
  if type(v) ~= "table" then return tostring(v) end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for i, k in ipairs(keys) do parts[i] = k .. "=" .. show(v[k]) end
  return "{" .. table.concat(parts, ",") .. "}"
end
local function say(...)
  local parts = {}
  for i = 1, select("#", ...) do parts[i] = show((select(i, ...))) end
  print(table.concat(parts, " "))
end
local function try(f, ...)
  local ok, err = pcall(f, ...)
  if ok then print("no error") else print((tostring(err):gsub("^[^:]*:%d+: ", ""))) end
end
local t = imscript.table("users", { size = 4, max_size = 5, columns = { fd = "int", name = { "string", 8 }, score = "float" } })
say(t:set("a", { fd = 3, name = "ann", score = 1.5 }), t:count())
say(t:get("a"), t:get("a", "name"), t:get("a", "fd"), t:get("zz"), t:get("zz", "fd"))
say(t:incr("a", "fd"), t:incr("a", "fd", 5), t:decr("a", "fd", 2), t:decr("a", "fd"))
say(t:incr("a", "score", 0.25), t:decr("a", "score", 1), t:incr("new", "fd", 7), t:get("new"))
say(t:set("a", { score = 9, other = 1 }), t:get("a"))
say(t:exists("a"), t:exists("zz"), t:del("a"), t:del("a"), t:exists("a"), t:count())
for i = 1, 4 do t:incr("k" .. i, "fd", i) end
say(t:count(), t:set("k5", { fd = 1 }), t:incr("k6", "fd"), t:count())
local seen = {}
for k, row in t:pairs() do seen[#seen + 1] = k .. ":" .. row.fd end
table.sort(seen)
say(table.concat(seen, " "))
try(t.set, t, "x", { name = "way too long" })
try(t.set, t, "x", { fd = 1.5 })
try(t.set, t, "x", { fd = "1" })
try(t.get, t, "k1", "nope")
try(t.incr, t, "k1", "name")
try(t.incr, t, "k1", "fd", 0.5)
try(t.set, t, "", { fd = 1 })
try(imscript.table, "users", { columns = { fd = "int" } })
try(imscript.table, "users", { columns = { fd = "int", name = { "string", 9 }, score = "float" } })
try(imscript.table, "t2", { columns = { x = "date" } })
try(imscript.table, "t2", { colums = { x = "int" } })
try(imscript.table, "t3")
say(imscript.table("users") == t, imscript.table("users", { columns = { score = "float", fd = "int", name = { "string", 8 } } }) == t)
local a = imscript.atomic("hits", 5)
say(a:add(), a:add(10), a:sub(), a:sub(4), a:get())
say(a:cmpset(11, 1), a:cmpset(11, 2), a:get())
a:set(-3)
say(a:get(), imscript.atomic("hits", 100):get(), imscript.atomic("other"):get())
try(a.add, a, 1.5)
`,
	"js": `
function show(v) {
  if (v === null || v === undefined) return "nil";
  if (typeof v !== "object") return String(v);
  return "{" + Object.keys(v).sort().map((k) => k + "=" + show(v[k])).join(",") + "}";
}
function say(...args) { console.log(args.map(show).join(" ")); }
function tryf(f) {
  try { f(); console.log("no error"); } catch (e) { console.log(e.message); }
}
const t = imscript.table("users", { size: 4, max_size: 5, columns: { fd: "int", name: ["string", 8], score: "float" } });
say(t.set("a", { fd: 3, name: "ann", score: 1.5 }), t.count());
say(t.get("a"), t.get("a", "name"), t.get("a", "fd"), t.get("zz"), t.get("zz", "fd"));
say(t.incr("a", "fd"), t.incr("a", "fd", 5), t.decr("a", "fd", 2), t.decr("a", "fd"));
say(t.incr("a", "score", 0.25), t.decr("a", "score", 1), t.incr("new", "fd", 7), t.get("new"));
say(t.set("a", { score: 9, other: 1 }), t.get("a"));
say(t.exists("a"), t.exists("zz"), t.del("a"), t.del("a"), t.exists("a"), t.count());
for (let i = 1; i <= 4; i++) t.incr("k" + i, "fd", i);
say(t.count(), t.set("k5", { fd: 1 }), t.incr("k6", "fd"), t.count());
const seen = [];
for (const [k, row] of t) seen.push(k + ":" + row.fd);
seen.sort();
say(seen.join(" "));
tryf(() => t.set("x", { name: "way too long" }));
tryf(() => t.set("x", { fd: 1.5 }));
tryf(() => t.set("x", { fd: "1" }));
tryf(() => t.get("k1", "nope"));
tryf(() => t.incr("k1", "name"));
tryf(() => t.incr("k1", "fd", 0.5));
tryf(() => t.set("", { fd: 1 }));
tryf(() => imscript.table("users", { columns: { fd: "int" } }));
tryf(() => imscript.table("users", { columns: { fd: "int", name: ["string", 9], score: "float" } }));
tryf(() => imscript.table("t2", { columns: { x: "date" } }));
tryf(() => imscript.table("t2", { colums: { x: "int" } }));
tryf(() => imscript.table("t3"));
say(imscript.table("users") === t, imscript.table("users", { columns: { score: "float", fd: "int", name: ["string", 8] } }) === t);
const a = imscript.atomic("hits", 5);
say(a.add(), a.add(10), a.sub(), a.sub(4), a.get());
say(a.cmpset(11, 1), a.cmpset(11, 2), a.get());
a.set(-3);
say(a.get(), imscript.atomic("hits", 100).get(), imscript.atomic("other").get());
tryf(() => a.add(1.5));
`,
}

const scriptWant = `true 1
{fd=3,name=ann,score=1.5} ann 3 nil nil
4 9 7 6
1.75 0.75 7 {fd=7,name=,score=0}
true {fd=6,name=ann,score=9}
true false true false false 1
5 false false 5
k1:1 k2:2 k3:3 k4:4 new:7
table users: column name holds at most 8 bytes, got 12
table users: column fd is int, got 1.5 (not a whole number)
table users: column fd is int, got string
table users has no column "nope" (columns: { fd=int, name=string(8), score=float })
table users: incr needs an int or float column; name is a string column
argument 3 (by) must be a whole number, got 0.5
table key must be 1 to 1024 bytes, got 0
imscript.table users: already declared with other columns: { fd=int, name=string(8), score=float }, not { fd=int }
imscript.table users: already declared with other columns: { fd=int, name=string(8), score=float }, not { fd=int, name=string(9), score=float }
imscript.table t2: column x: unknown type "date" (want int, float or string)
imscript.table t2: unknown option "colums" (want columns, size, max_size)
imscript.table: no table "t3"; declare it with its columns first
true true
6 16 15 11 11
true false 1
-3 -3 0
argument 1 (by) must be a whole number, got 1.5
`

func TestScriptAPI(t *testing.T) {
	for _, lang := range []string{"lua", "js"} {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			r := start(t, lang, scripts[lang], 1)
			if err := r.Stop(); err != nil {
				t.Errorf("Run: %v", err)
			}
			got := r.Stdout()
			if got != scriptWant {
				t.Errorf("stdout:\n%s\nwant:\n%s\nlog:\n%s", got, scriptWant, r.Logs())
			}
			if !strings.Contains(r.Logs(), "table full") || !strings.Contains(r.Logs(), "table=users") {
				t.Errorf("a full table was not logged:\n%s", r.Logs())
			}
		})
	}
}

var hammerScripts = map[string]string{
	"lua": `
local t = imscript.table("hits", { size = 16, columns = { n = "int", sum = "float" } })
local a = imscript.atomic("total")
imscript.harness.ready("hammer", function(n)
  for i = 1, n do
    local k = "k" .. (i % 16)
    t:incr(k, "n")
    t:incr(k, "sum", 0.5)
    a:add(1)
  end
end)
imscript.harness.ready("read", function()
  local n, sum = 0, 0
  for k, row in t:pairs() do n = n + row.n; sum = sum + row.sum end
  return { n = n, sum = sum, rows = t:count(), atomic = a:get(), version = VERSION or 1 }
end)
`,
	"js": `
const t = imscript.table("hits", { size: 16, columns: { n: "int", sum: "float" } });
const a = imscript.atomic("total");
imscript.harness.ready("hammer", (n) => {
  for (let i = 1; i <= n; i++) {
    const k = "k" + (i % 16);
    t.incr(k, "n");
    t.incr(k, "sum", 0.5);
    a.add(1);
  }
});
imscript.harness.ready("read", () => {
  let n = 0, sum = 0;
  for (const [, row] of t) { n += row.n; sum += row.sum; }
  return { n, sum, rows: t.count(), atomic: a.get(), version: typeof VERSION === "undefined" ? 1 : VERSION };
});
`,
}

// TestWorkersShareTablesAcrossReloads hammers one table and one atomic from
// two workers at once, checks the counts are exact, reloads the script and
// checks the new version sees the same contents.
func TestWorkersShareTablesAcrossReloads(t *testing.T) {
	for _, lang := range []string{"lua", "js"} {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			r := start(t, lang, hammerScripts[lang], 2)
			const rounds, per = 20, 5000
			var wg sync.WaitGroup
			for w := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range rounds {
						r.call("hammer", w, int64(per))
					}
				}()
			}
			wg.Wait()
			want := fmt.Sprintf("map[atomic:%d n:%d rows:16 sum:%d version:1]", 2*rounds*per, 2*rounds*per, rounds*per)
			for w := range 2 {
				if got := fmt.Sprint(r.call("read", w)); got != want {
					t.Errorf("worker %d reads %s, want %s", w, got, want)
				}
			}
			// Go sees the same table and atomic.
			if tb, a := table.Lookup(r.H, "hits"), table.LookupAtomic(r.H, "total"); tb == nil || tb.Count() != 16 || a == nil || a.Value() != 2*rounds*per {
				t.Errorf("from Go: table %v, atomic %v", tb, a)
			}
			if table.Lookup(r.H, "nope") != nil || table.LookupAtomic(r.H, "nope") != nil {
				t.Error("Lookup of an undeclared name")
			}
			decl := "local VERSION = 2\n"
			if lang == "js" {
				decl = "const VERSION = 2;\n"
			}
			r.Reload(decl + hammerScripts[lang])
			want = strings.Replace(want, "version:1", "version:2", 1)
			for w := 2; w < 4; w++ {
				if got := fmt.Sprint(r.call("read", w)); got != want {
					t.Errorf("after the reload, worker %d reads %s, want %s", w-2, got, want)
				}
			}
			if e := r.LogLines(); e != "" {
				t.Errorf("the scripts logged:\n%s", e)
			}
		})
	}
}

// rowScripts read rows into a table / object the script passes (get(key,
// row)), reuse one row table for set, and give set values of every other
// type: the same lines in both languages.
var rowScripts = map[string]string{
	"lua": `
local t = imscript.table("rows", { columns = { fd = "int", name = { "string", 4 }, score = "float" } })
local function say(row) print(row.fd, row.name, row.score, row.extra) end
local function try(f, ...)
  local ok, err = pcall(f, ...)
  if ok then print("no error") else print((tostring(err):gsub("^[^:]*:%d+: ", ""))) end
end
local row = { fd = 1, name = "ann", score = 0.5 }
print(t:set("a", row), t:set("b", row))
row.fd, row.name = 2, "bob"
print(t:set("b", row))
local into = { extra = "kept" }
print(t:get("a", into) == into)
say(into)
t:get("b", into)
say(into)
print(t:get("zz", into), into.fd)
say(t:get("b"))
print(t:set("c", { fd = 3 }))
t:get("c", into)
say(into)
print(t:set("d", { fd = 2^53, score = -1e300 }), t:get("d", "fd") == 2^53, t:get("d", "score"))
try(t.set, t, "x", { fd = true })
try(t.set, t, "x", { name = {} })
try(t.set, t, "x", { score = "1" })
try(t.set, t, "x", { name = 12 })
print(t:exists("x"))
`,
	"js": `
const t = imscript.table("rows", { columns: { fd: "int", name: ["string", 4], score: "float" } });
function say(row) { console.log([row.fd, row.name, row.score, row.extra].map((v) => v === undefined || v === null ? "nil" : String(v)).join("\t")); }
function tryf(f) { try { f(); console.log("no error"); } catch (e) { console.log(e.message); } }
const row = { fd: 1, name: "ann", score: 0.5 };
console.log([t.set("a", row), t.set("b", row)].join("\t"));
row.fd = 2; row.name = "bob";
console.log(String(t.set("b", row)));
const into = { extra: "kept" };
console.log(String(t.get("a", into) === into));
say(into);
t.get("b", into);
say(into);
console.log((t.get("zz", into) === null ? "nil" : "row") + "\t" + into.fd);
say(t.get("b"));
console.log(String(t.set("c", { fd: 3 })));
t.get("c", into);
say(into);
console.log([t.set("d", { fd: 2 ** 53, score: -1e300 }), t.get("d", "fd") === 2 ** 53, t.get("d", "score")].join("\t"));
tryf(() => t.set("x", { fd: true }));
tryf(() => t.set("x", { name: {} }));
tryf(() => t.set("x", { score: "1" }));
tryf(() => t.set("x", { name: 12 }));
console.log(String(t.exists("x")));
`,
}

func TestScriptRowsIntoAndReused(t *testing.T) {
	for _, lang := range []string{"lua", "js"} {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			r := start(t, lang, rowScripts[lang], 1)
			if err := r.Stop(); err != nil {
				t.Errorf("Run: %v", err)
			}
			if got := r.Stdout(); got != rowWant {
				t.Errorf("stdout:\n%s\nwant:\n%s\nlog:\n%s", got, rowWant, r.Logs())
			}
		})
	}
}

// rowWant: a row read into a table keeps the table's other fields; a
// missing key leaves it alone.
const rowWant = `true	true
true
true
1	ann	0.5	kept
2	bob	0.5	kept
nil	2
2	bob	0.5	nil
true
3		0	kept
true	true	-1e+300
table rows: column fd is int, got boolean
table rows: column name is string, got table
table rows: column score is float, got string
table rows: column name is string, got number
false
`

// TestKeysAreCopied: the table keeps keys of its own, short ones (kept in
// the row) and long ones alike, so a key whose bytes change afterwards (a
// script string cut from a network read) still finds its row.
func TestKeysAreCopied(t *testing.T) {
	tb := table.New("keys", []table.Column{{Name: "n", Kind: table.Int}}, 4, 100)
	for _, n := range []int{1, 31, 32, 33, 1024} {
		buf := []byte(strings.Repeat("k", n-1) + "!")
		key := unsafe.String(&buf[0], len(buf))
		if _, err := tb.IncrInt(key, 0, int64(n)); err != nil {
			t.Fatal(err)
		}
		want := strings.Clone(key)
		buf[0] = 'X' // the caller's bytes change
		if got := tb.GetField(want, 0); got != int64(n) {
			t.Errorf("%d-byte key: GetField = %v, want %d", n, got, n)
		}
		if tb.Exists(key) {
			t.Errorf("%d-byte key: the changed bytes %q find a row", n, key[:4])
		}
	}
	seen := map[string]bool{}
	next := tb.Iter()
	for k, _, ok := next(); ok; k, _, ok = next() {
		seen[k] = true
	}
	for _, n := range []int{1, 31, 32, 33, 1024} {
		if k := strings.Repeat("k", n-1) + "!"; !seen[k] || !tb.Del(k) || tb.Exists(k) {
			t.Errorf("%d-byte key: seen by Iter %v, then Del / Exists wrong", n, seen[k])
		}
	}
	if tb.Count() != 0 {
		t.Errorf("Count = %d after deleting every row", tb.Count())
	}
}
