package table_test

import (
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/imscript/imscript/script"
	"github.com/imscript/imscript/stdlib/table"
)

// The benchmarks run real scripts through the bindings: each worker's
// script registers one function per operation, a loop of n calls, and Go
// times calls of it. Each worker cycles through its own 1024 rows of one
// table (as per-connection rows would be), except incr-shared, where both
// workers increment the same 1024 rows, and atomic, one shared counter.
// Every row has the columns { n = "int", name = "string", score = "float" }.
// set and get build a new table / object per call (a row literal, the
// returned row); set-reused writes one table changed in place, get-into
// reads into one table passed as get's second argument.
//
// "call" is the floor of the binding: a loop calling a Go function that
// does nothing, with incr's arguments; its 2worker/1worker ratio is what
// the machine allows two workers at that moment.
//
// Each benchmark reports ops/s: for "2worker" both workers run b.N
// operations at once and ops/s counts both. The go-map-mutex rows are the
// baseline: a bare Go map (of int64 or of row structs) behind one
// sync.Mutex, doing the same operations from the same number of goroutines
// (and no script).

const benchKeys = 1024

// chunk bounds one script call, far below the watchdog's limit.
const chunk = 200_000

const luaBench = `
local t = imscript.table("bench", { size = 4096, columns = { n = "int", name = { "string", 32 }, score = "float" } })
-- keys: this worker's own rows; shared: rows both workers use.
local keys, shared = {}, {}
for i = 1, 1024 do
  keys[i] = "w" .. imscript.worker_id .. ":user" .. i
  shared[i] = "user" .. i
  t:set(keys[i], { n = 0, name = "ann", score = 0 })
end
local h = imscript.harness
h.ready("call", function(n)
  local noop, j = h.noop, 0
  for i = 1, n do
    j = j % 1024 + 1
    noop(keys[j], "n", 1)
  end
end)
h.ready("incr", function(n)
  local j = 0
  for i = 1, n do
    j = j % 1024 + 1
    t:incr(keys[j], "n", 1)
  end
end)
h.ready("incr-shared", function(n)
  local j = imscript.worker_id * 512
  for i = 1, n do
    j = j % 1024 + 1
    t:incr(shared[j], "n", 1)
  end
end)
h.ready("getfield", function(n)
  local j, s = 0, 0
  for i = 1, n do
    j = j % 1024 + 1
    s = s + t:get(keys[j], "n")
  end
  return s
end)
h.ready("set", function(n)
  local j = 0
  for i = 1, n do
    j = j % 1024 + 1
    t:set(keys[j], { n = i, name = "ann", score = 1.5 })
  end
end)
h.ready("get", function(n)
  local j, s = 0, 0
  for i = 1, n do
    j = j % 1024 + 1
    s = s + t:get(keys[j]).n
  end
  return s
end)
h.ready("set-reused", function(n)
  local j, row = 0, { n = 0, name = "ann", score = 1.5 }
  for i = 1, n do
    j = j % 1024 + 1
    row.n = i
    t:set(keys[j], row)
  end
end)
h.ready("get-into", function(n)
  local j, s, row = 0, 0, {}
  for i = 1, n do
    j = j % 1024 + 1
    s = s + t:get(keys[j], row).n
  end
  return s
end)
h.ready("atomic", function(n)
  local a = imscript.atomic("bench")
  for i = 1, n do a:add(1) end
end)
`

const jsBench = `
const t = imscript.table("bench", { size: 4096, columns: { n: "int", name: ["string", 32], score: "float" } });
// keys: this worker's own rows; shared: rows both workers use.
const keys = [], shared = [];
for (let i = 1; i <= 1024; i++) {
  keys.push("w" + imscript.worker_id + ":user" + i);
  shared.push("user" + i);
  t.set(keys[i - 1], { n: 0, name: "ann", score: 0 });
}
const h = imscript.harness;
h.ready("call", (n) => {
  const noop = h.noop;
  let j = 0;
  for (let i = 0; i < n; i++) {
    j = (j + 1) % 1024;
    noop(keys[j], "n", 1);
  }
});
h.ready("incr", (n) => {
  let j = 0;
  for (let i = 0; i < n; i++) {
    j = (j + 1) % 1024;
    t.incr(keys[j], "n", 1);
  }
});
h.ready("incr-shared", (n) => {
  let j = imscript.worker_id * 512;
  for (let i = 0; i < n; i++) {
    j = (j + 1) % 1024;
    t.incr(shared[j], "n", 1);
  }
});
h.ready("getfield", (n) => {
  let j = 0, s = 0;
  for (let i = 0; i < n; i++) {
    j = (j + 1) % 1024;
    s += t.get(keys[j], "n");
  }
  return s;
});
h.ready("set", (n) => {
  let j = 0;
  for (let i = 0; i < n; i++) {
    j = (j + 1) % 1024;
    t.set(keys[j], { n: i, name: "ann", score: 1.5 });
  }
});
h.ready("get", (n) => {
  let j = 0, s = 0;
  for (let i = 0; i < n; i++) {
    j = (j + 1) % 1024;
    s += t.get(keys[j]).n;
  }
  return s;
});
h.ready("set-reused", (n) => {
  let j = 0;
  const row = { n: 0, name: "ann", score: 1.5 };
  for (let i = 0; i < n; i++) {
    j = (j + 1) % 1024;
    row.n = i;
    t.set(keys[j], row);
  }
});
h.ready("get-into", (n) => {
  let j = 0, s = 0;
  const row = {};
  for (let i = 0; i < n; i++) {
    j = (j + 1) % 1024;
    s += t.get(keys[j], row).n;
  }
  return s;
});
h.ready("atomic", (n) => {
  const a = imscript.atomic("bench");
  for (let i = 0; i < n; i++) a.add(1);
});
`

