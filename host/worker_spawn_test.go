package host_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/imscript/imscript/host"
	"github.com/imscript/imscript/internal/testutil"
)

// spawnCase is one spawn scenario written in both languages: the main
// script and the files beside it ("child.EXT" and so on; EXT is replaced by
// the language's extension in names).
type spawnCase struct {
	lua, js           string
	luaFiles, jsFiles map[string]string
	noWatchdog        bool // max_exec_ms off (no server sets it)
}

// startSpawn runs the case's script in lang with one worker (two when
// workers says so).
func startSpawn(t *testing.T, lang string, c spawnCase, workers int) *running {
	t.Helper()
	src, files := c.lua, c.luaFiles
	if lang == "js" {
		src, files = c.js, c.jsFiles
	}
	if workers == 0 {
		workers = 1
	}
	r := newHost(t, "main."+lang, src, host.Config{Workers: workers})
	for name, body := range files {
		r.write(name, body)
	}
	if c.noWatchdog {
		host.SetMaxExecMs(r.h, 0)
	}
	return r.run()
}

func spawnLangs(t *testing.T, body func(t *testing.T, lang string)) {
	for _, lang := range []string{"lua", "js"} {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			body(t, lang)
		})
	}
}

// TestSpawnTenThousandMessages: a spawned script and its parent exchange
// 10,000 messages each way at once; every one arrives, in order, and the
// exit event comes after the last.
func TestSpawnTenThousandMessages(t *testing.T) {
	t.Parallel()
	c := spawnCase{
		lua: `
local N = 10000
local child = imscript.process.spawn("child.lua", { n = N })
local own, echoed, bad = 0, 0, 0
child:on("message", function(m)
  if m.kind == "own" then
    own = own + 1
    if m.i ~= own then bad = bad + 1 end
  else
    echoed = echoed + 1
    if m.i ~= echoed then bad = bad + 1 end
  end
  if own == N and echoed == N then
    print("delivered " .. own .. " " .. echoed .. ", out of order " .. bad)
    child:send({ stop = true })
  end
end)
child:on("exit", function(code) print("child exit " .. tostring(code) .. " after " .. (own + echoed)) end)
for i = 1, N do
  local ok, err = child:send({ i = i, pad = "x" })
  if not ok then print("send failed: " .. tostring(err)) end
end
`,
		luaFiles: map[string]string{"child.lua": `
local parent = imscript.process.parent
parent:on("message", function(m)
  if m.stop then imscript.process.exit(0) return end
  parent:send({ kind = "echo", i = m.i })
end)
for i = 1, imscript.process.arg.n do parent:send({ kind = "own", i = i }) end
`},
		js: `
const N = 10000;
const child = imscript.process.spawn("child.js", { n: N });
let own = 0, echoed = 0, bad = 0;
child.on("message", (m) => {
  if (m.kind === "own") {
    own++;
    if (m.i !== own) bad++;
  } else {
    echoed++;
    if (m.i !== echoed) bad++;
  }
  if (own === N && echoed === N) {
    console.log("delivered " + own + " " + echoed + ", out of order " + bad);
    child.send({ stop: true });
  }
});
child.on("exit", (code) => console.log("child exit " + code + " after " + (own + echoed)));
for (let i = 1; i <= N; i++) {
  if (!child.send({ i, pad: "x" })) console.log("send failed");
}
`,
		jsFiles: map[string]string{"child.js": `
const parent = imscript.process.parent;
parent.on("message", (m) => {
  if (m.stop) { imscript.process.exit(0); return; }
  parent.send({ kind: "echo", i: m.i });
});
for (let i = 1; i <= imscript.process.arg.n; i++) parent.send({ kind: "own", i });
`},
	}
	// 10,000 sends in one main chunk may take more than the watchdog's
	// 5 s under the race detector on a loaded machine: not what is tested.
	c.noWatchdog = true
	spawnLangs(t, func(t *testing.T, lang string) {
		r := startSpawn(t, lang, c, 1)
		r.waitStdout("child exit 0 after 20000")
		out := r.stdout.String()
		if !strings.Contains(out, "delivered 10000 10000, out of order 0\n") || strings.Contains(out, "send failed") {
			t.Fatalf("stdout:\n%s", out)
		}
	})
}

