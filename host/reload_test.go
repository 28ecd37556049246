package host_test

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imscript/imscript/host"
)

// versioned is a line server whose replies, worker events and timer name
// the script version.
func versioned(v string) string {
	return strings.ReplaceAll(`
local srv = imscript.server{ host = "127.0.0.1", port = 0, open_eof_split = true, package_eof = "\n" }
srv:on("workerStart", function(s, id) print("start VER w" .. id) end)
srv:on("workerStop", function(s, id) print("stop VER w" .. id) end)
srv:on("receive", function(s, fd, data)
  if data == "count\n" then
    s:send(fd, "VER reloads=" .. s:stats().reload_count .. "\n")
  elseif data == "reload\n" then
    s:send(fd, "VER reloading\n")
    s:reload()
  else
    s:send(fd, "VER:" .. data)
  end
end)
if imscript.worker_id == 0 then
  imscript.tick(10, function() print("tick VER") end)
end
`, "VER", v)
}

func TestReloadKeepsConnectionsAndSwapsVersions(t *testing.T) {
	t.Parallel()
	r := startHost(t, "reload.lua", versioned("v1"), host.Config{})
	// Two connections: fds alternate between the two workers.
	a, b := dial(t, r.port(0)), dial(t, r.port(0))
	if got := a.ask("a"); got != "v1:a" {
		t.Fatalf("v1: %q", got)
	}
	if got := b.ask("b"); got != "v1:b" {
		t.Fatalf("v1: %q", got)
	}
	r.waitStdout("tick v1")

	r.write("reload.lua", versioned("v2"))
	if err := r.h.ReloadNow("test"); err != nil {
		t.Fatalf("ReloadNow: %v", err)
	}
	mark := len(r.stdout.String())
	if r.h.ReloadCount() != 1 {
		t.Errorf("ReloadCount %d, want 1", r.h.ReloadCount())
	}
	// Same connections, new code.
	if got := a.ask("a"); got != "v2:a" {
		t.Fatalf("after reload: %q", got)
	}
	if got := b.ask("count"); got != "v2 reloads=1" {
		t.Fatalf("after reload: %q", got)
	}
	// workerStop of v1 before workerStart of v2, on every worker.
	out := r.stdout.String()
	for w := 0; w < 2; w++ {
		s1 := strings.Index(out, fmt.Sprintf("start v1 w%d\n", w))
		e1 := strings.Index(out, fmt.Sprintf("stop v1 w%d\n", w))
		s2 := strings.Index(out, fmt.Sprintf("start v2 w%d\n", w))
		if s1 < 0 || e1 < s1 || s2 < e1 {
			t.Errorf("worker %d: start v1 at %d, stop v1 at %d, start v2 at %d", w, s1, e1, s2)
		}
	}
	if strings.Contains(out, "stop v2") {
		t.Error("workerStop fired for the new version")
	}
	// The old timer is cancelled: once the new one has ticked three times
	// after the swap, the old one has printed nothing since.
	r.eventually("three v2 ticks", func() bool {
		return strings.Count(r.stdout.String()[mark:], "tick v2") >= 3
	})
	if strings.Contains(r.stdout.String()[mark:], "tick v1") {
		t.Error("the v1 timer fired after the reload")
	}

	// Messages sent while a reload runs are all answered, in order, by one
	// version then the other.
	const n = 200
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < n; i++ {
			if _, err := a.Write([]byte(fmt.Sprintf("m%d\n", i))); err != nil {
				t.Errorf("write: %v", err)
				return
			}
		}
	}()
	r.write("reload.lua", versioned("v3"))
	if err := r.h.ReloadNow("during traffic"); err != nil {
		t.Fatalf("ReloadNow: %v", err)
	}
	sawV3 := false
	for i := 0; i < n; i++ {
		got := a.line()
		switch got {
		case fmt.Sprintf("v2:m%d", i):
			if sawV3 {
				t.Fatalf("message %d answered by v2 after v3 had answered", i)
			}
		case fmt.Sprintf("v3:m%d", i):
			sawV3 = true
		default:
			t.Fatalf("message %d: reply %q", i, got)
		}
	}
	wg.Wait()
	if got := a.ask("x"); got != "v3:x" {
		t.Fatalf("after the second reload: %q", got)
	}
}

