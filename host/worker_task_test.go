package host_test

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imscript/imscript/host"
)

// taskScripts is one task server in both languages: a TCP server whose
// commands exercise srv:task / taskwait / taskWaitMulti / finish.
var taskScripts = map[string]string{
	"lua": `local srv = imscript.server{ port = 0, host = "127.0.0.1", task_worker_num = 2, task_max_queue = 4, max_exec_ms = 2000 }
local VERSION = "v1"
srv:on("task", function(srv, id, from, data)
  if data.i then return data.i end
  if data.fail then error("task failed on purpose") end -- FAILLINE
  if data.sleep then local t = imscript.now(); while imscript.now() - t < data.sleep do end end
  if data.finish then srv:finish({ n = data.n, via = "finish" }); return "ignored" end
  return { n = data.n * 2, by = imscript.worker_id, version = VERSION }
end)
srv:on("finish", function(srv, id, result, err)
  print("finish " .. id .. " " .. tostring(result and result.n) .. " " .. tostring(err))
end)
srv:on("receive", function(srv, fd, data)
  local cmd, arg = data:match("^(%S+)%s*(%S*)")
  if cmd == "cb" then
    local id = srv:task({ n = tonumber(arg) }, function(srv, id, result, err)
      srv:send(fd, "cb " .. id .. " " .. result.n .. " by " .. result.by .. " " .. result.version .. "\n")
    end)
  elseif cmd == "ev" then
    srv:send(fd, "queued " .. srv:task({ n = tonumber(arg) }) .. "\n")
  elseif cmd == "finish" then
    srv:task({ n = 7, finish = true }, function(srv, id, result) srv:send(fd, "finish " .. result.n .. " " .. result.via .. "\n") end)
  elseif cmd == "fail" then
    srv:task({ fail = true }, function(srv, id, result, err) srv:send(fd, "err " .. tostring(result) .. " " .. tostring(err) .. "\n") end)
  elseif cmd == "wait" then
    local r, err = srv:taskwait({ n = 4 }, 2)
    srv:send(fd, "wait " .. tostring(r and r.n) .. " " .. tostring(err) .. "\n")
  elseif cmd == "timeout" then
    local r, err = srv:taskwait({ n = 4, sleep = 400 }, 0.05)
    srv:send(fd, "timeout " .. tostring(r) .. " " .. tostring(err) .. "\n")
  elseif cmd == "multi" then
    local rs = srv:taskWaitMulti({ { n = 1 }, { n = 2 }, { n = 3 } }, 2)
    srv:send(fd, "multi " .. rs[1].n .. " " .. rs[2].n .. " " .. rs[3].n .. "\n")
  elseif cmd == "flood" then
    local ok, refused, why = 0, 0, ""
    for i = 1, 20 do
      local id, err = srv:task({ n = i, sleep = 30 })
      if id then ok = ok + 1 else refused = refused + 1; why = err end
    end
    srv:send(fd, "flood " .. ok .. " " .. refused .. " " .. why .. "\n")
  elseif cmd == "bad" then
    local ok, err = pcall(function() srv:task({ f = function() end }) end)
    srv:send(fd, "bad " .. tostring(err):gsub("\n.*", "") .. "\n")
  elseif cmd == "rtt" then
    local n, times = tonumber(arg), {}
    local function one(i)
      local t0 = imscript.now()
      srv:task({ i = i }, function()
        times[#times + 1] = string.format("%.4f", imscript.now() - t0)
        if i < n then one(i + 1) else srv:send(fd, "rtt " .. table.concat(times, ",") .. "\n") end
      end)
    end
    one(1)
  end
end)
`,
	"js": `const srv = imscript.server({ port: 0, host: "127.0.0.1", task_worker_num: 2, task_max_queue: 4, max_exec_ms: 2000 });
const VERSION = "v1";
srv.on("task", (srv, id, from, data) => {
  if (data.i) return data.i;
  if (data.fail) throw new Error("task failed on purpose"); // FAILLINE
  if (data.sleep) { const t = imscript.now(); while (imscript.now() - t < data.sleep) {} }
  if (data.finish) { srv.finish({ n: data.n, via: "finish" }); return "ignored"; }
  if (data.later) return new Promise((resolve) => setTimeout(() => resolve({ n: data.later, via: "promise" }), 5));
  if (data.laterfail) return (async () => { await new Promise((r) => setTimeout(r, 5)); throw new Error("async task failed"); })();
  return { n: data.n * 2, by: imscript.worker_id, version: VERSION };
});
srv.on("finish", (srv, id, result, err) => {
  console.log("finish " + id + " " + (result ? result.n : "nil") + " " + (err === null ? "nil" : err));
});
srv.on("receive", (srv, fd, data) => {
  const [cmd, arg] = data.toString().trim().split(/\s+/);
  if (cmd === "cb") {
    srv.task({ n: Number(arg) }, (srv, id, result, err) => {
      srv.send(fd, "cb " + id + " " + result.n + " by " + result.by + " " + result.version + "\n");
    });
  } else if (cmd === "ev") {
    srv.send(fd, "queued " + srv.task({ n: Number(arg) }) + "\n");
  } else if (cmd === "finish") {
    srv.task({ n: 7, finish: true }, (srv, id, result) => srv.send(fd, "finish " + result.n + " " + result.via + "\n"));
  } else if (cmd === "fail") {
    srv.task({ fail: true }, (srv, id, result, err) => srv.send(fd, "err " + (result === null ? "nil" : result) + " " + err + "\n"));
  } else if (cmd === "later") {
    srv.task({ later: Number(arg) }, (srv, id, result, err) => srv.send(fd, "later " + result.n + " " + result.via + " " + err + "\n"));
  } else if (cmd === "laterfail") {
    srv.task({ laterfail: true }, (srv, id, result, err) => srv.send(fd, "laterfail " + result + " " + err + "\n"));
  } else if (cmd === "wait") {
    const r = srv.taskwait({ n: 4 }, 2);
    srv.send(fd, "wait " + (r ? r.n : "nil") + " nil\n");
  } else if (cmd === "timeout") {
    const r = srv.taskwait({ n: 4, sleep: 400 }, 0.05);
    srv.send(fd, "timeout " + r + " timed out\n");
  } else if (cmd === "multi") {
    const rs = srv.taskWaitMulti([{ n: 1 }, { n: 2 }, { n: 3 }], 2);
    srv.send(fd, "multi " + rs[0].n + " " + rs[1].n + " " + rs[2].n + "\n");
  } else if (cmd === "flood") {
    let ok = 0, refused = 0;
    for (let i = 1; i <= 20; i++) { if (srv.task({ n: i, sleep: 30 }) === false) refused++; else ok++; }
    srv.send(fd, "flood " + ok + " " + refused + "\n");
  } else if (cmd === "bad") {
    try { srv.task({ f: () => 1 }); } catch (e) { srv.send(fd, "bad " + e.message + "\n"); }
  } else if (cmd === "rtt") {
    const n = Number(arg), times = [];
    const one = (i) => {
      const t0 = imscript.now();
      srv.task({ i }, () => {
        times.push((imscript.now() - t0).toFixed(4));
        if (i < n) one(i + 1); else srv.send(fd, "rtt " + times.join(",") + "\n");
      });
    };
    one(1);
  }
});
`,
}

