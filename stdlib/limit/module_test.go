package limit_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imscript/imscript/script"
	"github.com/imscript/imscript/script/scripttest"
	"github.com/imscript/imscript/stdlib/limit"
)

// entry is a script function a worker handed to Go through
// imscript.harness.ready(name, fn).
type entry struct {
	inst script.Instance
	fn   script.Callback
}

// running is a script in a scripttest host whose workers hand functions to
// Go with imscript.harness.ready(name, fn); call runs one on its worker.
type running struct {
	*scripttest.Host
	tb      testing.TB
	mu      sync.Mutex
	entries map[string][]entry // by name, one per worker in load order
}

func start(tb testing.TB, lang, src string, workers int) *running {
	tb.Helper()
	r := &running{tb: tb, entries: map[string][]entry{}}
	r.Host = scripttest.Start(tb, scripttest.Options{
		Lang: lang, Src: src, Workers: workers,
		Modules: []script.Module{{Name: "harness", Build: func(inst script.Instance) script.Value {
			return script.Map{"ready": script.Function(func(c script.Call) {
				name, fn := c.Str(0, "name"), c.Func(1, "fn")
				r.mu.Lock()
				r.entries[name] = append(r.entries[name], entry{inst, fn})
				r.mu.Unlock()
			})}
		}}},
	})
	return r
}

// call runs the function worker w registered under name, on that worker.
func (r *running) call(name string, w int, args ...script.Value) script.Value {
	r.tb.Helper()
	r.mu.Lock()
	es := r.entries[name]
	r.mu.Unlock()
	if w >= len(es) {
		r.tb.Fatalf("no function %q for worker %d (have %d)", name, w, len(es))
	}
	e := es[w]
	done := make(chan script.Value, 1)
	e.inst.Post(func() { done <- e.inst.Call("harness "+name, e.fn, args...) })
	select {
	case v := <-done:
		return v
	case <-time.After(scripttest.WaitLimit):
		r.tb.Fatalf("%s on worker %d did not return", name, w)
		return nil
	}
}

