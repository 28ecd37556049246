package table_test

import (
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The benchmarks run real scripts through the bindings: each worker's
// script registers one function per operation, a loop of n calls, and Go
// times calls of it. Keys cycle through benchKeys names ("user1".."user1024");
// each worker starts at its own offset. Every row has the columns
// { n = "int", name = "string", score = "float" }.
//
// Each benchmark reports ops/s: for "2workers" both workers run b.N
// operations at once and ops/s counts both. The go-map-mutex rows are the
// baseline: a bare Go map[string]int64 (or of row structs) behind one
// sync.Mutex, doing the same operations from the same number of goroutines.

const benchKeys = 1024

// chunk bounds one script call, far below the watchdog's limit.
const chunk = 200_000

const luaBench = `
local t = imscript.table("bench", { size = 4096, columns = { n = "int", name = { "string", 32 }, score = "float" } })
local keys = {}
for i = 1, 1024 do keys[i] = "user" .. i end
local start = (imscript.worker_id * 512) % 1024
for i = 1, 1024 do t:set(keys[i], { n = 0, name = "ann", score = 0 }) end
local h = imscript.harness
h.ready("incr", function(n)
  local j = start
  for i = 1, n do
    j = j % 1024 + 1
    t:incr(keys[j], "n", 1)
  end
end)
h.ready("getfield", function(n)
  local j, s = start, 0
  for i = 1, n do
    j = j % 1024 + 1
    s = s + t:get(keys[j], "n")
  end
  return s
end)
h.ready("set", function(n)
  local j = start
  for i = 1, n do
    j = j % 1024 + 1
    t:set(keys[j], { n = i, name = "ann", score = 1.5 })
  end
end)
h.ready("get", function(n)
  local j, s = start, 0
  for i = 1, n do
    j = j % 1024 + 1
    s = s + t:get(keys[j]).n
  end
  return s
end)
h.ready("atomic", function(n)
  local a = imscript.atomic("bench")
  for i = 1, n do a:add(1) end
end)
h.ready("total", function()
  local s = 0
  for k, row in t:pairs() do s = s + row.n end
  return s
end)
`

const jsBench = `
const t = imscript.table("bench", { size: 4096, columns: { n: "int", name: ["string", 32], score: "float" } });
const keys = [];
for (let i = 1; i <= 1024; i++) keys.push("user" + i);
const start = (imscript.worker_id * 512) % 1024;
for (const k of keys) t.set(k, { n: 0, name: "ann", score: 0 });
const h = imscript.harness;
h.ready("incr", (n) => {
  let j = start;
  for (let i = 0; i < n; i++) {
    j = (j + 1) % 1024;
    t.incr(keys[j], "n", 1);
  }
});
h.ready("getfield", (n) => {
  let j = start, s = 0;
  for (let i = 0; i < n; i++) {
    j = (j + 1) % 1024;
    s += t.get(keys[j], "n");
  }
  return s;
});
h.ready("set", (n) => {
  let j = start;
  for (let i = 0; i < n; i++) {
    j = (j + 1) % 1024;
    t.set(keys[j], { n: i, name: "ann", score: 1.5 });
  }
});
h.ready("get", (n) => {
  let j = start, s = 0;
  for (let i = 0; i < n; i++) {
    j = (j + 1) % 1024;
    s += t.get(keys[j]).n;
  }
  return s;
});
h.ready("atomic", (n) => {
  const a = imscript.atomic("bench");
  for (let i = 0; i < n; i++) a.add(1);
});
h.ready("total", () => {
  let s = 0;
  for (const [, row] of t) s += row.n;
  return s;
});
`

var benchOps = []string{"incr", "getfield", "set", "get", "atomic"}

// BenchmarkTable runs each operation from Lua and JS on one worker and on
// two workers at once, next to the Go map+mutex baseline.
func BenchmarkTable(b *testing.B) {
	b.Run("go-map-mutex", func(b *testing.B) {
		for _, op := range benchOps {
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
			for _, op := range benchOps {
				for _, workers := range []int{1, 2} {
					b.Run(op+"/"+strconv.Itoa(workers)+"worker", func(b *testing.B) {
						measure(b, workers, func(w, n int) { r.call(op, w, int64(n)) })
					})
				}
			}
			if e := r.errors(); e != "" {
				b.Fatalf("the scripts logged errors:\n%s", e)
			}
		})
	}
}

// measure runs b.N operations on each of workers goroutines at once, in
// chunks, and reports the operations per second of all of them together.
func measure(b *testing.B, workers int, run func(w, n int)) {
	var wg sync.WaitGroup
	b.ResetTimer()
	cpu0 := cpuTime()
	t0 := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for left := b.N; left > 0; left -= chunk {
				run(w, min(left, chunk))
			}
		}(w)
	}
	wg.Wait()
	el := time.Since(t0)
	cpu := cpuTime() - cpu0
	b.StopTimer()
	b.ReportMetric(float64(workers*b.N)/el.Seconds(), "ops/s")
	// CPU time per operation (the whole process: script, table, GC) is
	// steadier than ops/s on a busy machine.
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(workers*b.N), "cpu-ns/op")
}

// baseline is the bare Go reference: one map, one mutex.
type baseline struct {
	mu   sync.Mutex
	n    map[string]int64
	rows map[string]*baseRow
	at   int64
	keys []string
}

type baseRow struct {
	n     int64
	name  string
	score float64
}

func newBaseline() *baseline {
	b := &baseline{n: map[string]int64{}, rows: map[string]*baseRow{}}
	for i := 1; i <= benchKeys; i++ {
		k := "user" + strconv.Itoa(i)
		b.keys = append(b.keys, k)
		b.n[k] = 0
		b.rows[k] = &baseRow{name: "ann"}
	}
	return b
}

func (b *baseline) run(op string, w, n int) {
	j := (w * 512) % benchKeys
	var s int64
	switch op {
	case "incr":
		for range n {
			j = (j + 1) % benchKeys
			b.mu.Lock()
			b.n[b.keys[j]]++
			b.mu.Unlock()
		}
	case "getfield":
		for range n {
			j = (j + 1) % benchKeys
			b.mu.Lock()
			s += b.n[b.keys[j]]
			b.mu.Unlock()
		}
	case "set":
		for i := range n {
			j = (j + 1) % benchKeys
			b.mu.Lock()
			*b.rows[b.keys[j]] = baseRow{n: int64(i), name: "ann", score: 1.5}
			b.mu.Unlock()
		}
	case "get":
		for range n {
			j = (j + 1) % benchKeys
			b.mu.Lock()
			r := *b.rows[b.keys[j]]
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