func taskHost(t testing.TB, lang string) *running {
	tt, ok := t.(*testing.T)
	if !ok {
		tt = &testing.T{}
	}
	return startHost(tt, "tasks."+lang, taskScripts[lang], host.Config{})
}

func TestTasks(t *testing.T) {
	for _, lang := range []string{"lua", "js"} {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			r := taskHost(t, lang)
			c := dial(t, r.port(0))

			// A callback gets the task's return value, computed on a task
			// worker (ids 2 and 3 after the 2 event workers).
			got := c.ask("cb 21")
			if !strings.HasPrefix(got, "cb 0 42 by ") || !strings.HasSuffix(got, " v1") {
				t.Fatalf("callback: %q", got)
			}
			if by := strings.Fields(got)[4]; by != "2" && by != "3" {
				t.Errorf("task ran on worker %s, want a task worker (2 or 3)", by)
			}
			// Without a callback the finish event fires on the asking worker.
			if got := c.ask("ev 5"); got != "queued 1" {
				t.Errorf("task id: %q", got)
			}
			r.waitStdout("finish 1 10 nil")
			// srv:finish sets the result.
			if got := c.ask("finish"); got != "finish 7 finish" {
				t.Errorf("finish: %q", got)
			}
			// An error inside a task reaches the caller, with file:line.
			got = c.ask("fail")
			if !strings.HasPrefix(got, "err nil ") || !strings.Contains(got, "task failed on purpose") {
				t.Errorf("task error: %q", got)
			}
			r.waitLog(fmt.Sprintf("tasks.%s:%d", lang, lineOf(t, taskScripts[lang], "FAILLINE")))
			if lang == "js" {
				// A task handler that returns a promise (an async function):
				// its value is the result, its rejection the error. Lua has no
				// promises.
				if got := c.ask("later 9"); got != "later 9 promise null" {
					t.Errorf("promise task: %q", got)
				}
				if got := c.ask("laterfail"); got != "laterfail null Error: async task failed" {
					t.Errorf("rejected promise task: %q", got)
				}
				r.waitLog("async task failed")
			}
			// taskwait and its timeout.
			if got := c.ask("wait"); got != "wait 8 nil" {
				t.Errorf("taskwait: %q", got)
			}
			got = c.ask("timeout")
			// Lua suspends in taskwait: a failure is nil and the reason.
			if lang == "lua" && (!strings.HasPrefix(got, "timeout nil ") || !strings.Contains(got, "timed out")) ||
				lang == "js" && got != "timeout false timed out" {
				t.Errorf("taskwait timeout: %q", got)
			}
			if got := c.ask("multi"); got != "multi 2 4 6" {
				t.Errorf("taskWaitMulti: %q", got)
			}
			// Past task_max_queue, task refuses with a reason: never dropped.
			got = c.ask("flood")
			f := strings.Fields(got)
			ok, _ := strconv.Atoi(f[1])
			refused, _ := strconv.Atoi(f[2])
			if ok+refused != 20 || refused == 0 || ok < 4 {
				t.Errorf("bounded queue: %q", got)
			}
			// Lua gets the reason as a second value; JS only false.
			if lang == "lua" && !strings.Contains(got, "task queue full (task_max_queue 4)") {
				t.Errorf("bounded queue, no reason: %q", got)
			}
			for i := 0; i < ok; i++ {
				// every accepted task finishes (the finish event prints it)
				r.waitStdout(fmt.Sprintf(" %d nil\n", 2*(i+1)))
			}
			// Only neutral values cross VMs.
			if got := c.ask("bad"); !strings.Contains(got, "cannot cross to another VM") {
				t.Errorf("function in task data: %q", got)
			}
		})
	}
}

