package redis_test

import (
	"strings"
	"testing"
	"time"

	"github.com/imscript/imscript/internal/testserver"
	"github.com/imscript/imscript/internal/testutil"
	"github.com/imscript/imscript/script/scripttest"
)

// TestTimeout: a call the server does not answer in time (CLIENT PAUSE)
// fails with TIMEOUT after the handle's timeout and the next one works; a
// blocking command waits its own time on top of the timeout; a call that
// blocks forever ends with its script version (a reload unblocks it at
// once, and its callback never runs).
func TestTimeout(t *testing.T) {
	srv := testserver.Redis(t)
	for _, lang := range scripttest.Langs {
		t.Run(lang, func(t *testing.T) {
			srv.MustDo("FLUSHALL")
			o := scripttest.Options{}
			h := run(t, srv, lang, "{ timeout = 1 }", control(nil), o)
			if got := post(t, h, "/call", "SET", "k", "v"); got != `"OK"` {
				t.Fatalf("SET: %s", got)
			}
			srv.MustDo("CLIENT", "PAUSE", "2500", "ALL")
			start := time.Now()
			if got := post(t, h, "/call", "GET", "k"); got != "! redis.call GET: timed out after 1s [TIMEOUT]" {
				t.Fatalf("GET while the server is paused: %s", got)
			}
			if d := time.Since(start); d < 950*time.Millisecond {
				t.Errorf("the call timed out after %v, before its 1s", d)
			}
			eventually(t, "a GET to work after the pause", func() bool { return post(t, h, "/call", "GET", "k") == `"v"` })

			start = time.Now()
			if got := post(t, h, "/call", "BLPOP", "q", "1.5"); got != "nil" {
				t.Fatalf("BLPOP q 1.5 with a 1 s timeout: %s, want its own nil reply", got)
			}
			if d := time.Since(start); d < 1450*time.Millisecond {
				t.Errorf("BLPOP q 1.5 answered after %v", d)
			}
			if got := post(t, h, "/bg", "BLPOP", "q", 0); got != "started" {
				t.Fatalf("bg: %s", got)
			}
			eventually(t, "a client blocked in BLPOP", func() bool { return count(clients(t, srv), "flags=b") == 1 })
			h.Reload(src(lang, "{ timeout = 1 }", control(nil)))
			eventually(t, "the reload to unblock the old version's BLPOP", func() bool {
				return count(clients(t, srv), "flags=b") == 0
			})
			if got := post(t, h, "/call", "RPUSH", "q", "x"); got != "1" {
				t.Fatalf("RPUSH q after the reload: %s (the old BLPOP took the element?)", got)
			}
			if strings.Contains(h.Stdout(), "bg ") {
				t.Errorf("the old version's callback ran:\n%s", h.Stdout())
			}
		})
	}
}

var deadBody = map[string]string{
	"lua": `local sub = r:subscribe("ev", function(ch, msg) print("ev " .. msg) end)`,
	"js":  `const sub = r.subscribe("ev", (ch, msg) => console.log("ev " + msg));`,
}

// TestDeadServer: with the server gone a call fails with a clear error and
// the handler goes on; once it is back calls work again, and a
// subscription comes back by itself.
func TestDeadServer(t *testing.T) {
	srv := testserver.Redis(t)
	for _, lang := range scripttest.Langs {
		t.Run(lang, func(t *testing.T) {
			if !srv.Running() {
				srv.Start()
			}
			srv.MustDo("FLUSHALL")
			h := run(t, srv, lang, "{ timeout = 2 }", control(deadBody), scripttest.Options{})
			if got := post(t, h, "/call", "INCR", "n"); got != "1" {
				t.Fatalf("INCR: %s", got)
			}
			eventually(t, "the subscription", func() bool { return srv.MustDo("PUBSUB", "NUMSUB", "ev") == "ev\n1" })
			srv.Stop()
			for i := 0; i < 3; i++ {
				start := time.Now()
				got := post(t, h, "/call", "INCR", "n")
				t.Logf("with the server down: %s (%v)", got, time.Since(start).Round(time.Millisecond))
				if !strings.HasPrefix(got, "! redis.call INCR: ") {
					t.Fatalf("INCR with the server down: %s", got)
				}
			}
			got := post(t, h, "/call", "INCR", "n")
			testutil.WantAll(t, "INCR with the server down", got, "! redis.call INCR: dial tcp "+srv.Addr+": connect: connection refused [ECONNREFUSED]")
			got = post(t, h, "/pipeline", []any{"INCR", "n"}, []any{"GET", "n"})
			testutil.WantAll(t, "a pipeline with the server down", got, "! redis.pipeline: dial tcp "+srv.Addr, "[ECONNREFUSED]")
			srv.Start()
			eventually(t, "INCR to work after the restart", func() bool { return post(t, h, "/call", "INCR", "n") == "1" })
			eventually(t, "the subscription to come back", func() bool { return srv.MustDo("PUBSUB", "NUMSUB", "ev") == "ev\n1" })
			srv.MustDo("PUBLISH", "ev", "back")
			h.WaitStdout("ev back\n")
			h.WaitLog("redis subscription: connected again")
			if n := strings.Count(h.Logs(), "redis subscription: the connection failed; retrying"); n != 1 {
				t.Errorf("%d warnings about the subscription's connection, want 1 for the outage:\n%s", n, h.LogLines())
			}
		})
	}
}