// TestSpawnValues: values cross as deep copies of plain values, both ways,
// bytes included; functions are refused with an error naming why.
func TestSpawnValues(t *testing.T) {
	t.Parallel()
	c := spawnCase{
		lua: `
local child = imscript.process.spawn("child.lua", { list = { 1, 2.5, "three", true }, map = { a = { b = "c" } }, s = "x" })
child:on("message", function(m) print("parent got " .. imscript.json.encode(m)) end)
child:send({ bytes = "\0\1\255", nested = { { k = false } } })
local ok, err = pcall(function() child:send({ f = function() end }) end)
print("function refused: " .. tostring(not ok) .. " " .. tostring(tostring(err):find("cannot cross to another VM", 1, true) ~= nil))
`,
		luaFiles: map[string]string{"child.lua": `
local parent = imscript.process.parent
parent:send({ arg = imscript.process.arg, script = imscript.script:match("[^/]+$"), worker = imscript.worker_id < 0 })
parent:on("message", function(m)
  local hex = m.bytes:gsub(".", function(c) return string.format("%02x", c:byte()) end)
  parent:send({ echo = m.nested, hex = hex })
end)
`},
		js: `
const child = imscript.process.spawn("child.js", { list: [1, 2.5, "three", true], map: { a: { b: "c" } }, s: "x" });
child.on("message", (m) => console.log("parent got " + imscript.json.encode(m)));
child.send({ bytes: Buffer.from([0, 1, 255]), nested: [{ k: false }] });
try {
  child.send({ f: () => 1 });
  console.log("function refused: false");
} catch (e) {
  console.log("function refused: true " + e.message.includes("cannot cross to another VM"));
}
`,
		jsFiles: map[string]string{"child.js": `
const parent = imscript.process.parent;
parent.send({ arg: imscript.process.arg, script: imscript.script.split("/").pop(), worker: imscript.worker_id < 0 });
parent.on("message", (m) => {
  parent.send({ echo: m.nested, hex: m.bytes.toString("hex") });
});
`},
	}
	spawnLangs(t, func(t *testing.T, lang string) {
		r := startSpawn(t, lang, c, 1)
		r.waitStdout(`parent got {"echo"`)
		want := `function refused: true true
parent got {"arg":{"list":[1,2.5,"three",true],"map":{"a":{"b":"c"}},"s":"x"},"script":"child.` + lang + `","worker":true}
parent got {"echo":[{"k":false}],"hex":"0001ff"}
`
		if got := r.stdout.String(); got != want {
			t.Fatalf("stdout:\n%s\nwant:\n%s", got, want)
		}
	})
}

// TestSpawnOtherLanguage: the child's extension picks its language, so a
// Lua script spawns a JS one and back.
func TestSpawnOtherLanguage(t *testing.T) {
	t.Parallel()
	c := spawnCase{
		lua: `
local c = imscript.process.spawn("kid.js", { n = 2 })
c:on("message", function(m) print("kid: " .. m.s .. " " .. m.n) end)
c:send({ s = "hi" })
`,
		luaFiles: map[string]string{"kid.js": `
const p = imscript.process.parent;
p.on("message", (m) => p.send({ s: m.s + " from js", n: imscript.process.arg.n * 2 }));
`},
		js: `
const c = imscript.process.spawn("kid.lua", { n: 2 });
c.on("message", (m) => console.log("kid: " + m.s + " " + m.n));
c.send({ s: "hi" });
`,
		jsFiles: map[string]string{"kid.lua": `
local p = imscript.process.parent
p:on("message", function(m) p:send({ s = m.s .. " from lua", n = imscript.process.arg.n * 2 }) end)
`},
	}
	spawnLangs(t, func(t *testing.T, lang string) {
		other := map[string]string{"lua": "js", "js": "lua"}[lang]
		r := startSpawn(t, lang, c, 1)
		r.waitStdout("kid: hi from " + other + " 4\n")
	})
}

