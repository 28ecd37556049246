package lua_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imscript/imscript/bindings/lua"
	"github.com/imscript/imscript/internal/testutil"
)

func TestCompileErrorsCarryFileAndLine(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"ok.lua":     "local x = 1\nreturn x\n",
		"near.lua":   "local a = 1\nlocal b = = 2\n",
		"eof.lua":    "local function f()\n  return 1\n",
		"binary.lua": "\x1bLua",
	})
	lang := lua.New()
	if lang.Name() != "lua" || len(lang.Extensions()) != 1 || lang.Extensions()[0] != ".lua" {
		t.Errorf("name %q extensions %v", lang.Name(), lang.Extensions())
	}
	p, err := lang.Compile(filepath.Join(dir, "ok.lua"))
	if err != nil || p.Path() != filepath.Join(dir, "ok.lua") {
		t.Fatalf("Compile(ok.lua) = %v, %v", p, err)
	}
	for name, want := range map[string]string{
		"near.lua":    "near.lua:2: syntax error: expected an expression near '='",
		"eof.lua":     "eof.lua:1: syntax error: 'function' is never closed: expected 'end' before the end of the file",
		"missing.lua": "read script",
	} {
		_, err := lang.Compile(filepath.Join(dir, name))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Compile(%s) = %v, want %q", name, err, want)
		}
	}
}

func TestDisplayNameIsRelativeWhenInsideTheWorkingFolder(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if got := lua.DisplayName(filepath.Join(wd, "scripts", "x.lua")); got != filepath.Join("scripts", "x.lua") {
		t.Errorf("inside: %q", got)
	}
	if got := lua.DisplayName("/elsewhere/x.lua"); got != "/elsewhere/x.lua" {
		t.Errorf("outside: %q", got)
	}
}

func TestTablesBecomeListsOrMaps(t *testing.T) {
	src := `
local d = imscript.t.describe
print(d({1, 2, 3}))
print(d({}))
print(d({[1] = "a", [3] = "c"}))
print(d({1, 2, x = 1}))
print(d({[1.5] = "f", [true] = "b", [-1] = "n"}))
print(d({{}, {a = {}}}))
print(d(3), d(-0.5), d("s\0z"))
local cyc = {}
cyc.self = cyc
print(pcall(d, cyc))
print(d(imscript.server{ host = "127.0.0.1", port = 0 }), d(print), d(io.stdout))
`
	out, _ := run(t, 1, src, "", nil)
	want := `[1,2,3]
{}
{1="a",3="c"}
{1=1,2=2,x=1}
{-1="n",1.5="f",true="b"}
[{},{a={}}]
3 -0.5 "s\x00z"
false	table nested deeper than 100 levels (a cycle?)
object:server function nil
`
	out = strings.ReplaceAll(out, "\t", " ")
	want = strings.ReplaceAll(want, "\t", " ")
	// pcall's message carries the position of the call.
	out = cutPositions(out)
	if out != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}
}

// cutPositions drops "path/main.lua:N: " prefixes from error messages.
func cutPositions(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if j := strings.Index(l, "main.lua:"); j >= 0 {
			rest := l[j+len("main.lua:"):]
			if k := strings.Index(rest, ": "); k >= 0 {
				start := strings.LastIndex(l[:j], " ") + 1
				lines[i] = l[:start] + rest[k+2:]
			}
		}
	}
	return strings.Join(lines, "\n")
}

func TestGoValuesReachLua(t *testing.T) {
	src := `
local t = imscript.t
local ints = t.give("ints")
print(#ints, ints[1], ints[2], ints[3])
print(t.give("int") + 1)
local f = t.give("gofunc")
print(type(f), f("x"))
print(pcall(t.give, "struct"))
print(pcall(t.give, "deep"))
print(select("#", t.none()), select("#", t.three()), t.three())
print(t.fail())
print(t.nargs(), t.nargs(nil, nil), t.nargs(1, 2, 3))
print(t.opt())
print(t.opt(1, 2.5, false, "s", {}))
print(t.table({a = 1, b = {1, 2}}))
print(pcall(t.table, {[1] = "x"}))
print(t.bytes("a\0b\255"), t.bytes(42))
print(imscript.worker_id, t.worker())
`
	out, _ := run(t, 1, src, "", nil)
	want := `3 3 1 2
8
function from go x
false cannot pass a Go struct {} to Lua
false value nested deeper than 100 levels
0 3 1 nil three
false nope
0 2 3
5 1.5 true def true
1 2.5 false s false
{a=1,b=[1,2]}
false bad argument #1 (opts): keys must be strings, got number
"a\x00b\xff" "42"
0 0
`
	out = cutPositions(strings.ReplaceAll(out, "\t", " "))
	if out != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}
}

