package sql_test

import (
	"bufio"
	"context"
	dbsql "database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"modernc.org/sqlite"

	"github.com/imscript/imscript/script/scripttest"
	imsql "github.com/imscript/imscript/stdlib/sql"
)

// test_gate() is an SQLite function (for the test binary's connections)
// that waits until the running test opens its gate.
var gate struct {
	mu sync.Mutex
	ch chan struct{}
}

func init() {
	sqlite.MustRegisterScalarFunction("test_gate", 0, func(*sqlite.FunctionContext, []driver.Value) (driver.Value, error) {
		gate.mu.Lock()
		ch := gate.ch
		gate.mu.Unlock()
		if ch == nil {
			return int64(1), nil
		}
		select {
		case <-ch:
			return int64(1), nil
		case <-time.After(time.Minute):
			return nil, errors.New("test_gate: the test never opened the gate")
		}
	})
}

// closeGate makes the queries of each database wait until the returned
// function runs (it runs at the test's end too); gateSQL is a query that
// waits there and returns its one parameter as n.
func closeGate(t *testing.T, d *database, dsn string) (gateSQL string, open func()) {
	t.Helper()
	var once sync.Once
	switch d.name {
	case "postgres", "mariadb":
		driverName, dsn2 := "pgx", dsn
		lock, unlock := "SELECT pg_advisory_lock(4243)", "SELECT pg_advisory_unlock(4243)"
		gateSQL = "SELECT pg_advisory_lock_shared(4243)::text AS g, pg_advisory_unlock_shared(4243) AS u, $1::int AS n"
		if d.name == "mariadb" {
			driverName, dsn2 = "mysql", mariaDriverDSN(t)
			lock, unlock = "SELECT GET_LOCK('imscript_gate', 10)", "SELECT RELEASE_LOCK('imscript_gate')"
			gateSQL = "SELECT GET_LOCK('imscript_gate', 60) + RELEASE_LOCK('imscript_gate') AS g, ? AS n"
		}
		db, err := dbsql.Open(driverName, dsn2)
		if err != nil {
			t.Fatal(err)
		}
		conn, err := db.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(context.Background(), lock); err != nil {
			t.Fatal(err)
		}
		open = func() {
			once.Do(func() {
				if _, err := conn.ExecContext(context.Background(), unlock); err != nil {
					t.Error(err)
				}
				conn.Close()
				db.Close()
			})
		}
	default:
		ch := make(chan struct{})
		gate.mu.Lock()
		gate.ch = ch
		gate.mu.Unlock()
		gateSQL = "SELECT test_gate() AS g, ? AS n"
		open = func() {
			once.Do(func() {
				close(ch)
				gate.mu.Lock()
				gate.ch = nil
				gate.mu.Unlock()
			})
		}
	}
	t.Cleanup(open)
	return gateSQL, open
}

const luaMany = `
local db = imscript.sql.open(imscript.env.DSN)
local srv = imscript.server{ host = "127.0.0.1", port = 0, open_eof_split = true, package_eof = "\n" }
srv:on("receive", function(srv, fd, data) srv:send(fd, "pong\n") end)
local done, sum = 0, 0
for i = 1, 1000 do
  db:queryRow(imscript.env.GATE, i, function(row, err)
    if not row then print("failed " .. err) return end
    done = done + 1
    sum = sum + row.n
    if done == 1000 then print("all " .. done .. " " .. sum) end
  end)
end
print("issued 1000")
`

const jsMany = `
const db = imscript.sql.open(imscript.env.DSN);
const srv = imscript.server({ host: "127.0.0.1", port: 0, open_eof_split: true, package_eof: "\n" });
srv.on("receive", (srv, fd, data) => srv.send(fd, "pong\n"));
Promise.all(Array.from({ length: 1000 }, (_, i) => db.queryRow(imscript.env.GATE, i + 1)))
  .then((rows) => console.log("all " + rows.length + " " + rows.reduce((s, r) => s + r.n, 0)), (e) => console.log("failed " + e.message));
console.log("issued 1000");
`

// TestManyQueriesInFlight: one worker starts 1,000 queries at once (Lua
// callbacks, JS Promise.all); they wait at a gate the test holds, the
// worker meanwhile answers a TCP request, and once the gate opens every
// query completes with its own result.
func TestManyQueriesInFlight(t *testing.T) {
	for _, d := range databases() {
		if d.name == "sqlite-memory" {
			continue // one connection: nothing runs in parallel
		}
		t.Run(d.name, func(t *testing.T) {
			for _, lang := range scripttest.Langs {
				t.Run(lang, func(t *testing.T) {
					dsn := d.open(t)
					gateSQL, open := closeGate(t, d, dsn)
					src := map[string]string{"lua": luaMany, "js": jsMany}[lang]
					h := scripttest.Start(t, scripttest.Options{Lang: lang, Src: src, Files: files,
						Env: map[string]string{"DSN": dsn, "GATE": gateSQL}})
					h.WaitStdout("issued 1000")
					h.Eventually("16 queries running at the gate", func() bool {
						st := imsql.PoolStats(h.H.Shared)
						return len(st) == 1 && st[0].InUse == 16
					})
					ping(t, h.Port(0))
					if out := h.Stdout(); strings.Contains(out, "all") || strings.Contains(out, "failed") {
						t.Fatalf("the queries finished before the gate opened:\n%s", out)
					}
					open()
					if out := h.WaitStdout("all"); !strings.Contains(out, "all 1000 500500") {
						t.Fatalf("the script printed:\n%s", out)
					}
				})
			}
		})
	}
}

// ping sends a line to the script's TCP server and waits for its answer.
func ping(t *testing.T, port int) {
	t.Helper()
	line, err := ask(port, "ping\n", scripttest.WaitLimit)
	if err != nil || line != "pong\n" {
		t.Fatalf("the worker did not answer while the queries waited: %q, %v", line, err)
	}
}

// ask sends line to the script's TCP server on a new connection and reads
// one line back, within limit.
func ask(port int, line string, limit time.Duration) (string, error) {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(limit))
	if _, err := c.Write([]byte(line)); err != nil {
		return "", err
	}
	return bufio.NewReader(c).ReadString('\n')
}
