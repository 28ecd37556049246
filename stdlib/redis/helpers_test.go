package redis_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/imscript/imscript/internal/testserver"
	"github.com/imscript/imscript/script/scripttest"
)

// The scripts' preludes: r, the handle on env URL (with the options in
// env OPTS, a Lua / JS table literal); show renders a reply the same way
// in both languages (a nil reply: Lua nil, JS null; a nil in a list:
// null); line prints a call's reply or its error and code; main runs the
// test's steps in a coroutine (Lua, over the callback form: no pcall
// around it, gopher-lua cannot yield across one) or an async function
// (JS).
const luaPrelude = `
local r = imscript.redis.open(imscript.env.URL, OPTS)
local null = imscript.redis.null
local function show(v)
  if v == nil then return "nil" end
  if v == null then return "null" end
  local t = type(v)
  if t == "string" then return '"' .. v .. '"' end
  if t ~= "table" then return tostring(v) end
  if #v > 0 or next(v) == nil then
    local parts = {}
    for i = 1, #v do parts[i] = show(v[i]) end
    return "[" .. table.concat(parts, ",") .. "]"
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for i, k in ipairs(keys) do parts[i] = k .. "=" .. show(v[k]) end
  return "{" .. table.concat(parts, ",") .. "}"
end
local function await(f, ...)
  local co = coroutine.running()
  local n = select("#", ...)
  local args = {...}
  -- (resume's own results do not reach a callback the host calls: an
  -- error in a step shows as a missing line)
  args[n + 1] = function(res, err, code) coroutine.resume(co, res, err, code) end
  f(unpack(args, 1, n + 1))
  return coroutine.yield()
end
local function call(...) return await(r.call, r, ...) end
local function pipeline(cmds) return await(r.pipeline, r, cmds) end
local function line(name, v, err, code)
  if err then print(name .. " ! " .. err .. " [" .. tostring(code) .. "]") else print(name .. " " .. show(v)) end
end
local function main(fn) coroutine.wrap(fn)() end
`

const jsPrelude = `
const r = imscript.redis.open(imscript.env.URL, OPTS);
function show(v) {
  if (v === null || v === undefined) return "null";
  if (typeof v === "string") return '"' + v + '"';
  if (Buffer.isBuffer(v)) return "<bytes " + v.length + ">";
  if (Array.isArray(v)) return "[" + v.map(show).join(",") + "]";
  if (typeof v === "object") return "{" + Object.keys(v).sort().map((k) => k + "=" + show(v[k])).join(",") + "}";
  return String(v);
}
const call = (...args) => r.call(...args);
const pipeline = (cmds) => r.pipeline(cmds);
async function line(name, p) {
  try { console.log(name + " " + show(await p)); } catch (e) { console.log(name + " ! " + e.message + " [" + e.code + "]"); }
}
function main(fn) {
  imscript.after(1, async () => { try { await fn(); } catch (e) { console.log("ERROR " + e.message); } });
}
`

// src is a test script: the prelude for lang with opts (a Lua table
// literal; JS gets it with = for :) and the test's body.
func src(lang, opts string, bodies map[string]string) string {
	if opts == "" {
		opts = "{}"
	}
	if lang == "js" {
		return strings.Replace(jsPrelude, "OPTS", strings.ReplaceAll(opts, " = ", ": "), 1) + bodies["js"]
	}
	return strings.Replace(luaPrelude, "OPTS", opts, 1) + bodies["lua"]
}

// want is the expected output for lang: a top-level nil reply reads "nil"
// in Lua and "null" in JS.
func want(lang, w string) string {
	if lang == "js" {
		return strings.ReplaceAll(w, " nil\n", " null\n")
	}
	return w
}

// run starts a script for lang against srv.
func run(t *testing.T, srv *testserver.RedisServer, lang, opts string, bodies map[string]string, o scripttest.Options) *scripttest.Host {
	t.Helper()
	o.Lang = lang
	o.Src = src(lang, opts, bodies)
	if o.Env == nil {
		o.Env = map[string]string{}
	}
	o.Env["URL"] = srv.URL
	return scripttest.Start(t, o)
}

// The control server: an HTTP server in the script through which the test
// sends commands. POST /call with a JSON list runs r:call with it and
// answers the reply as show renders it, or "! message [code]"; POST
// /pipeline runs r:pipeline; POST /bg starts r:call and answers at once,
// printing "bg <reply>" when the call settles.
const luaControl = `
local srv = imscript.server{ host = "127.0.0.1", port = 0, type = "http" }
local function answer(res) return function(v, err, code)
  if err then res:send("! " .. err .. " [" .. tostring(code) .. "]") else res:send(show(v)) end
end end
srv:on("request", function(req, res)
  local cmd = imscript.json.decode(req.body)
  if req.path == "/call" then
    cmd[#cmd + 1] = answer(res)
    r:call(unpack(cmd))
  elseif req.path == "/pipeline" then
    r:pipeline(cmd, answer(res))
  elseif req.path == "/bg" then
    cmd[#cmd + 1] = function(v, err) print("bg " .. show(v) .. " " .. tostring(err)) end
    r:call(unpack(cmd))
    res:send("started")
  end
end)
`

const jsControl = `
const srv = imscript.server({ host: "127.0.0.1", port: 0, type: "http" });
const answer = (res) => (p) => p.then((v) => res.send(show(v)), (e) => res.send("! " + e.message + " [" + e.code + "]"));
srv.on("request", (req, res) => {
  const cmd = JSON.parse(req.body.toString());
  if (req.path === "/call") answer(res)(r.call(...cmd));
  else if (req.path === "/pipeline") answer(res)(r.pipeline(cmd));
  else if (req.path === "/bg") {
    r.call(...cmd).then((v) => console.log("bg " + show(v) + " null"), (e) => console.log("bg null " + e.message));
    res.send("started");
  }
});
`

// control adds the control server to a test's bodies.
func control(bodies map[string]string) map[string]string {
	if bodies == nil {
		bodies = map[string]string{}
	}
	return map[string]string{"lua": luaControl + bodies["lua"], "js": jsControl + bodies["js"]}
}

// post sends a command to the control server; a JS script renders a nil
// reply "null" where Lua says "nil": post answers "nil" for both.
func post(t *testing.T, h *scripttest.Host, path string, cmd ...any) string {
	t.Helper()
	body, err := json.Marshal(cmd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d%s", h.Port(0), path), "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s %s: %v", path, body, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) == "null" {
		return "nil"
	}
	return string(out)
}

// eventually polls cond until it holds, failing the test after
// scripttest.WaitLimit.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(scripttest.WaitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", scripttest.WaitLimit, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// clients lists the server's clients but the one asking (CLIENT LIST).
func clients(t *testing.T, srv *testserver.RedisServer) []string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(srv.MustDo("CLIENT", "LIST"), "\n") {
		if l != "" && !strings.Contains(l, "cmd=client|list") {
			out = append(out, l)
		}
	}
	return out
}

// count is how many of lines hold s.
func count(lines []string, s string) int {
	n := 0
	for _, l := range lines {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}