// TestSpawnErrors: a missing file and a syntax error fail spawn itself
// (file:line); an error in the child's main chunk is logged with file:line
// and ends the child with code 1; a child may not declare servers.
func TestSpawnErrors(t *testing.T) {
	t.Parallel()
	c := spawnCase{
		lua: `
for _, path in ipairs({ "missing.lua", "bad.lua", "notes.txt" }) do
  local ok, err = pcall(imscript.process.spawn, path)
  print("spawn " .. path .. ": " .. tostring(ok) .. " " .. tostring(err))
end
local boom = imscript.process.spawn("boom.lua")
boom:on("exit", function(code) print("boom exit " .. tostring(code)) end)
local srv = imscript.process.spawn("server.lua")
srv:on("exit", function(code) print("server exit " .. tostring(code)) end)
local ok, err = pcall(imscript.process.exit)
print("exit in parent: " .. tostring(err))
`,
		luaFiles: map[string]string{
			"bad.lua":    "local x = 1\nlocal y = = 2\n",
			"boom.lua":   "local a = 1\n\nerror('boom here')\n",
			"server.lua": "imscript.server{ port = 0 }\n",
			"notes.txt":  "hello\n",
		},
		js: `
for (const path of ["missing.js", "bad.js", "notes.txt"]) {
  try {
    imscript.process.spawn(path);
    console.log("spawn " + path + ": true");
  } catch (e) {
    console.log("spawn " + path + ": false " + e.message);
  }
}
const boom = imscript.process.spawn("boom.js");
boom.on("exit", (code) => console.log("boom exit " + code));
const srv = imscript.process.spawn("server.js");
srv.on("exit", (code) => console.log("server exit " + code));
try { imscript.process.exit(); } catch (e) { console.log("exit in parent: " + e.message); }
`,
		jsFiles: map[string]string{
			"bad.js":    "const x = 1;\nconst y = = 2;\n",
			"boom.js":   "const a = 1;\n\nthrow new Error('boom here');\n",
			"server.js": "imscript.server({ port: 0 });\n",
			"notes.txt": "hello\n",
		},
	}
	spawnLangs(t, func(t *testing.T, lang string) {
		r := startSpawn(t, lang, c, 1)
		r.waitStdout("boom exit 1")
		r.waitStdout("server exit 1")
		out := r.stdout.String()
		testutil.WantAll(t, "stdout", out,
			"spawn missing."+lang+": false ",
			"imscript.process.spawn: "+r.dir+"/missing."+lang+": no such script file\n",
			"spawn bad."+lang+": false ",
			"imscript.process.spawn: "+r.dir+"/bad."+lang+":2:",
			"spawn notes.txt: false ",
			"imscript.process.spawn: "+r.dir+`/notes.txt: no language runs ".txt" files`,
			"exit in parent: ",
			"imscript.process.exit: only a spawned script can exit",
		)
		r.waitLog("spawned script failed")
		logs := r.logs.String()
		if line := spawnLogLine(logs, "spawned script failed", "boom."+lang); !strings.Contains(line, "boom."+lang+":3") || !strings.Contains(line, "boom here") {
			t.Errorf("the boom error is not logged with boom.%s:3:\n%s", lang, logs)
		}
		if spawnLogLine(logs, "spawned script failed", "cannot declare servers") == "" {
			t.Errorf("no error for a server in a spawned script:\n%s", logs)
		}
	})
}

func spawnLogLine(logs string, subs ...string) string {
next:
	for _, l := range strings.Split(logs, "\n") {
		for _, s := range subs {
			if !strings.Contains(l, s) {
				continue next
			}
		}
		return l
	}
	return ""
}