// The same program in both languages. "slow" refills one token in 1000 s:
// nothing refills during a test. "fast" refills 50 a second; the test
// polls it with a deadline rather than counting on the rate.
var scripts = map[string]string{
	"lua": `
local slow = imscript.limit("slow", { rate = 0.001, burst = 3 })
local fast = imscript.limit("fast", { rate = 50, burst = 1 })
local shared = imscript.limit("shared", { rate = 0.001, burst = 15 })
local function yn(b) return b and "y" or "n" end

imscript.harness.ready("burst", function(key)
  local s = ""
  for i = 1, 4 do s = s .. yn(slow:allow(key)) end
  s = s .. " " .. slow:remaining(key)
  slow:reset(key)
  s = s .. " " .. slow:remaining(key) .. " " .. yn(slow:allow(key, 2)) .. yn(slow:allow(key, 2)) .. " " .. slow:remaining(key)
  s = s .. " " .. yn(slow:allow(42)) .. yn(slow:allow("42")) .. yn(slow:allow(42)) .. yn(slow:allow(42))
  s = s .. " " .. yn(slow:allow("big", 4))
  return s
end)

imscript.harness.ready("same", function()
  local again = imscript.limit("slow", { rate = 0.001, burst = 3 })
  return tostring(again == slow) .. " " .. tostring(imscript.limit("slow") == slow) .. " " ..
    slow.name .. " " .. slow.rate .. " " .. slow.burst
end)

imscript.harness.ready("take", function(name, key, times)
  local lim, n = imscript.limit(name), 0
  for i = 1, times do if lim:allow(key) then n = n + 1 end end
  return n
end)

imscript.harness.ready("errors", function()
  local out = {}
  local function try(f) local ok, err = pcall(f); out[#out + 1] = ok and "no error" or tostring(err) end
  try(function() imscript.limit("x1") end)
  try(function() imscript.limit("x1", { burst = 3 }) end)
  try(function() imscript.limit("x1", { rate = 0, burst = 3 }) end)
  try(function() imscript.limit("x1", { rate = "fast", burst = 3 }) end)
  try(function() imscript.limit("x1", { rate = 1 }) end)
  try(function() imscript.limit("x1", { rate = 1, burst = 1.5 }) end)
  try(function() imscript.limit("x1", { rate = 1, burst = 0 }) end)
  try(function() imscript.limit("x1", { rate = 1, burst = 3, burts = 3 }) end)
  try(function() imscript.limit("", { rate = 1, burst = 3 }) end)
  try(function() slow:allow({}) end)
  try(function() slow:allow("k", 0) end)
  try(function() slow:allow("k", -1) end)
  try(function() slow:allow(string.rep("x", 1025)) end)
  return table.concat(out, "\n")
end)
`,
	"js": `
const slow = imscript.limit("slow", { rate: 0.001, burst: 3 });
const fast = imscript.limit("fast", { rate: 50, burst: 1 });
const shared = imscript.limit("shared", { rate: 0.001, burst: 15 });
const yn = (b) => (b ? "y" : "n");

imscript.harness.ready("burst", (key) => {
  let s = "";
  for (let i = 0; i < 4; i++) s += yn(slow.allow(key));
  s += " " + slow.remaining(key);
  slow.reset(key);
  s += " " + slow.remaining(key) + " " + yn(slow.allow(key, 2)) + yn(slow.allow(key, 2)) + " " + slow.remaining(key);
  s += " " + yn(slow.allow(42)) + yn(slow.allow("42")) + yn(slow.allow(42)) + yn(slow.allow(42));
  s += " " + yn(slow.allow("big", 4));
  return s;
});

imscript.harness.ready("same", () => {
  const again = imscript.limit("slow", { rate: 0.001, burst: 3 });
  return String(again === slow) + " " + String(imscript.limit("slow") === slow) + " " +
    slow.name + " " + slow.rate + " " + slow.burst;
});

imscript.harness.ready("take", (name, key, times) => {
  const lim = imscript.limit(name);
  let n = 0;
  for (let i = 0; i < times; i++) if (lim.allow(key)) n++;
  return n;
});

imscript.harness.ready("errors", () => {
  const out = [];
  const tryIt = (f) => { try { f(); out.push("no error"); } catch (e) { out.push(String(e.message)); } };
  tryIt(() => imscript.limit("x1"));
  tryIt(() => imscript.limit("x1", { burst: 3 }));
  tryIt(() => imscript.limit("x1", { rate: 0, burst: 3 }));
  tryIt(() => imscript.limit("x1", { rate: "fast", burst: 3 }));
  tryIt(() => imscript.limit("x1", { rate: 1 }));
  tryIt(() => imscript.limit("x1", { rate: 1, burst: 1.5 }));
  tryIt(() => imscript.limit("x1", { rate: 1, burst: 0 }));
  tryIt(() => imscript.limit("x1", { rate: 1, burst: 3, burts: 3 }));
  tryIt(() => imscript.limit("", { rate: 1, burst: 3 }));
  tryIt(() => slow.allow({}));
  tryIt(() => slow.allow("k", 0));
  tryIt(() => slow.allow("k", -1));
  tryIt(() => slow.allow("x".repeat(1025)));
  return out.join("\n");
});
`,
}

