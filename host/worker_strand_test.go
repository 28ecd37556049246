package host_test

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/imscript/imscript/host"
	"github.com/imscript/imscript/script/scripttest"
)

// Suspending Lua handlers: an asynchronous call without a callback
// suspends the handler (its goroutine parks) while the worker runs other
// events; the result comes back the Lua way.

// TestSuspendAcrossPcallCoroutinesRequireAndTailCalls: pcall, xpcall, user
// coroutines (wrap and resume), require and a tail call each wrap a
// suspension, on one worker, while another connection is served.
func TestSuspendAcrossPcallCoroutinesRequireAndTailCalls(t *testing.T) {
	t.Parallel()
	src := `
local srv = imscript.server{ host = "127.0.0.1", port = 0, open_eof_split = true, package_eof = "\n" }
local function nap(s) imscript.sleep(s); return "rested" end
local function tail(s) return imscript.sleep(s) end        -- a tail call of a suspending function
local function tailv(s) return srv:taskwait("echo", 2) end  -- and of one that returns a value
srv:on("task", function(s, id, from, data) return data .. "!" end)
srv:on("receive", function(s, fd, data)
  local cmd = data:sub(1, -2)
  if cmd == "pcall" then
    local ok, v = pcall(nap, 0.05)
    s:send(fd, "pcall " .. tostring(ok) .. " " .. v .. "\n")
  elseif cmd == "pcall-error" then
    local ok, err = pcall(function() imscript.sleep(0.02); error("after the nap") end)
    s:send(fd, "pcall-error " .. tostring(ok) .. " " .. tostring(err):gsub("^.-:%d+: ", "") .. "\n")
  elseif cmd == "xpcall" then
    local ok, tb = xpcall(function() imscript.sleep(0.02); error("deep") end, debug.traceback)
    s:send(fd, "xpcall " .. tostring(ok) .. " " .. tostring(tb:find("stack traceback", 1, true) ~= nil) .. "\n")
  elseif cmd == "wrap" then
    local gen = coroutine.wrap(function()
      for i = 1, 3 do imscript.sleep(0.01); coroutine.yield(i) end
      return "end"
    end)
    s:send(fd, "wrap " .. gen() .. gen() .. gen() .. gen() .. "\n")
  elseif cmd == "resume" then
    local co = coroutine.create(function(a) local b = coroutine.yield(a + nap(0.01):len()) return b * 2 end)
    local ok1, v1 = coroutine.resume(co, 1)
    local ok2, v2 = coroutine.resume(co, 21)
    s:send(fd, "resume " .. tostring(ok1) .. " " .. v1 .. " " .. tostring(ok2) .. " " .. v2 .. " " .. coroutine.status(co) .. "\n")
  elseif cmd == "require" then
    local m = require("napper")
    s:send(fd, "require " .. m.value .. " " .. m.nap() .. "\n")
  elseif cmd == "tail" then
    s:send(fd, "tail " .. select("#", tail(0.01)) .. " " .. tailv(0) .. "\n")
  elseif cmd == "fast" then
    s:send(fd, "fast\n")
  end
end)
`
	r := newHost(t, "main.lua", src, host.Config{Workers: 1})
	r.write("napper.lua", `imscript.sleep(0.01)
return { value = "loaded", nap = function() imscript.sleep(0.01) return "napped" end }`)
	r.Host.Write("main.lua", strings.Replace(src, `imscript.server{`, `imscript.server{ task_worker_num = 1,`, 1))
	r.run()
	c := dial(t, r.port(0))
	other := dial(t, r.port(0))
	for _, tc := range []struct{ cmd, want string }{
		{"pcall", "pcall true rested"},
		{"pcall-error", "pcall-error false after the nap"},
		{"xpcall", "xpcall false true"},
		{"wrap", "wrap 123end"},
		{"resume", "resume true 7 true 42 dead"},
		{"require", "require loaded napped"},
		{"tail", "tail 1 echo!"},
	} {
		c.send(tc.cmd + "\n")
		if got := other.ask("fast"); got != "fast" { // the worker serves others meanwhile
			t.Fatalf("%s: the other connection got %q", tc.cmd, got)
		}
		if got := c.line(); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.cmd, got, tc.want)
		}
	}
}