// TestSpawnKillAndExit: kill interrupts a child stuck in a loop and its
// exit code is nil; exit(code) ends a child after the running handler,
// with nothing more handled; sends to an ended child return false.
func TestSpawnKillAndExit(t *testing.T) {
	t.Parallel()
	c := spawnCase{
		lua: `
local spin = imscript.process.spawn("spin.lua")
spin:on("message", function(m)
  print("spin says " .. m)
  print("kill " .. tostring(spin:kill()) .. ", again " .. tostring(spin:kill()) .. ", send " .. tostring(spin:send("x")))
end)
spin:on("exit", function(code) print("spin exit " .. tostring(code)) end)
spin:send("go")

local ex = imscript.process.spawn("exit.lua")
local replies = {}
ex:on("message", function(m) replies[#replies + 1] = m end)
ex:on("exit", function(code)
  print("ex exit " .. tostring(code) .. " replies " .. table.concat(replies, ",") .. ", send " .. tostring(ex:send("late")))
end)
ex:send("a") ex:send("b") ex:send("c")
`,
		luaFiles: map[string]string{
			"spin.lua": `
imscript.process.parent:on("message", function(m)
  imscript.process.parent:send("spinning")
  while true do end
end)
`,
			"exit.lua": `
local parent = imscript.process.parent
parent:on("message", function(m)
  parent:send("got " .. m)
  if m == "a" then
    imscript.process.exit(7)
    parent:send("after exit " .. tostring(parent:send("lost")))
  end
end)
`,
		},
		js: `
const spin = imscript.process.spawn("spin.js");
spin.on("message", (m) => {
  console.log("spin says " + m);
  console.log("kill " + spin.kill() + ", again " + spin.kill() + ", send " + spin.send("x"));
});
spin.on("exit", (code) => console.log("spin exit " + (code === null ? "nil" : code)));
spin.send("go");

const ex = imscript.process.spawn("exit.js");
const replies = [];
ex.on("message", (m) => replies.push(m));
ex.on("exit", (code) => {
  console.log("ex exit " + code + " replies " + replies.join(",") + ", send " + ex.send("late"));
});
ex.send("a"); ex.send("b"); ex.send("c");
`,
		jsFiles: map[string]string{
			"spin.js": `
imscript.process.parent.on("message", (m) => {
  imscript.process.parent.send("spinning");
  for (;;) {}
});
`,
			"exit.js": `
const parent = imscript.process.parent;
parent.on("message", (m) => {
  parent.send("got " + m);
  if (m === "a") {
    imscript.process.exit(7);
    parent.send("after exit " + parent.send("lost"));
  }
});
`,
		},
	}
	spawnLangs(t, func(t *testing.T, lang string) {
		r := startSpawn(t, lang, c, 1)
		r.waitStdout("spin exit nil")
		r.waitStdout("ex exit ")
		out := r.stdout.String()
		testutil.WantAll(t, "stdout", out,
			"spin says spinning\nkill true, again false, send false\n",
			"ex exit 7 replies got a, send false\n",
		)
		r.eventually("no spawned script left", func() bool { return r.h.Spawned() == 0 })
	})
}

// TestSpawnTimersAndWatchdog: a child has timers, and the watchdog
// interrupts a child's endless handler (reported with the child's
// file:line) while the child goes on serving.
func TestSpawnTimersAndWatchdog(t *testing.T) {
	t.Parallel()
	c := spawnCase{
		lua: `
imscript.server{ host = "127.0.0.1", port = 0, max_exec_ms = 200 }
local c = imscript.process.spawn("child.lua")
c:on("message", function(m) print("parent got " .. m) end)
c:send("spin")
c:send("ping")
`,
		luaFiles: map[string]string{"child.lua": `local p = imscript.process.parent
imscript.after(20, function() p:send("timer fired") end)
p:on("message", function(m)
  if m == "spin" then while true do end end -- SPIN
  p:send("pong")
end)
`},
		js: `
imscript.server({ host: "127.0.0.1", port: 0, max_exec_ms: 200 });
const c = imscript.process.spawn("child.js");
c.on("message", (m) => console.log("parent got " + m));
c.send("spin");
c.send("ping");
`,
		jsFiles: map[string]string{"child.js": `const p = imscript.process.parent;
setTimeout(() => p.send("timer fired"), 20);
p.on("message", (m) => {
  if (m === "spin") for (;;) {} // SPIN
  p.send("pong");
});
`},
	}
	spawnLangs(t, func(t *testing.T, lang string) {
		r := startSpawn(t, lang, c, 1)
		r.waitStdout("parent got pong")
		r.waitStdout("parent got timer fired")
		r.waitLog("handler interrupted")
		if line := spawnLogLine(r.logs.String(), "handler interrupted"); !strings.Contains(line, "child."+lang+":4") {
			t.Errorf("the interrupt does not name child.%s:4: %s", lang, line)
		}
	})
}