var benchOps = []string{"call", "incr", "incr-shared", "getfield", "set", "get", "set-reused", "get-into", "atomic"}

// BenchmarkTable runs each operation from Lua and JS on one worker and on
// two workers at once, next to the Go map+mutex baseline.
func BenchmarkTable(b *testing.B) {
	b.Run("go-map-mutex", func(b *testing.B) {
		for _, op := range benchOps[1:] { // no "call": there is no script
			for _, workers := range []int{1, 2} {
				b.Run(op+"/"+strconv.Itoa(workers)+"worker", func(b *testing.B) {
					base := newBaseline()
					measure(b, workers, func(w, n int) { base.run(op, w, n) })
				})
			}
		}
	})
	for _, lang := range []struct{ name, src string }{{"lua", luaBench}, {"js", jsBench}} {
		b.Run(lang.name, func(b *testing.B) {
			r := start(b, lang.name, lang.src, 2)
			// Warm up: the host's GC floor (host.Config.GCMinHeap) holds
			// once it has seen a quarter second of allocation.
			for t0 := time.Now(); time.Since(t0) < time.Second; {
				r.call("call", 0, int64(chunk))
			}
			for _, op := range benchOps {
				for _, workers := range []int{1, 2} {
					b.Run(op+"/"+strconv.Itoa(workers)+"worker", func(b *testing.B) {
						measure(b, workers, func(w, n int) { r.call(op, w, int64(n)) })
					})
				}
			}
			if e := r.LogLines(); e != "" {
				b.Fatalf("the scripts logged errors:\n%s", e)
			}
		})
	}
}

// measure runs b.N operations on each of workers goroutines at once, in
// chunks, and reports the operations per second of all of them together.
// With two workers it also runs one worker alone just before and just
// after (untimed), and reports "x1worker": the two workers' rate divided
// by the mean of those, so a machine that speeds up or slows down between
// sub-benchmarks does not skew the scaling ratio.
func measure(b *testing.B, workers int, run func(w, n int)) {
	var alone []float64
	if workers > 1 {
		b.StopTimer()
		alone = append(alone, pass(b.N, 1, run).ops)
		b.StartTimer()
	}
	b.ResetTimer()
	p := pass(b.N, workers, run)
	b.StopTimer()
	b.ReportMetric(p.ops, "ops/s")
	// CPU time per operation (the whole process: script, table, GC) is
	// steadier than ops/s on a busy machine.
	b.ReportMetric(p.cpuPerOp, "cpu-ns/op")
	if workers > 1 {
		alone = append(alone, pass(b.N, 1, run).ops)
		b.ReportMetric(p.ops/((alone[0]+alone[1])/2), "x1worker")
	}
}

type passResult struct{ ops, cpuPerOp float64 }

// pass runs n operations on each of workers goroutines at once.
func pass(n, workers int, run func(w, n int)) passResult {
	var wg sync.WaitGroup
	cpu0 := cpuTime()
	t0 := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for left := n; left > 0; left -= chunk {
				run(w, min(left, chunk))
			}
		}(w)
	}
	wg.Wait()
	el := time.Since(t0)
	cpu := cpuTime() - cpu0
	return passResult{
		ops:      float64(workers*n) / el.Seconds(),
		cpuPerOp: float64(cpu.Nanoseconds()) / float64(workers*n),
	}
}

// baseline is the bare Go reference: one map, one mutex.
type baseline struct {
	mu     sync.Mutex
	n      map[string]int64
	rows   map[string]*baseRow
	at     int64
	keys   [2][]string // each worker's own keys
	shared []string
}

