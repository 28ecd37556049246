package sql_test

import (
	dbsql "database/sql"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/imscript/imscript/script/scripttest"
	imsql "github.com/imscript/imscript/stdlib/sql"
)

// An in-memory SQLite database lives in its connection: two workers see
// each other's rows only when they share the pool, and so does the next
// version after a reload.
var shareSrcs = map[string][2]string{
	"lua": {`
local db = imscript.sql.open("sqlite::memory:")
if imscript.worker_id == 0 then
  db:exec("CREATE TABLE shared (w INTEGER, v TEXT)", function(r, err)
    assert(r, err)
    db:exec("INSERT INTO shared VALUES (0, 'from worker 0')", function(r, err) assert(r, err) print("w0 wrote") end)
  end)
else
  local id
  id = imscript.tick(10, function()
    db:queryRow("SELECT v FROM shared WHERE w = 0", function(row)
      if row and id then
        imscript.clear(id)
        id = nil
        print("w1 read " .. row.v)
        db:close()
      end
    end)
  end)
end
`, `
local db = imscript.sql.open("sqlite::memory:")
if imscript.worker_id == 0 then
  db:queryRow("SELECT v FROM shared WHERE w = 0", function(row, err) print("v2 read " .. tostring(row and row.v) .. " " .. tostring(err)) end)
end
`},
	"js": {`
const db = imscript.sql.open("sqlite::memory:");
if (imscript.worker_id === 0) {
  db.exec("CREATE TABLE shared (w INTEGER, v TEXT)")
    .then(() => db.exec("INSERT INTO shared VALUES (0, 'from worker 0')"))
    .then(() => console.log("w0 wrote"));
} else {
  let seen = false;
  const id = setInterval(async () => {
    try {
      const row = await db.queryRow("SELECT v FROM shared WHERE w = 0");
      if (row && !seen) { seen = true; clearInterval(id); console.log("w1 read " + row.v); db.close(); }
    } catch (e) {}
  }, 10);
}
`, `
const db = imscript.sql.open("sqlite::memory:");
if (imscript.worker_id === 0) {
  db.queryRow("SELECT v FROM shared WHERE w = 0").then((row) => console.log("v2 read " + (row && row.v) + " nil"),
    (e) => console.log("v2 read nil " + e.message));
}
`},
}

// TestPoolSharedByWorkersAndReloads: two workers open the same DSN and
// get one pool (worker 1 reads the in-memory table worker 0 wrote, and
// the host opened one pool); worker 1's close() leaves the pool open; the
// next version after a reload gets the same pool and its data.
func TestPoolSharedByWorkersAndReloads(t *testing.T) {
	for _, lang := range scripttest.Langs {
		t.Run(lang, func(t *testing.T) {
			srcs := shareSrcs[lang]
			h := scripttest.Start(t, scripttest.Options{Lang: lang, Src: srcs[0], Workers: 2})
			h.WaitStdout("w1 read from worker 0")
			if n := imsql.PoolsOpened(h.H.Shared); n != 1 {
				t.Fatalf("the host opened %d pools for one DSN, want 1", n)
			}
			h.Reload(srcs[1])
			if out := h.WaitStdout("v2 read"); !strings.Contains(out, "v2 read from worker 0 nil") {
				t.Fatalf("after the reload:\n%s", out)
			}
			if n := imsql.PoolsOpened(h.H.Shared); n != 1 {
				t.Fatalf("after the reload the host opened %d pools, want 1", n)
			}
		})
	}
}

// TestReloadCancelsQueries: a query that would run forever (no timeout)
// holds the only connection of an in-memory database; the reload cancels
// it (the old version's context), so the new version's query gets the
// connection.
func TestReloadCancelsQueries(t *testing.T) {
	srcs := map[string][2]string{
		"lua": {`
local db = imscript.sql.open("sqlite::memory:", { timeout = 0 })
db:query("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c", function() print("v1 settled") end)
print("v1 started")
`, `
imscript.sql.open("sqlite::memory:"):queryRow("SELECT 2 AS two", function(row, err) print("v2 " .. tostring(row and row.two) .. " " .. tostring(err)) end)
`},
		"js": {`
const db = imscript.sql.open("sqlite::memory:", { timeout: 0 });
db.query("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c").then(() => console.log("v1 settled"), () => console.log("v1 settled"));
console.log("v1 started");
`, `
imscript.sql.open("sqlite::memory:").queryRow("SELECT 2 AS two").then((row) => console.log("v2 " + row.two + " nil"), (e) => console.log("v2 nil " + e.message));
`},
	}
	for _, lang := range scripttest.Langs {
		t.Run(lang, func(t *testing.T) {
			h := scripttest.Start(t, scripttest.Options{Lang: lang, Src: srcs[lang][0]})
			h.WaitStdout("v1 started")
			h.Reload(srcs[lang][1])
			if out := h.WaitStdout("v2 "); !strings.Contains(out, "v2 2 nil") || strings.Contains(out, "v1 settled") {
				t.Fatalf("after the reload:\n%s", out)
			}
		})
	}
}