// TestSpawnChildrenEndWithTheirVersion: a reload kills the children of the
// old version (even one stuck in its main chunk) and the new version spawns
// its own; stopping the host ends them all.
func TestSpawnChildrenEndWithTheirVersion(t *testing.T) {
	t.Parallel()
	parent := map[string]string{
		"lua": `
local c = imscript.process.spawn("child.lua", "VER")
c:on("message", function(m) print("child says " .. m) end)
imscript.process.spawn("stuck.lua")
`,
		"js": `
const c = imscript.process.spawn("child.js", "VER");
c.on("message", (m) => console.log("child says " + m));
imscript.process.spawn("stuck.js");
`,
	}
	files := map[string]map[string]string{
		"lua": {
			"child.lua": `imscript.process.parent:send("hello from " .. imscript.process.arg)
imscript.tick(5, function() end)
`,
			"stuck.lua": "while true do end\n",
		},
		"js": {
			"child.js": `imscript.process.parent.send("hello from " + imscript.process.arg);
setInterval(() => {}, 5);
`,
			"stuck.js": "for (;;) {}\n",
		},
	}
	spawnLangs(t, func(t *testing.T, lang string) {
		src := func(v string) string { return strings.ReplaceAll(parent[lang], "VER", v) }
		r := newHost(t, "main."+lang, src("v1"), host.Config{Workers: 2})
		for name, body := range files[lang] {
			r.write(name, body)
		}
		r.run()
		r.eventually("two v1 children", func() bool { return strings.Count(r.stdout.String(), "child says hello from v1") == 2 })
		if n := r.h.Spawned(); n != 4 {
			t.Fatalf("Spawned() = %d, want 4 (a child and a stuck one per worker)", n)
		}
		r.write("main."+lang, src("v2"))
		if err := r.h.ReloadNow("test"); err != nil {
			t.Fatal(err)
		}
		r.eventually("two v2 children", func() bool { return strings.Count(r.stdout.String(), "child says hello from v2") == 2 })
		if n := r.h.Spawned(); n != 4 {
			t.Fatalf("after the reload Spawned() = %d, want 4 (the old ones killed)", n)
		}
		if err := r.stop(); err != nil {
			t.Fatal(err)
		}
		if n := r.h.Spawned(); n != 0 {
			t.Fatalf("after stop Spawned() = %d, want 0", n)
		}
		if strings.Contains(r.logs.String(), "still running") {
			t.Errorf("a killed child did not stop in time:\n%s", r.logs.String())
		}
	})
}

// ---- benchmarks ----

// spawnRoundTripScripts: the parent runs N round trips (send, wait for the echo)
// with up to WINDOW messages in flight when a client sends "N WINDOW\n",
// and answers "done\n".
var spawnRoundTripScripts = map[string][2]string{
	"lua": {`
local srv = imscript.server{ host = "127.0.0.1", port = 0, open_eof_split = true, package_eof = "\n" }
local child = imscript.process.spawn("echo_child.lua")
local sent, left, total, fd0 = 0, 0, 0, nil
child:on("message", function(m)
  left = left - 1
  if sent < total then
    sent = sent + 1
    child:send(m)
  elseif left == 0 then
    srv:send(fd0, "done\n")
  end
end)
srv:on("receive", function(s, fd, data)
  local n, w = data:match("(%d+) (%d+)")
  total, left, fd0 = tonumber(n), tonumber(n), fd
  sent = math.min(tonumber(w), total)
  for i = 1, sent do child:send(i) end
end)
`, `
local p = imscript.process.parent
p:on("message", function(m) p:send(m) end)
`},
	"js": {`
const srv = imscript.server({ host: "127.0.0.1", port: 0, open_eof_split: true, package_eof: "\n" });
const child = imscript.process.spawn("echo_child.js");
let sent = 0, left = 0, total = 0, fd0 = 0;
child.on("message", (m) => {
  left--;
  if (sent < total) {
    sent++;
    child.send(m);
  } else if (left === 0) {
    srv.send(fd0, "done\n");
  }
});
srv.on("receive", (s, fd, data) => {
  const [n, w] = data.toString().trim().split(" ").map(Number);
  total = n; left = n; fd0 = fd;
  sent = Math.min(w, total);
  for (let i = 1; i <= sent; i++) child.send(i);
});
`, `
const p = imscript.process.parent;
p.on("message", (m) => p.send(m));
`},
}