// TestLimitScript: burst then refusal, n tokens, reset, remaining, number
// keys, the same limiter when declared again, refill (polled), two workers
// sharing one limiter, a reload keeping it, and clear errors — in both
// languages, on two workers.
func TestLimitScript(t *testing.T) {
	for _, lang := range scripttest.Langs {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			r := start(t, lang, scripts[lang], 2)

			// Burst, then refusal; remaining; reset; n tokens; number
			// keys are strings; more than burst is never allowed.
			if got, want := fmt.Sprint(r.call("burst", 0, "a")), "yyyn 0 3 yn 1 yyyn n"; got != want {
				t.Errorf("burst on worker 0: %q, want %q", got, want)
			}
			// The other worker sees the same buckets: "a" has 1 token
			// left, 42 none.
			if got, want := fmt.Sprint(r.call("take", 1, "slow", "a", int64(3))), "1"; got != want {
				t.Errorf("worker 1 takes from a: %s, want %s", got, want)
			}
			if got, want := fmt.Sprint(r.call("take", 1, "slow", int64(42), int64(3))), "0"; got != want {
				t.Errorf("worker 1 takes from 42: %s, want %s", got, want)
			}
			for w := range 2 {
				if got, want := fmt.Sprint(r.call("same", w)), "true true slow 0.001 3"; got != want {
					t.Errorf("worker %d declares slow again: %q, want %q", w, got, want)
				}
			}

			// Two workers at once on one key: exactly burst (15) allowed
			// between them.
			var wg sync.WaitGroup
			got := make([]int64, 2)
			for w := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range 10 {
						got[w] += toInt(t, r.call("take", w, "shared", "ip", int64(2)))
					}
				}()
			}
			wg.Wait()
			if got[0]+got[1] != 15 {
				t.Errorf("allowed %d on worker 0 and %d on worker 1: %d in all, want burst 15", got[0], got[1], got[0]+got[1])
			}

			// Refill: empty "fast" on worker 0, then worker 1 polls until
			// a token has come back (50 a second; the deadline is long).
			deadline := time.Now().Add(scripttest.WaitLimit)
			for toInt(t, r.call("take", 0, "fast", "k", int64(1))) == 1 {
				if time.Now().After(deadline) {
					t.Fatal("fast never refused")
				}
			}
			for toInt(t, r.call("take", 1, "fast", "k", int64(1))) == 0 {
				if time.Now().After(deadline) {
					t.Fatal("fast never refilled")
				}
				time.Sleep(5 * time.Millisecond)
			}

			// Errors name the limiter and the option.
			wantErrs := []string{
				`imscript.limit: no limiter "x1"; declare it first with its options rate and burst`,
				`imscript.limit x1: option rate (tokens a second) is required`,
				`imscript.limit x1: option rate (tokens a second) must be a number above 0, got 0`,
				`imscript.limit x1: option rate must be a number, got string`,
				`imscript.limit x1: option burst (the most tokens a key holds) is required`,
				`imscript.limit x1: option burst must be a whole number from 1 to 1073741824, got 1.5`,
				`imscript.limit x1: option burst must be a whole number from 1 to 1073741824, got 0`,
				`imscript.limit x1: unknown option "burts" (options: burst, rate)`,
				`imscript.limit: the name is empty`,
				`(key)`,
				`limiter.allow: n (tokens to take) must be a number above 0, got 0`,
				`limiter.allow: n (tokens to take) must be a number above 0, got -1`,
				`limiter.allow: the key is 1025 bytes; at most 1024`,
			}
			errs := strings.Split(fmt.Sprint(r.call("errors", 0)), "\n")
			if len(errs) != len(wantErrs) {
				t.Fatalf("errors:\n%s\nwant %d of them", strings.Join(errs, "\n"), len(wantErrs))
			}
			for i, w := range wantErrs {
				if !strings.Contains(errs[i], w) {
					t.Errorf("error %d: %q, want it to hold %q", i+1, errs[i], w)
				}
			}
			if limit.Lookup(r.H, "x1") != nil {
				t.Error("a refused declaration made a limiter")
			}

			// A reload keeps the limiters and their buckets: "shared" is
			// still empty for "ip" on the new version's workers.
			r.Reload(scripts[lang])
			for w := 2; w < 4; w++ {
				if n := toInt(t, r.call("take", w, "shared", "ip", int64(3))); n != 0 {
					t.Errorf("after the reload, worker %d was allowed %d from the empty bucket", w-2, n)
				}
			}
			if l := limit.Lookup(r.H, "shared"); l == nil || l.Remaining("ip") != 0 || l.Burst() != 15 {
				t.Errorf("from Go after the reload: %v", l)
			}
			if e := r.LogLines(); e != "" {
				t.Errorf("the scripts logged:\n%s", e)
			}
		})
	}
}

func toInt(t *testing.T, v script.Value) int64 {
	t.Helper()
	switch n := v.(type) {
	case int64:
		return n
	case float64:
		return int64(n)
	}
	t.Fatalf("%v (%T) is not a number", v, v)
	return 0
}

// TestRedeclareUpdates: declaring a limiter again with other options
// changes them (the last declaration wins), on a fake instance.
func TestRedeclareUpdates(t *testing.T) {
	inst := scripttest.NewInstance(t)
	declare := limit.Module(inst).(script.Function)
	a := inst.Invoke(declare, nil, "api", script.Map{"rate": int64(5), "burst": int64(10)}).Value()
	b := inst.Invoke(declare, nil, "api", script.Map{"rate": 0.5, "burst": int64(2)}).Value()
	if a == nil || a != b {
		t.Fatalf("declared twice: %v and %v, want the same object", a, b)
	}
	l := limit.Lookup(inst, "api")
	if l == nil || l.Rate() != 0.5 || l.Burst() != 2 {
		t.Fatalf("after the second declaration: %+v", l)
	}
	allow := a.(*script.Object).Type.Methods["allow"]
	var s string
	for range 3 {
		s += fmt.Sprint(inst.Invoke(allow, a.(*script.Object), "k").Value(), " ")
	}
	if s != "true true false " {
		t.Errorf("allow ×3 with burst 2: %s", s)
	}
}