var poolBody = map[string]string{"lua": `
for i = 1, 10 do
  r:call("BLPOP", "gate", 10, function(v, err) print("got " .. imscript.worker_id .. " " .. show(v) .. " " .. tostring(err)) end)
end
`, "js": `
for (let i = 0; i < 10; i++) {
  r.call("BLPOP", "gate", 10).then((v) => console.log("got " + imscript.worker_id + " " + show(v) + " nil"), (e) => console.log("got error " + e.message));
}
`}

// TestSharedPool: two workers open the same URL and share one pool: with
// pool_size 3 and 20 calls blocked at once, the server never sees more
// than 3 connections (two pools would open 6).
func TestSharedPool(t *testing.T) {
	srv := testserver.Redis(t)
	for _, lang := range scripttest.Langs {
		t.Run(lang, func(t *testing.T) {
			srv.MustDo("FLUSHALL")
			h := run(t, srv, lang, "{ pool_size = 3, timeout = 20 }", poolBody, scripttest.Options{Workers: 2})
			eventually(t, "3 calls blocked", func() bool { return count(clients(t, srv), "flags=b") == 3 })
			most := 0
			for i := 0; i < 20; i++ {
				srv.MustDo("RPUSH", "gate", "x")
				most = max(most, len(clients(t, srv)))
			}
			eventually(t, "20 answers", func() bool { return strings.Count(h.Stdout(), "got ") == 20 })
			most = max(most, len(clients(t, srv)))
			out := h.Stdout()
			t.Logf("at most %d connections", most)
			if most > 3 {
				t.Errorf("the server saw %d connections, want at most pool_size (3)", most)
			}
			for _, w := range []string{"got 0 ", "got 1 "} {
				if n := strings.Count(out, w+`["gate","x"] nil`); n != 10 {
					t.Errorf("%d answers %q, want 10:\n%s", n, w, out)
				}
			}
		})
	}
}

var manyBody = map[string]string{"lua": `
main(function()
  local co = coroutine.running()
  local done, bad, seen, distinct = 0, 0, {}, 0
  for i = 1, 1000 do
    r:call("INCR", "c", function(v, err)
      if err then bad = bad + 1 elseif not seen[v] then seen[v] = true; distinct = distinct + 1 end
      done = done + 1
      if done == 1000 then coroutine.resume(co) end
    end)
  end
  coroutine.yield()
  print("done " .. done .. " bad " .. bad .. " distinct " .. distinct)
  line("final", call("GET", "c"))
  print("end")
end)
`, "js": `
main(async () => {
  const all = [];
  for (let i = 0; i < 1000; i++) all.push(call("INCR", "c"));
  const vals = await Promise.allSettled(all);
  const ok = vals.filter((v) => v.status === "fulfilled");
  console.log("done " + vals.length + " bad " + (vals.length - ok.length) + " distinct " + new Set(ok.map((v) => v.value)).size);
  await line("final", call("GET", "c"));
  console.log("end");
});
`}

// TestManyInFlight: 1,000 calls started at once by one handler all settle,
// each once.
func TestManyInFlight(t *testing.T) {
	srv := testserver.Redis(t)
	for _, lang := range scripttest.Langs {
		t.Run(lang, func(t *testing.T) {
			srv.MustDo("FLUSHALL")
			h := run(t, srv, lang, "{ timeout = 20 }", manyBody, scripttest.Options{})
			h.Expect("end", "done 1000 bad 0 distinct 1000\nfinal \"1000\"\nend\n")
		})
	}
}

// TestNoHandshakeErrors: connecting sends nothing Redis 7.0 refuses (no
// CLIENT SETINFO, no RESP3-only handshake): the server counts no error
// reply, logs none, and the connection speaks RESP2.
func TestNoHandshakeErrors(t *testing.T) {
	srv := testserver.Redis(t)
	for _, lang := range scripttest.Langs {
		t.Run(lang, func(t *testing.T) {
			srv.MustDo("CONFIG", "RESETSTAT")
			h := run(t, srv, lang, "{ min_idle = 2 }", map[string]string{
				"lua": `main(function() line("ping", call("PING")) end)`,
				"js":  `main(async () => { await line("ping", call("PING")); });`,
			}, scripttest.Options{})
			h.WaitStdout(`ping "PONG"`)
			eventually(t, "2 idle connections", func() bool { return len(clients(t, srv)) >= 2 })
			for _, c := range clients(t, srv) {
				if !strings.HasSuffix(c, " resp=2") {
					t.Errorf("a connection does not speak RESP2: %s", c)
				}
			}
			if info := srv.MustDo("INFO", "stats"); !strings.Contains(info, "total_error_replies:0\r") {
				t.Errorf("the server answered errors:\n%s\n%s", info, srv.MustDo("INFO", "errorstats"))
			}
			for _, bad := range []string{"SETINFO", "MAINT", "rror"} {
				if strings.Contains(srv.LogText(), bad) {
					t.Errorf("the server's log has %q:\n%s", bad, srv.LogText())
				}
			}
			if l := h.LogLines(); l != "" {
				t.Errorf("the host logged warnings or errors:\n%s", l)
			}
			if s := h.Stderr(); s != "" {
				t.Errorf("stderr: %s", s)
			}
		})
	}
}