func TestFailedReloadKeepsTheRunningVersion(t *testing.T) {
	t.Parallel()
	r := startHost(t, "keep.lua", versioned("v1"), host.Config{})
	a, b := dial(t, r.port(0)), dial(t, r.port(0))
	for _, c := range []*client{a, b} {
		if got := c.ask("hi"); got != "v1:hi" {
			t.Fatalf("v1: %q", got)
		}
	}

	// A syntax error: the compile fails, nothing changes.
	bad := versioned("v2") + "local x = = 1 -- syntax\n"
	r.write("keep.lua", bad)
	err := r.h.ReloadNow("syntax error")
	if err == nil {
		t.Fatal("a script with a syntax error was loaded")
	}
	if want := fmt.Sprintf("keep.lua:%d:", lineOf(t, bad, "-- syntax")); !strings.Contains(err.Error(), want) {
		t.Errorf("the error %q does not point at %s", err, want)
	}

	// An error while loading on one worker only: no worker switches.
	bad = versioned("v3") + `
srv2 = imscript.after(1, function() print("timer of a failed version") end)
if imscript.worker_id == 1 then error("only on worker 1") end
`
	r.write("keep.lua", bad)
	err = r.h.ReloadNow("load error")
	if err == nil || !strings.Contains(err.Error(), "only on worker 1") {
		t.Fatalf("ReloadNow = %v, want the worker 1 error", err)
	}
	if want := fmt.Sprintf("keep.lua:%d:", lineOf(t, bad, "only on worker 1")); !strings.Contains(err.Error(), want) {
		t.Errorf("the error %q does not point at %s", err, want)
	}
	for _, c := range []*client{a, b} {
		if got := c.ask("still"); got != "v1:still" {
			t.Fatalf("after failed reloads: %q", got)
		}
	}
	if r.h.ReloadCount() != 0 {
		t.Errorf("ReloadCount %d after failed reloads, want 0", r.h.ReloadCount())
	}
	if strings.Count(r.logs.String(), "reload failed, keeping the running version") != 2 {
		t.Error("the failed reloads are not both logged")
	}
	out := r.stdout.String()
	if strings.Contains(out, "stop v1") || strings.Contains(out, "start v2") || strings.Contains(out, "start v3") {
		t.Errorf("worker events fired for a failed reload:\n%s", out)
	}

	// A good version loads after the failures.
	r.write("keep.lua", versioned("v4"))
	if err := r.h.ReloadNow("fixed"); err != nil {
		t.Fatal(err)
	}
	if got := a.ask("count"); got != "v4 reloads=1" {
		t.Fatalf("after the fix: %q", got)
	}
	if strings.Contains(r.stdout.String(), "timer of a failed version") {
		t.Error("a timer of a version that failed to load ran")
	}
}

func TestReloadOpensAndClosesServers(t *testing.T) {
	t.Parallel()
	one := `
local a = imscript.server{ host = "127.0.0.1", port = 0 }
a:on("start", function(s) print("start a") end)
a:on("receive", function(s, fd, d) s:send(fd, "a:" .. d) end)
`
	two := one + `
local b = imscript.server{ host = "127.0.0.1", port = 0 }
b:on("start", function(s) print("start b") end)
b:on("receive", function(s, fd, d) s:send(fd, "b:" .. d) end)
`
	r := startHost(t, "servers.lua", one, host.Config{})
	portA := r.port(0)
	ca := dial(t, portA)
	ca.send("1\n")
	if got := ca.line(); got != "a:1" {
		t.Fatal(got)
	}
	r.write("servers.lua", two)
	if err := r.h.ReloadNow("add b"); err != nil {
		t.Fatal(err)
	}
	if len(r.h.Servers()) != 2 || r.port(0) != portA {
		t.Fatalf("servers after adding b: %d, a on %d (was %d)", len(r.h.Servers()), r.port(0), portA)
	}
	cb := dial(t, r.port(1))
	cb.send("2\n")
	if got := cb.line(); got != "b:2" {
		t.Fatal(got)
	}
	if n := strings.Count(r.stdout.String(), "start a"); n != 1 {
		t.Errorf("start fired %d times for a kept server, want 1", n)
	}
	if !strings.Contains(r.stdout.String(), "start b") {
		t.Error("start did not fire for the new server")
	}
	// A version without tcp servers closes both, with their connections.
	r.write("servers.lua", `imscript.server{ host = "127.0.0.1", port = 0, type = "udp" }`)
	if err := r.h.ReloadNow("udp only"); err != nil {
		t.Fatal(err)
	}
	ca.closed()
	cb.closed()
	if srvs := r.h.Servers(); len(srvs) != 1 || srvs[0].Type() != "udp" {
		t.Fatalf("servers: %v", srvs)
	}
}