// TestPoolBoundedAcrossWorkers: two workers run 5 queries each on a
// PostgreSQL handle with max_open = 3; the queries wait on an advisory
// lock the test holds. The one pool has 3 connections in use and 7
// queries waiting for one, and the server sees exactly 3 connections of
// the script's application_name; released, all 10 finish.
func TestPoolBoundedAcrossWorkers(t *testing.T) {
	dsn := postgresDSN(t)
	gate, err := dbsql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer gate.Close()
	conn, err := gate.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(t.Context(), "SELECT pg_advisory_lock(4242)"); err != nil {
		t.Fatal(err)
	}
	released := false
	release := func() {
		if !released {
			released = true
			if _, err := conn.ExecContext(t.Context(), "SELECT pg_advisory_unlock(4242)"); err != nil {
				t.Error(err)
			}
		}
	}
	defer release()
	srcs := map[string]string{
		"lua": `
local db = imscript.sql.open(imscript.env.DSN .. "&application_name=imscript_bounded", { max_open = 3 })
local done = 0
for i = 1, 5 do
  db:queryRow("SELECT pg_advisory_lock_shared(4242)::text AS l, pg_advisory_unlock_shared(4242) AS u, $1::int AS n", i, function(row, err)
    assert(row, err)
    done = done + 1
    if done == 5 then print("w" .. imscript.worker_id .. " done") end
  end)
end
`,
		"js": `
const db = imscript.sql.open(imscript.env.DSN + "&application_name=imscript_bounded", { max_open: 3 });
Promise.all([1, 2, 3, 4, 5].map((i) => db.queryRow("SELECT pg_advisory_lock_shared(4242)::text AS l, pg_advisory_unlock_shared(4242) AS u, $1::int AS n", i)))
  .then(() => console.log("w" + imscript.worker_id + " done"), (e) => console.log("failed " + e.message));
`,
	}
	for _, lang := range scripttest.Langs {
		t.Run(lang, func(t *testing.T) {
			h := scripttest.Start(t, scripttest.Options{Lang: lang, Src: srcs[lang], Workers: 2, Env: map[string]string{"DSN": dsn}})
			h.Eventually("3 connections in use and 7 queries waiting", func() bool {
				st := imsql.PoolStats(h.H.Shared)
				return len(st) == 1 && st[0].InUse == 3 && st[0].OpenConnections == 3 && st[0].WaitCount >= 7
			})
			// The pool counts a connection still being dialed as in use: wait
			// until the server has them all (with their application_name).
			var n int
			h.Eventually("the server to see the script's connections", func() bool {
				if err := gate.QueryRow("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'imscript_bounded'").Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n >= 3
			})
			if n != 3 {
				t.Fatalf("the server sees %d connections of the script, want 3 (max_open, one pool)", n)
			}
			release()
			h.WaitStdout("w0 done")
			h.WaitStdout("w1 done")
			released = false
			if _, err := conn.ExecContext(t.Context(), "SELECT pg_advisory_lock(4242)"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestReloadCancelsSuspendedQuery: a handler waits for a query that would
// run forever (Lua: suspended, the query running on the handler's own
// goroutine; JS: awaiting it). The worker answers other connections
// meanwhile; after a reload, when the old version's wait runs out, its
// query is cancelled (the pool has no connection in use) and the worker
// serves the new version: closing the old one does not wait for a query
// that only the version's end can stop.
func TestReloadCancelsSuspendedQuery(t *testing.T) {
	const forever = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) AS n FROM c"
	srcs := map[string][2]string{
		"lua": {`
local db = imscript.sql.open("sqlite:forever.db", { timeout = 0 })
local srv = imscript.server{ host = "127.0.0.1", port = 0, open_eof_split = true, package_eof = "\n", max_wait_time = 0.5 }
srv:on("receive", function(s, fd, data)
  if data == "ping\n" then return s:send(fd, "pong\n") end
  local row, err = db:queryRow(imscript.env.FOREVER)
  print("v1 settled " .. tostring(err))
end)
`, `
local srv = imscript.server{ host = "127.0.0.1", port = 0, open_eof_split = true, package_eof = "\n" }
srv:on("receive", function(s, fd, data) s:send(fd, "pong 2\n") end)
`},
		"js": {`
const db = imscript.sql.open("sqlite:forever.db", { timeout: 0 });
const srv = imscript.server({ host: "127.0.0.1", port: 0, open_eof_split: true, package_eof: "\n", max_wait_time: 0.5 });
srv.on("receive", async (s, fd, data) => {
  if (data.toString() === "ping\n") return s.send(fd, "pong\n");
  try { await db.queryRow(imscript.env.FOREVER); } catch (e) { console.log("v1 settled " + e.message); }
});
`, `
const srv = imscript.server({ host: "127.0.0.1", port: 0, open_eof_split: true, package_eof: "\n" });
srv.on("receive", (s, fd, data) => s.send(fd, "pong 2\n"));
`},
	}
	for _, lang := range scripttest.Langs {
		t.Run(lang, func(t *testing.T) {
			h := scripttest.Start(t, scripttest.Options{Lang: lang, Src: srcs[lang][0], Env: map[string]string{"FOREVER": forever}})
			port := h.Port(0)
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Write([]byte("query\n")); err != nil {
				t.Fatal(err)
			}
			h.Eventually("the query running", func() bool {
				st := imsql.PoolStats(h.H.Shared)
				return len(st) == 1 && st[0].InUse == 1
			})
			ping(t, port)
			h.Reload(srcs[lang][1])
			h.Eventually("the old version's query cancelled", func() bool {
				st := imsql.PoolStats(h.H.Shared)
				return len(st) == 1 && st[0].InUse == 0
			})
			// The new version answers on the same worker.
			h.Eventually("the new version answering", func() bool {
				line, _ := ask(port, "ping\n", 2*time.Second)
				return line == "pong 2\n"
			})
		})
	}
}