// BenchmarkSpawnRoundTrip: message round trips between a script and the
// script it spawned (parent sends, child echoes back, parent counts), one
// at a time ("1") and with 256 in flight ("256"), next to a bare Go channel
// round trip between two goroutines.
func BenchmarkSpawnRoundTrip(b *testing.B) {
	b.Run("go-chan", func(b *testing.B) {
		ping, pong := make(chan int), make(chan int)
		go func() {
			for v := range ping {
				pong <- v
			}
		}()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			ping <- i
			<-pong
		}
		b.StopTimer()
		close(ping)
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "roundtrips/s")
	})
	for _, lang := range []string{"lua", "js"} {
		for _, window := range []int{1, 256} {
			b.Run(fmt.Sprintf("%s/%d", lang, window), func(b *testing.B) {
				benchSpawnRoundTrips(b, lang, window)
			})
		}
	}
}

func benchSpawnRoundTrips(b *testing.B, lang string, window int) {
	scripts := spawnRoundTripScripts[lang]
	r := newHost(b, "main."+lang, scripts[0], host.Config{Workers: 1})
	r.write("echo_child."+lang, scripts[1])
	r.run()
	c := dial(b, r.port(0))
	b.ResetTimer()
	// One request runs all b.N round trips, which can take far longer than
	// waitLimit, the bound of a single wait.
	_ = c.SetDeadline(time.Now().Add(5 * time.Minute))
	c.send(fmt.Sprintf("%d %d\n", b.N, window))
	line := c.line()
	b.StopTimer()
	if line != "done" {
		b.Fatalf("reply %q", line)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "roundtrips/s")
}

// TestSpawnTopLevelAwait: a spawned ES module that awaits at its top level
// before it sets its message handler gets the messages sent meanwhile, in
// order, once its top level has run; one that throws after an await exits
// 1 with the error logged at its line. (JS only: a Lua main chunk does not
// wait.)
func TestSpawnTopLevelAwait(t *testing.T) {
	t.Parallel()
	r := newHost(t, "main.mjs", `
const child = imscript.process.spawn("child.mjs", {});
child.on("message", (m) => console.log("got " + m));
child.on("exit", (code) => console.log("child exit " + code));
child.send(1); child.send(2);
setTimeout(() => child.send(3), 10);
const bad = imscript.process.spawn("bad.mjs", {});
bad.on("exit", (code) => console.log("bad exit " + code));
`, host.Config{Workers: 1})
	r.write("child.mjs", `
const parent = imscript.process.parent;
await imscript.sleep(0.1);
const seen = [];
parent.on("message", (m) => {
  seen.push(m);
  if (seen.length === 3) { parent.send(seen.join(",")); imscript.process.exit(0); }
});
`)
	r.write("bad.mjs", "await imscript.sleep(0.01);\n\nthrow new Error(\"bad child\");\n")
	r = r.run()
	r.waitStdout("child exit 0")
	r.waitStdout("bad exit 1")
	if out := r.stdout.String(); !strings.Contains(out, "got 1,2,3\n") {
		t.Fatalf("stdout:\n%s", out)
	}
	r.waitLog("bad.mjs:3:6: Error: bad child")
}