func TestReloadFromScriptAndFromFileChanges(t *testing.T) {
	t.Parallel()
	main := `
local greet = require("greet")
local srv = imscript.server{ host = "127.0.0.1", port = 0, open_eof_split = true, package_eof = "\n" }
srv:on("receive", function(s, fd, data)
  if data == "reload\n" then s:reload(); s:send(fd, "ok\n"); return end
  s:send(fd, greet.word .. " " .. s:stats().reload_count .. "\n")
end)
`
	r := newHost(t, "watched.lua", main, host.Config{Watch: true})
	r.write("greet.lua", `return { word = "hello" }`)
	r.run()
	c := dial(t, r.port(0))
	if got := c.ask("x"); got != "hello 0" {
		t.Fatal(got)
	}
	// srv:reload() asks for a reload; it happens after the handler.
	if got := c.ask("reload"); got != "ok" {
		t.Fatal(got)
	}
	r.eventually("the reload srv:reload() asked for", func() bool { return r.h.ReloadCount() == 1 })

	// Saving a required file reloads; a momentarily empty file (a
	// truncate-and-write save) is never loaded.
	r.write("greet.lua", "")
	r.write("greet.lua", `return { word = "bonjour" }`)
	r.eventually("the reload after saving greet.lua", func() bool { return r.h.ReloadCount() == 2 })
	if got := c.ask("x"); got != "bonjour 2" {
		t.Fatalf("after the save: %q", got)
	}
	// Saving the main script reloads too.
	r.write("watched.lua", strings.Replace(main, `greet.word .. " "`, `"main " .. greet.word .. " "`, 1))
	r.eventually("the reload after saving the script", func() bool { return r.h.ReloadCount() == 3 })
	if got := c.ask("x"); got != "main bonjour 3" {
		t.Fatalf("after saving the script: %q", got)
	}
	if strings.Contains(r.logs.String(), "reload failed") {
		t.Error("a half-written file was loaded")
	}
}

func TestJSReloadKeepsConnections(t *testing.T) {
	t.Parallel()
	src := func(v string) string {
		return `const lib = require("./lib");
const srv = imscript.server({ host: "127.0.0.1", port: 0, open_eof_split: true, package_eof: "\n" });
srv.on("receive", (srv, fd, data) => srv.send(fd, "` + v + ` " + lib.name + " " + data));
`
	}
	r := newHost(t, "main.js", src("v1"), host.Config{})
	r.write("lib.js", `module.exports = { name: "lib1" };`)
	r.run()
	c := dial(t, r.port(0))
	if got := c.ask("x"); got != "v1 lib1 x" {
		t.Fatal(got)
	}
	r.write("main.js", src("v2"))
	r.write("lib.js", `module.exports = { name: "lib2" };`)
	if err := r.h.ReloadNow("test"); err != nil {
		t.Fatal(err)
	}
	if got := c.ask("y"); got != "v2 lib2 y" {
		t.Fatalf("after reload: %q", got)
	}
	r.write("main.js", src("v3")+"let = ;\n")
	if err := r.h.ReloadNow("bad"); err == nil || !strings.Contains(err.Error(), "main.js:4:") {
		t.Fatalf("ReloadNow = %v, want a syntax error at main.js:4", err)
	}
	if got := c.ask("z"); got != "v2 lib2 z" {
		t.Fatalf("after a failed reload: %q", got)
	}
}

func TestShutdownIsGraceful(t *testing.T) {
	t.Parallel()
	src := `
local srv = imscript.server{ host = "127.0.0.1", port = 0, open_eof_split = true, package_eof = "\n" }
srv:on("receive", function(s, fd, data)
  if data == "quit\n" then s:shutdown() return end
  s:send(fd, "ok\n")
end)
srv:on("shutdown", function(s)
  print("shutdown")
  for _, fd in ipairs(s:connections()) do s:send(fd, "bye\n") end
end)
srv:on("workerStop", function(s, id) print("workerStop " .. id) end)
imscript.tick(5, function() end)
`
	for _, how := range []string{"cancel", "srv:shutdown", "Host.Shutdown"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			r := startHost(t, "stop.lua", src, host.Config{})
			a, b := dial(t, r.port(0)), dial(t, r.port(0))
			for _, c := range []*client{a, b} {
				if got := c.ask("hi"); got != "ok" {
					t.Fatal(got)
				}
			}
			var err error
			switch how {
			case "cancel":
				err = r.stop()
			case "srv:shutdown":
				a.send("quit\n")
				err = r.wait()
			case "Host.Shutdown":
				r.h.Shutdown()
				r.h.Shutdown() // twice is harmless
				err = r.wait()
			}
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			// Output queued by the shutdown handler is delivered before the close.
			for _, c := range []*client{a, b} {
				if got := c.line(); got != "bye" {
					t.Errorf("got %q, want bye", got)
				}
				c.closed()
			}
			out := r.stdout.String()
			sd := strings.Index(out, "shutdown\n")
			if sd < 0 || strings.Count(out, "shutdown\n") != 1 {
				t.Fatalf("shutdown handler: %q", out)
			}
			for w := 0; w < 2; w++ {
				if i := strings.Index(out, fmt.Sprintf("workerStop %d\n", w)); i < sd {
					t.Errorf("workerStop %d at %d, shutdown at %d", w, i, sd)
				}
			}
			if err := r.h.ReloadNow("after stop"); err == nil {
				t.Error("a stopped host reloaded")
			}
		})
	}
}