// TestSuspendErrorsWatchdogAndMainChunk: an error after a resume is logged
// with its file:line and stack; a handler suspended longer than
// max_exec_ms is not interrupted, but one that loops after its resume is;
// a suspending call in the main chunk raises, saying to pass a callback.
func TestSuspendErrorsWatchdogAndMainChunk(t *testing.T) {
	t.Parallel()
	src := `
local srv = imscript.server{ host = "127.0.0.1", port = 0, max_exec_ms = 100, open_eof_split = true, package_eof = "\n" }
local ok, err = pcall(imscript.sleep, 0)
print("main chunk: " .. tostring(ok) .. " " .. tostring(err))
srv:on("receive", function(s, fd, data)
  local cmd = data:sub(1, -2)
  if cmd == "long" then
    imscript.sleep(0.3)                 -- three times max_exec_ms, suspended
    s:send(fd, "long ok\n")
  elseif cmd == "fail" then
    imscript.sleep(0.01)
    local t = nil
    return t.field                      -- line 13
  elseif cmd == "spin" then
    imscript.sleep(0.01)
    s:send(fd, "spinning\n")
    while true do end
  else
    s:send(fd, cmd .. "\n")
  end
end)
`
	r := startHost(t, "main.lua", src, host.Config{Workers: 1})
	r.waitStdout("main chunk: false ")
	if out := r.stdout.String(); !strings.Contains(out, "pass a callback") {
		t.Errorf("main chunk: %q, want an error that says to pass a callback", out)
	}
	c := dial(t, r.port(0))
	if got := c.ask("long"); got != "long ok" {
		t.Fatalf("a handler suspended past max_exec_ms: %q", got)
	}
	if strings.Contains(r.logs.String(), "interrupted") {
		t.Fatalf("a suspended handler was interrupted:\n%s", r.logs.String())
	}
	c.send("fail\n")
	r.waitLog("main.lua:13:")
	r.waitLog("stack traceback")
	if got := c.ask("after"); got != "after" {
		t.Fatalf("after an error: %q", got)
	}
	if got := c.ask("spin"); got != "spinning" {
		t.Fatalf("spin: %q", got)
	}
	r.waitLog("handler interrupted")
	if got := c.ask("still"); got != "still" {
		t.Fatalf("after the interrupt: %q", got)
	}
}

// orderScripts answer "N" after sleeping N ms (a Lua handler suspends, a
// JS one awaits), replying "N"; with ordered = false they interleave.
func orderScript(lang string, ordered bool) string {
	if lang == "lua" {
		return fmt.Sprintf(`
local srv = imscript.server{ host = "127.0.0.1", port = 0, ordered = %v, open_eof_split = true, package_eof = "\n" }
srv:on("receive", function(s, fd, data)
  local ms = tonumber(data)
  imscript.sleep(ms / 1000)
  s:send(fd, ms .. "\n")
end)
`, ordered)
	}
	return fmt.Sprintf(`
const srv = imscript.server({ host: "127.0.0.1", port: 0, ordered: %v, open_eof_split: true, package_eof: "\n" });
srv.on("receive", async (s, fd, data) => {
  const ms = Number(data.toString());
  await imscript.sleep(ms / 1000);
  s.send(fd, ms + "\n");
});
`, ordered)
}

