//go:build linux

package sql_test

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/imscript/imscript/internal/testserver"
	"github.com/imscript/imscript/script/scripttest"
)

// The script answers each line with the result of one query.
var deadSrcs = map[string]string{
	"lua": `
local db = imscript.sql.open(imscript.env.DSN, { timeout = 5 })
local srv = imscript.server{ host = "127.0.0.1", port = 0, open_eof_split = true, package_eof = "\n" }
srv:on("receive", function(srv, fd, data)
  db:queryRow("SELECT 1 AS one", function(row, err, code)
    if row then srv:send(fd, "ok " .. row.one .. "\n") else srv:send(fd, "err " .. err:gsub("\n", " ") .. " code=" .. tostring(code) .. "\n") end
  end)
end)
`,
	"js": `
const db = imscript.sql.open(imscript.env.DSN, { timeout: 5 });
const srv = imscript.server({ host: "127.0.0.1", port: 0, open_eof_split: true, package_eof: "\n" });
srv.on("receive", async (srv, fd, data) => {
  try {
    const row = await db.queryRow("SELECT 1 AS one");
    srv.send(fd, "ok " + row.one + "\n");
  } catch (e) {
    srv.send(fd, "err " + e.message.replace(/\n/g, " ") + " code=" + (e.code === undefined ? "nil" : e.code) + "\n");
  }
});
`,
}

// restartable is a server the test can stop and start again.
type restartable interface {
	Stop(t testing.TB)
	Start(t testing.TB)
}

// TestDeadServer: a query while the server is down fails with a clear
// error and the handler goes on; once the server is back, the next query
// works (database/sql drops the dead connections and dials again).
func TestDeadServer(t *testing.T) {
	servers := map[string]func(t *testing.T) (string, restartable){
		"postgres": func(t *testing.T) (string, restartable) { s := testserver.Postgres(t); return s.DSN, s },
		"mariadb":  func(t *testing.T) (string, restartable) { s := testserver.MariaDB(t); return s.DSN, s },
	}
	for _, name := range []string{"postgres", "mariadb"} {
		t.Run(name, func(t *testing.T) {
			for _, lang := range scripttest.Langs {
				t.Run(lang, func(t *testing.T) {
					dsn, srv := servers[name](t)
					h := scripttest.Start(t, scripttest.Options{Lang: lang, Src: deadSrcs[lang], Env: map[string]string{"DSN": dsn}})
					c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", h.Port(0)), 5*time.Second)
					if err != nil {
						t.Fatal(err)
					}
					defer c.Close()
					rd := bufio.NewReader(c)
					ask := func() string {
						t.Helper()
						_ = c.SetDeadline(time.Now().Add(scripttest.WaitLimit))
						if _, err := c.Write([]byte("q\n")); err != nil {
							t.Fatal(err)
						}
						line, err := rd.ReadString('\n')
						if err != nil {
							t.Fatalf("no answer: %v", err)
						}
						return strings.TrimSpace(line)
					}
					if got := ask(); got != "ok 1" {
						t.Fatalf("before the stop: %q", got)
					}
					srv.Stop(t)
					restarted := false
					defer func() {
						if !restarted {
							srv.Start(t)
						}
					}()
					for i := 0; i < 2; i++ {
						got := ask()
						if !strings.HasPrefix(got, "err sql.queryRow: ") {
							t.Fatalf("query %d while the server is down: %q, want a clear error", i+1, got)
						}
						t.Logf("down: %s", got)
					}
					srv.Start(t)
					restarted = true
					if got := ask(); got != "ok 1" {
						t.Fatalf("the first query after the restart: %q", got)
					}
				})
			}
		})
	}
}