// TestShutdownBeforeStart: a host asked to stop before it started still
// loads, runs its handlers and returns.
func TestShutdownBeforeStart(t *testing.T) {
	t.Parallel()
	r := newHost(t, "early.lua", `local srv = imscript.server{ host = "127.0.0.1", port = 0 }
srv:on("shutdown", function() print("shutdown") end)`, host.Config{})
	r.h.Shutdown()
	r.run()
	if err := r.wait(); err != nil {
		t.Fatal(err)
	}
	r.waitStdout("shutdown")
}

// TestReloadThatCannotBindKeepsTheRunningVersion: a new version whose
// listener cannot bind (its port is taken) is refused like a syntax error:
// the running version keeps its listener, its connections and its
// handlers, nothing is reported as reloaded, and the next good version
// loads. A new server that did bind alongside the one that failed is
// closed again.
func TestReloadThatCannotBindKeepsTheRunningVersion(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenPort := taken.Addr().(*net.TCPAddr).Port
	freePort := func() int { // a port that was free a moment ago
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	}
	port, other := freePort(), freePort()
	version := func(v string, ports ...int) string {
		src := ""
		for i, p := range ports {
			src += fmt.Sprintf("local s%d = imscript.server{ host = \"127.0.0.1\", port = %d }\n", i, p)
			src += fmt.Sprintf("s%d:on(\"receive\", function(s, fd, d) s:send(fd, %q .. d) end)\n", i, v+":")
		}
		return src
	}
	r := startHost(t, "bind.lua", version("v1", port), host.Config{})
	c := dial(t, port)
	if got := c.ask("a"); got != "v1:a" {
		t.Fatalf("v1: %q", got)
	}

	for _, bad := range []string{
		version("v2", takenPort),        // moves to a taken port
		version("v2", port, takenPort),  // keeps its server, adds one on a taken port
		version("v2", other, takenPort), // one new server binds, the other cannot
	} {
		r.write("bind.lua", bad)
		err := r.h.ReloadNow("test")
		if err == nil || !strings.Contains(err.Error(), strconv.Itoa(takenPort)) {
			t.Fatalf("reload onto a taken port: %v, want an error naming port %d", err, takenPort)
		}
		if n := r.h.ReloadCount(); n != 0 {
			t.Fatalf("ReloadCount %d after a failed reload, want 0", n)
		}
		if got := c.ask("b"); got != "v1:b" {
			t.Fatalf("after the failed reload the running version answered %q, want v1:b", got)
		}
		if c2 := dial(t, port); c2.ask("c") != "v1:c" {
			t.Fatal("the running version's listener no longer accepts")
		}
		if srvs := r.h.Servers(); len(srvs) != 1 || srvs[0].Port() != port {
			t.Fatalf("servers after the failed reload: %v", srvs)
		}
		if nc, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(other)), time.Second); err == nil {
			nc.Close()
			t.Fatalf("the failed version's other new server still listens on %d", other)
		}
	}
	r.waitLog("reload failed, keeping the running version")
	if strings.Contains(r.logs.String(), "msg=reloaded") {
		t.Error("a failed reload was logged as reloaded")
	}

	r.write("bind.lua", version("v3", port))
	if err := r.h.ReloadNow("test"); err != nil {
		t.Fatalf("the next good version: %v", err)
	}
	if got := c.ask("d"); got != "v3:d" {
		t.Fatalf("after the good reload: %q, want v3:d", got)
	}
}