type baseRow struct {
	n     int64
	name  string
	score float64
}

func newBaseline() *baseline {
	b := &baseline{n: map[string]int64{}, rows: map[string]*baseRow{}}
	for i := 1; i <= benchKeys; i++ {
		for w := range b.keys {
			k := "w" + strconv.Itoa(w) + ":user" + strconv.Itoa(i)
			b.keys[w] = append(b.keys[w], k)
			b.n[k] = 0
			b.rows[k] = &baseRow{name: "ann"}
		}
		k := "user" + strconv.Itoa(i)
		b.shared = append(b.shared, k)
		b.n[k] = 0
	}
	return b
}

func (b *baseline) run(op string, w, n int) {
	keys := b.keys[w]
	j := 0
	var s int64
	switch op {
	case "incr":
		for range n {
			j = (j + 1) % benchKeys
			b.mu.Lock()
			b.n[keys[j]]++
			b.mu.Unlock()
		}
	case "incr-shared":
		j = w * 512
		for range n {
			j = (j + 1) % benchKeys
			b.mu.Lock()
			b.n[b.shared[j]]++
			b.mu.Unlock()
		}
	case "getfield":
		for range n {
			j = (j + 1) % benchKeys
			b.mu.Lock()
			s += b.n[keys[j]]
			b.mu.Unlock()
		}
	case "set", "set-reused":
		for i := range n {
			j = (j + 1) % benchKeys
			b.mu.Lock()
			*b.rows[keys[j]] = baseRow{n: int64(i), name: "ann", score: 1.5}
			b.mu.Unlock()
		}
	case "get", "get-into":
		for range n {
			j = (j + 1) % benchKeys
			b.mu.Lock()
			r := *b.rows[keys[j]]
			b.mu.Unlock()
			s += r.n
		}
	case "atomic":
		for range n {
			b.mu.Lock()
			b.at++
			b.mu.Unlock()
		}
	}
	sink = s
}

var sink int64

// cpuTime is the CPU time the process has used (user + system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkTableGo is the table without a script: IncrInt from Go on each
// worker's own 1024 rows, for tables declared with a small and a large
// size (which presizes its hash map).
func BenchmarkTableGo(b *testing.B) {
	cols := []table.Column{{Name: "n", Kind: table.Int}}
	for _, size := range []int{64, 4096, 65536} {
		for _, workers := range []int{1, 2} {
			b.Run("size"+strconv.Itoa(size)+"/incr/"+strconv.Itoa(workers)+"worker", func(b *testing.B) {
				t := table.New("go", cols, size, 1<<20)
				var keys [2][]string
				for w := range keys {
					for i := range benchKeys {
						keys[w] = append(keys[w], "w"+strconv.Itoa(w)+":user"+strconv.Itoa(i))
					}
				}
				measure(b, workers, func(w, n int) {
					ks := keys[w]
					j := 0
					for range n {
						j = (j + 1) % benchKeys
						if _, err := t.IncrInt(ks[j], 0, 1); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}

// BenchmarkTableRowsGo is the table's own part of a whole-row set and get
// (SetCells, GetCells: what a script's set(key, row) and get(key, row)
// cost past the binding) and of IncrInt, from Go on one goroutine, over
// 1024 keys and over 100,000 (where a lookup misses the cache).
func BenchmarkTableRowsGo(b *testing.B) {
	cols := []table.Column{{Name: "n", Kind: table.Int}, {Name: "name", Kind: table.String, Size: 16}, {Name: "score", Kind: table.Float}}
	for _, n := range []int{1024, 100_000} {
		t := table.New("rows", cols, n, n)
		keys := make([]string, n)
		for i := range keys {
			keys[i] = "key" + strconv.Itoa(i+1)
		}
		cells := []script.Cell{{Kind: script.CellNumber, Num: 1}, {Kind: script.CellString, Str: "user"}, {Kind: script.CellNumber, Num: 0.5}}
		for _, k := range keys {
			if err := t.SetCells(k, cells); err != nil {
				b.Fatal(err)
			}
		}
		b.Run("set/"+strconv.Itoa(n)+"keys", func(b *testing.B) {
			for i := range b.N {
				cells[0].Num = float64(i)
				if err := t.SetCells(keys[i%n], cells); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("get/"+strconv.Itoa(n)+"keys", func(b *testing.B) {
			out := make([]script.Cell, len(cols))
			for i := range b.N {
				if !t.GetCells(keys[i%n], out) {
					b.Fatal("missing row")
				}
			}
		})
		b.Run("incr/"+strconv.Itoa(n)+"keys", func(b *testing.B) {
			for i := range b.N {
				if _, err := t.IncrInt(keys[i%n], 0, 1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
