package host_test

import (
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/imscript/imscript/host"
)

// routesVersion is a script whose routes say which version answers.
func routesVersion(v string, extra string) string {
	return `
local srv = imscript.server{ host = "127.0.0.1", port = 0, type = "http" }
srv:route("GET", "/v/:x", function(req, res) res:send("` + v + ` " .. req.params.x) end)
srv:route("GET", "/only-` + v + `", function(req, res) res:send("only ` + v + `") end)
srv:on("request", function(req, res) res:status(404):send("fallback ` + v + `") end)
` + extra
}

func httpGet(t *testing.T, port int, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestReloadReplacesRoutes: routes belong to a version of the script, as
// its handlers do: a reload replaces them, a failed reload keeps them, and
// no route table outlives its version. Not parallel: it counts the
// process's route tables.
func TestReloadReplacesRoutes(t *testing.T) {
	before := host.RouterCount()
	r := startHost(t, "routes.lua", routesVersion("v1", ""), host.Config{})
	port := r.port(0)
	want := func(path string, code int, body string) {
		t.Helper()
		if c, b := httpGet(t, port, path); c != code || b != body {
			t.Errorf("GET %s: %d %q, want %d %q", path, c, b, code, body)
		}
	}
	want("/v/a", 200, "v1 a")
	want("/only-v1", 200, "only v1")
	if n := host.RouterCount() - before; n != 2 {
		t.Errorf("%d route tables for one server on two workers", n)
	}

	// A version that fails on one worker after declaring its routes: the
	// running version keeps answering, and the failed one leaves nothing.
	r.write("routes.lua", routesVersion("v2", `if imscript.worker_id == 1 then error("worker 1 fails") end`))
	if err := r.h.ReloadNow("failing"); err == nil {
		t.Fatal("the failing version loaded")
	}
	want("/v/b", 200, "v1 b")
	if n := host.RouterCount() - before; n != 2 {
		t.Errorf("%d route tables after a failed reload, want 2", n)
	}

	r.write("routes.lua", routesVersion("v3", ""))
	if err := r.h.ReloadNow("v3"); err != nil {
		t.Fatal(err)
	}
	want("/v/c", 200, "v3 c")
	want("/only-v1", 404, "fallback v3")
	want("/only-v3", 200, "only v3")
	r.eventually("the old version's route tables to go", func() bool { return host.RouterCount()-before == 2 })

	// A version without routes: only its request handler answers.
	r.write("routes.lua", `
local srv = imscript.server{ host = "127.0.0.1", port = 0, type = "http" }
srv:on("request", function(req, res) res:send("plain " .. req.path) end)
`)
	if err := r.h.ReloadNow("no routes"); err != nil {
		t.Fatal(err)
	}
	want("/v/d", 200, "plain /v/d")
	r.eventually("no route tables", func() bool { return host.RouterCount() == before })
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if n := host.RouterCount(); n != before {
		t.Errorf("%d route tables after the host stopped, want %d", n, before)
	}
}

// TestRouteOnlyOnHTTPServers: a tcp server has no routes.
func TestRouteOnlyOnHTTPServers(t *testing.T) {
	t.Parallel()
	r := startHost(t, "tcp.lua", `
local srv = imscript.server{ host = "127.0.0.1", port = 0 }
print(pcall(srv.route, srv, "GET", "/x", function() end))
`, host.Config{Workers: 1})
	r.waitStdout("false")
	r.waitStdout("routes are for http and websocket servers, not tcp")
}