func TestTaskWorkersReload(t *testing.T) {
	for _, lang := range []string{"lua", "js"} {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			r := taskHost(t, lang)
			c := dial(t, r.port(0))
			if got := c.ask("cb 1"); !strings.HasSuffix(got, " v1") {
				t.Fatalf("before reload: %q", got)
			}
			r.write("tasks."+lang, strings.Replace(taskScripts[lang], `VERSION = "v1"`, `VERSION = "v2"`, 1))
			if err := r.h.ReloadNow("test"); err != nil {
				t.Fatal(err)
			}
			// Both task workers run the new version.
			for i := 0; i < 6; i++ {
				if got := c.ask("cb 1"); !strings.HasSuffix(got, " v2") {
					t.Fatalf("after reload: %q", got)
				}
			}
		})
	}
}

// BenchmarkTaskRoundTrip measures task -> result back on the asking worker,
// one at a time, as the script sees it (imscript.now around each trip).
// Reported: median and p99 per round trip, next to a bare Go channel
// round trip between two goroutines in the same run.
func BenchmarkTaskRoundTrip(b *testing.B) {
	b.Run("go-channel-baseline", func(b *testing.B) {
		req, resp := make(chan int), make(chan int)
		go func() {
			for v := range req {
				resp <- v
			}
		}()
		times := make([]float64, 0, b.N)
		for i := 0; i < b.N; i++ {
			t0 := time.Now()
			req <- i
			<-resp
			times = append(times, float64(time.Since(t0).Nanoseconds())/1e3)
		}
		close(req)
		reportTimes(b, times)
	})
	for _, lang := range []string{"lua", "js"} {
		b.Run(lang, func(b *testing.B) {
			t := &testing.T{}
			r := startHost(t, "tasks."+lang, taskScripts[lang], host.Config{})
			defer r.stop()
			c := dial(t, r.port(0))
			b.ResetTimer()
			got := c.ask("rtt " + strconv.Itoa(b.N))
			b.StopTimer()
			var times []float64
			for _, f := range strings.Split(strings.TrimPrefix(got, "rtt "), ",") {
				ms, err := strconv.ParseFloat(f, 64)
				if err != nil {
					b.Fatalf("reply %q", got)
				}
				times = append(times, ms*1000)
			}
			reportTimes(b, times)
		})
	}
}

func reportTimes(b *testing.B, us []float64) {
	if len(us) == 0 {
		return
	}
	sort.Float64s(us)
	b.ReportMetric(us[len(us)/2], "µs-median")
	b.ReportMetric(us[len(us)*99/100], "µs-p99")
}