// TestPerConnectionOrder: pipelined requests whose handlers wait different
// times are answered in order by default, interleaved with ordered = false,
// and one connection's wait never holds up another's.
func TestPerConnectionOrder(t *testing.T) {
	for _, lang := range scripttest.Langs {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			r := startHost(t, "order."+lang, orderScript(lang, true), host.Config{Workers: 1})
			c := dial(t, r.port(0))
			c.send("300\n100\n1\n")
			other := dial(t, r.port(0))
			start := time.Now()
			if got := other.ask("1"); got != "1" || time.Since(start) > 250*time.Millisecond && testing.Short() {
				t.Fatalf("another connection: %q", got)
			}
			got := []string{c.line(), c.line(), c.line()}
			if strings.Join(got, ",") != "300,100,1" {
				t.Errorf("ordered: replies %v, want 300,100,1", got)
			}

			u := startHost(t, "unordered."+lang, orderScript(lang, false), host.Config{Workers: 1})
			c = dial(t, u.port(0))
			c.send("300\n1\n")
			got = []string{c.line(), c.line()}
			if strings.Join(got, ",") != "1,300" {
				t.Errorf("ordered = false: replies %v, want 1,300", got)
			}
		})
	}
}

// TestThousandSuspendedOnOneWorker: 1,000 connections each suspend a
// handler at once on one worker; all finish, in any order, each once.
func TestThousandSuspendedOnOneWorker(t *testing.T) {
	t.Parallel()
	src := `
local srv = imscript.server{ host = "127.0.0.1", port = 0, open_eof_split = true, package_eof = "\n" }
local waiting, most = 0, 0
srv:on("receive", function(s, fd, data)
  waiting = waiting + 1
  if waiting > most then most = waiting end
  imscript.sleep(0.5)
  waiting = waiting - 1
  s:send(fd, "ok " .. data:sub(1, -2) .. " " .. most .. "\n")
end)
`
	r := startHost(t, "many.lua", src, host.Config{Workers: 1})
	const n = 1000
	conns := make([]*client, n)
	for i := range conns {
		conns[i] = dial(t, r.port(0))
	}
	for i, c := range conns {
		c.send(fmt.Sprintf("%d\n", i))
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	most := 0
	errs := 0
	for i, c := range conns {
		wg.Add(1)
		go func(i int, c *client) {
			defer wg.Done()
			s, err := c.rd.ReadString('\n')
			var got, m int
			if _, perr := fmt.Sscanf(s, "ok %d %d", &got, &m); err != nil || perr != nil || got != i {
				mu.Lock()
				errs++
				mu.Unlock()
				return
			}
			mu.Lock()
			most = max(most, m)
			mu.Unlock()
		}(i, c)
	}
	wg.Wait()
	if errs > 0 {
		t.Fatalf("%d of %d connections did not get their answer", errs, n)
	}
	if most < n/2 {
		t.Errorf("at most %d handlers were suspended at once, want most of %d", most, n)
	}
}

// TestReloadWhileSuspended: handlers suspended when a reload comes finish
// on the old version (it drains, as for requests in flight) while new
// events go to the new one; a handler still suspended when the old version
// must close gets an error from its call instead of its result.
func TestReloadWhileSuspended(t *testing.T) {
	t.Parallel()
	version := func(v string, nap float64) string {
		return fmt.Sprintf(`
local srv = imscript.server{ host = "127.0.0.1", port = 0, max_wait_time = 1, open_eof_split = true, package_eof = "\n" }
srv:on("receive", function(s, fd, data)
  print("%[1]s waits")
  local r, err = imscript.sleep(%[2]v)
  s:send(fd, "%[1]s " .. tostring(r) .. " " .. tostring(err) .. "\n")
end)
`, v, nap)
	}
	r := startHost(t, "reload.lua", version("v1", 0.3), host.Config{Workers: 1})
	c := dial(t, r.port(0))
	c.send("x\n")
	r.waitStdout("v1 waits")
	r.write("reload.lua", version("v2", 0))
	if err := r.h.ReloadNow("test"); err != nil {
		t.Fatal(err)
	}
	if got := dial(t, r.port(0)).ask("y"); got != "v2 nil nil" {
		t.Fatalf("new connection after the reload: %q", got)
	}
	if got := c.line(); got != "v1 nil nil" {
		t.Fatalf("the suspended handler: %q, want it finished on v1", got)
	}

	// Suspended past max_wait_time: the old version closes and the call
	// returns an error.
	r.write("reload.lua", version("v3", 5))
	if err := r.h.ReloadNow("test"); err != nil {
		t.Fatal(err)
	}
	c.send("z\n")
	r.waitStdout("v3 waits")
	r.write("reload.lua", version("v4", 0))
	if err := r.h.ReloadNow("test"); err != nil {
		t.Fatal(err)
	}
	if got := c.line(); !strings.HasPrefix(got, "v3 nil the script version was closed") {
		t.Fatalf("a handler suspended past max_wait_time: %q", got)
	}
}

var sleepScripts = map[string]string{
	"lua": `
local srv = imscript.server{ host = "127.0.0.1", port = 0, open_eof_split = true, package_eof = "\n" }
srv:on("receive", function(s, fd, data)
  local n = tonumber(data:match("rtt (%d+)"))
  local out = {}
  for i = 1, n do
    local t0 = imscript.now()
    imscript.sleep(0)
    out[i] = string.format("%.4f", imscript.now() - t0)
  end
  s:send(fd, "rtt " .. table.concat(out, ",") .. "\n")
end)
`,
	"js": `
const srv = imscript.server({ host: "127.0.0.1", port: 0, open_eof_split: true, package_eof: "\n" });
srv.on("receive", async (s, fd, data) => {
  const n = Number(/rtt (\d+)/.exec(data.toString())[1]);
  const out = [];
  for (let i = 0; i < n; i++) {
    const t0 = imscript.now();
    await imscript.sleep(0);
    out.push((imscript.now() - t0).toFixed(4));
  }
  s.send(fd, "rtt " + out.join(",") + "\n");
});
`,
}

// BenchmarkSuspendRoundTrip measures imscript.sleep(0) from a handler and
// back, as the script sees it: a Lua handler suspends and is resumed, a JS
// one awaits the promise. Reported: median and p99 per round trip.
func BenchmarkSuspendRoundTrip(b *testing.B) {
	for _, lang := range []string{"lua", "js"} {
		b.Run(lang, func(b *testing.B) {
			t := &testing.T{}
			r := startHost(t, "sleep."+lang, sleepScripts[lang], host.Config{Workers: 1})
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

var tokenFirst = map[string]string{
	"lua": `
local srv = imscript.server{ host = "127.0.0.1", port = 0, type = "websocket" }
local authed = {}
srv:on("message", function(s, f)
  if f.data:sub(1, 6) == "token " then
    imscript.sleep(0.1) -- checking the token takes a while
    authed[f.fd] = true
    s:push(f.fd, "welcome")
  else
    s:push(f.fd, f.data .. " " .. (authed[f.fd] and "authed" or "refused"))
  end
end)
`,
	"js": `
const srv = imscript.server({ host: "127.0.0.1", port: 0, type: "websocket" });
const authed = {};
srv.on("message", async (s, f) => {
  if (f.data.startsWith("token ")) {
    await imscript.sleep(0.1); // checking the token takes a while
    authed[f.fd] = true;
    s.push(f.fd, "welcome");
  } else {
    s.push(f.fd, f.data + " " + (authed[f.fd] ? "authed" : "refused"));
  }
});
`,
}

// TestTokenFirstWebSocket: a client that sends its token and, at once, its
// first message finds the message handled after the token check (the
// protocol a new user's chat used).
func TestTokenFirstWebSocket(t *testing.T) {
	for _, lang := range scripttest.Langs {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			r := startHost(t, "token."+lang, tokenFirst[lang], host.Config{Workers: 2})
			url := "ws://127.0.0.1:" + strconv.Itoa(r.port(0)) + "/"
			c, _, err := websocket.DefaultDialer.Dial(url, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			h := &hubClient{t: t, c: c}
			h.send("token secret")
			h.send("hello")
			h.expect("welcome")
			h.expect("hello authed")
		})
	}
}