func TestHostObjects(t *testing.T) {
	src := `
local srv = imscript.server{ host = "127.0.0.1", port = 0 }
print(tostring(srv), getmetatable(srv), type(srv))
print(srv.host, srv.type, srv.port, srv.missing)
print(pcall(setmetatable, srv, {}))
print(pcall(srv.send, io.stdout, 1, "x"))
print(pcall(srv.send, "srv", 1, "x"))
print(rawequal(imscript.t.give ~= nil, true))
`
	out, _ := run(t, 1, src, "", nil)
	out = cutPositions(strings.ReplaceAll(out, "\t", " "))
	want := `server server userdata
127.0.0.1 tcp 0 nil
false cannot change a protected metatable
false method called without its object: use obj:method(...)
false method called without its object: use obj:method(...)
true
`
	if out != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}
}

func TestRequireBesideTheScript(t *testing.T) {
	files := map[string]string{
		"util.lua":        `print("loading util on " .. imscript.worker_id); return { n = 1 }`,
		"deep/mod.lua":    `return { name = "deep.mod", util = require("util") }`,
		"pkg/init.lua":    `return "pkg"`,
		"bad.lua":         "return {\n  x = = 1\n}\n",
		"deep/throws.lua": "local x = 1\nerror(\"module failed\")\n",
	}
	src := `
local u = require("util")
local m = require("deep.mod")
print(m.name, m.util == u, require("pkg"))
local ok, err = pcall(require, "bad")
print(ok, (err:find("bad.lua:2: syntax error", 1, true)) ~= nil)
ok, err = pcall(require, "deep.throws")
print(ok, (err:find("throws.lua:2: module failed", 1, true)) ~= nil)
ok, err = pcall(require, "nowhere")
print(ok, (err:find("no file 'nowhere.lua' beside the script", 1, true)) ~= nil)
print(require("json") == imscript.json, require("imscript") == imscript, require("t") == imscript.t)
print(require("string") == string)
print(imscript.t.protos())
print("done " .. imscript.worker_id)
`
	out, _ := run(t, 2, src, "", files)
	testutil.WantAll(t, "stdout", out,
		"loading util on 0\n", "loading util on 1\n",
		"deep.mod\ttrue\tpkg\n", "false\ttrue\nfalse\ttrue\nfalse\ttrue\n", "true\ttrue\ttrue\n", "true\n",
		"done 0\n", "done 1\n",
	)
	// Each module file is compiled once for the version, not once per VM:
	// util, deep.mod, pkg and deep.throws (bad.lua did not compile).
	if strings.Count(out, "\n4\n") != 2 {
		t.Errorf("compiled modules per version: want 4 on both workers:\n%s", out)
	}
}

func TestPrintWritesToTheHostStdout(t *testing.T) {
	src := `
print("a", 1, nil, true, 2.5)
print()
print(setmetatable({}, { __tostring = function() return "custom" end }))
print("\0binary\255")
`
	out, _ := run(t, 1, src, "", nil)
	want := "a\t1\tnil\ttrue\t2.5\n\ncustom\n\x00binary\xff\n"
	if out != want {
		t.Errorf("got %q, want %q", out, want)
	}
}

func TestErrorsCarryTheLuaStack(t *testing.T) {
	src := `
local function inner()
  error("deep trouble")
end
local function outer() inner() end
imscript.after(1, function() outer() end)
imscript.after(2, function() error({ code = 1 }) end)
imscript.after(3, function() print("done") end)
`
	_, logs := run(t, 1, src, "done", nil)
	testutil.WantAll(t, "log", logs, "main.lua:3: deep trouble", "main.lua:5:", "stack traceback", "handler=timer")
	if strings.Count(logs, "handler error") != 2 {
		t.Errorf("want two handler errors:\n%s", logs)
	}
}
