package conformance

import "testing"

// The conformance cases: each is written once in Lua and once in JS and
// must produce what a user sees (stdout, stderr, the log) as given. Where
// the API contract makes the languages differ (Lua's `false, reason` against
// JS's `false`, each language's own print format and error wording), the
// case says so with wantLua / wantJS.

// luaPrelude and jsPrelude give every case the probe module and the same
// two helpers: show(v) renders a value as probe.describe does on the Go
// side; say(...) prints its arguments separated by single spaces.
const luaPrelude = `local probe = require("probe")
local function show(v)
  local t = type(v)
  if t == "nil" then return "nil" end
  if t == "boolean" or t == "number" then return tostring(v) end
  if t == "string" then return '"' .. v .. '"' end
  if t == "table" then
    local parts = {}
    if #v > 0 then
      for i = 1, #v do parts[i] = show(v[i]) end
      return "[" .. table.concat(parts, ",") .. "]"
    end
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys)
    for i, k in ipairs(keys) do parts[i] = k .. "=" .. show(v[k]) end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  return t
end
local function say(...)
  local parts = {}
  for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
  print(table.concat(parts, " "))
end
`

const jsPrelude = `const probe = require("probe");
function show(v) {
  if (v === null || v === undefined) return "nil";
  if (typeof v === "boolean" || typeof v === "number") return String(v);
  if (typeof v === "string") return '"' + v + '"';
  if (v instanceof Buffer) return '"' + v.toString() + '"';
  if (Array.isArray(v)) return "[" + v.map(show).join(",") + "]";
  if (typeof v === "object") return "{" + Object.keys(v).sort().map((k) => k + "=" + show(v[k])).join(",") + "}";
  return typeof v;
}
function say(...args) { console.log(args.map(String).join(" ")); }
`

type tcase struct {
	name string
	lua  string
	js   string
	// files beside the script, per language.
	luaFiles, jsFiles map[string]string
	env               map[string]string
	args              []string

	// want is the stdout of both languages; wantLua / wantJS replace it
	// for one language.
	want, wantLua, wantJS string
	// wantStderrJS is JS's stderr (console.warn / console.error).
	wantStderrJS string
	// wantLog are substrings the host's log must hold, in both languages.
	wantLog []string
	// errLine names a marker in the script: the log (or the load error)
	// must point at case.<ext>:<line of the marker>.
	errLine string
	// wantRunErr: the script must fail to load, with these substrings in
	// the error Run returns.
	wantRunErr []string
	// client talks to the script's first server once it has started.
	client func(t *testing.T, port int)
}

var cases = []tcase{
	{
		name: "asynchronous calls: Lua callbacks, JS promises and async/await",
		lua: `probe.later(42, function(result, err)
  say("first", result, err)
  probe.later("boom", function(result, err)
    say("second", result, err)
    probe.later({ a = 1 }, function(result)
      say("third", show(result))
      say("done")
    end)
  end)
end)
say("called")`,
		js: `probe.later(42).then((result) => {
  say("first", result, undefined);
  return probe.later("boom");
}).catch((err) => {
  say("second", undefined, err.message);
  (async () => {
    const result = await probe.later({ a: 1 });
    say("third", show(result));
    say("done");
  })();
});
say("called");`,
		wantLua: "called\nfirst 42 nil\nsecond nil boom failed\nthird {a=1}\ndone\n",
		wantJS:  "called\nfirst 42 undefined\nsecond undefined boom failed\nthird {a=1}\ndone\n",
	},
	{
		name: "print and console output",
		lua: `print("hello", 1, 2.5, true, nil)
print()
print("done")`,
		js: `console.log("hello", 1, 2.5, true, null, undefined);
console.info({ a: [1, "x"] }, [true], () => 1);
console.warn("careful");
console.error(new Error("bad"));
console.debug("done");`,
		wantLua:      "hello\t1\t2.5\ttrue\tnil\n\ndone\n",
		wantJS:       "hello 1 2.5 true null undefined\n{\"a\":[1,\"x\"]} [true] [Function]\ndone\n",
		wantStderrJS: "careful\nError: bad\n",
	},
	{
		name: "Go values reach the script",
		lua: `for _, name in ipairs({"nil", "true", "false", "int", "neg", "float", "whole", "big",
    "str", "empty", "text", "list", "map", "nested"}) do
  say(name, show(probe.value(name)))
end
say("done")`,
		js: `for (const name of ["nil", "true", "false", "int", "neg", "float", "whole", "big",
    "str", "empty", "text", "list", "map", "nested"]) {
  say(name, show(probe.value(name)));
}
say("done");`,
		want: `nil nil
true true
false false
int 42
neg -7
float 3.25
whole 2
big 1099511627776
str "héllo wörld"
empty ""
text "hello"
list [1,"two",true]
map {a=1,b="x"}
nested {meta={deep={ok=true}},users=[{name="ann",tags=["a","b"]}]}
done
`,
	},
	{
		name: "script values reach Go",
		lua: `say(probe.describe(nil), probe.describe(true), probe.describe(false))
say(probe.describe(42), probe.describe(-7.5), probe.describe(0.1))
say(probe.describe("héllo"), probe.describe(""))
say(probe.describe({1, "two", true}))
say(probe.describe({a = 1, b = "x"}))
say(probe.describe({users = {{name = "ann", tags = {"a", "b"}}}, meta = {deep = {ok = true}}}))
say(probe.describe(function() end), probe.describe(print))
say("done")`,
		js: `say(probe.describe(null), probe.describe(true), probe.describe(false));
say(probe.describe(42), probe.describe(-7.5), probe.describe(0.1));
say(probe.describe("héllo"), probe.describe(""));
say(probe.describe([1, "two", true]));
say(probe.describe({ a: 1, b: "x" }));
say(probe.describe({ users: [{ name: "ann", tags: ["a", "b"] }], meta: { deep: { ok: true } } }));
say(probe.describe(function () {}), probe.describe(console.log));
say("done");`,
		want: `nil true false
42 -7.5 0.1
"héllo" ""
[1,"two",true]
{a=1,b="x"}
{meta={deep={ok=true}},users=[{name="ann",tags=["a","b"]}]}
function function
done
`,
	},
	{
		name: "values round-trip through Go unchanged",
		lua: `for _, v in ipairs({true, false, 42, -7.5, "héllo", {1, "two", true}, {a = 1, b = "x"},
    {users = {{name = "ann", tags = {"a", "b"}}}, meta = {deep = {ok = true}}}}) do
  say(show(probe.echo(v)))
end
say(show(probe.echo(nil)))
local f = function() return "called" end
say(probe.echo(f) == f, probe.echo(f)())
local srv = imscript.server{ host = "127.0.0.1", port = 0 }
say(probe.echo(srv) == srv, probe.describe(srv))
say(probe.echo(imscript.tick) ~= nil, probe.describe(imscript.tick))
say("done")`,
		js: `for (const v of [true, false, 42, -7.5, "héllo", [1, "two", true], { a: 1, b: "x" },
    { users: [{ name: "ann", tags: ["a", "b"] }], meta: { deep: { ok: true } } }]) {
  say(show(probe.echo(v)));
}
say(show(probe.echo(null)));
const f = function () { return "called"; };
say(probe.echo(f) === f, probe.echo(f)());
const srv = imscript.server({ host: "127.0.0.1", port: 0 });
say(probe.echo(srv) === srv, probe.describe(srv));
say(probe.echo(imscript.tick) !== null, probe.describe(imscript.tick));
say("done");`,
		want: `true
false
42
-7.5
"héllo"
[1,"two",true]
{a=1,b="x"}
{meta={deep={ok=true}},users=[{name="ann",tags=["a","b"]}]}
nil
true called
true object:server
true function
done
`,
	},
	{
		name: "binary data keeps all 256 byte values",
		lua: `local d = probe.value("bytes")
local ok = #d == 256
for i = 0, 255 do if d:byte(i + 1) ~= i then ok = false end end
say("from go", #d, ok)
local parts = {}
for i = 0, 255 do parts[#parts + 1] = string.char(i) end
local mine = table.concat(parts)
say("to go", probe.is256(mine), probe.is256(d), probe.is256(probe.echo(mine)))
local bad = "\255\254\0\128"
say("invalid utf-8", probe.hex(bad), probe.hex(probe.echo(bad)), #probe.echo(bad))
say("done")`,
		js: `const d = probe.value("bytes");
let ok = d.length === 256;
for (let i = 0; i < 256; i++) if (d[i] !== i) ok = false;
say("from go", d.length, ok);
const mine = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
say("to go", probe.is256(mine), probe.is256(d), probe.is256(probe.echo(mine)));
const bad = Buffer.from([0xff, 0xfe, 0x00, 0x80]);
say("invalid utf-8", probe.hex(bad), probe.hex(probe.echo(bad)), probe.echo(bad).length);
say("done");`,
		want: `from go 256 true
to go true true true
invalid utf-8 fffe0080 fffe0080 4
done
`,
	},
	{
		name: "network data reads naturally",
		lua: `local d = probe.value("text")
say("length", #d)
say("index", d:byte(1), d:byte(5))
say("concat", "Server: " .. d)
say("upper", d:upper())
say("compare", d == "hello")
say("hex", probe.hex(d))
say("done")`,
		js: `const d = probe.value("text");
say("length", d.length);
say("index", d[0], d[4]);
say("concat", "Server: " + d);
say("upper", d.toString().toUpperCase());
say("compare", d.toString() === "hello");
say("hex", d.toString("hex"));
say("done");`,
		want: `length 5
index 104 111
concat Server: hello
upper HELLO
compare true
hex 68656c6c6f
done
`,
	},
	{
		name: "usage errors name the argument",
		lua: `local function try(f, ...)
  local ok, err = pcall(f, ...)
  if ok then return "no error" end
  return (tostring(err):gsub("^.-case%.lua:%d+: ", ""))
end
local line = debug.getinfo(1, "l").currentline; local _, err = pcall(imscript.tick, "soon", print)
say("position", err:find("case.lua:" .. line .. ":", 1, true) ~= nil)
say(try(imscript.tick, "soon", print))
say(try(imscript.after, 10, "later"))
say(try(imscript.tick, 0, print))
say(try(probe.typed, 1, {}))
say(try(probe.typed, 1, "x", "yes"))
say(try(imscript.server, { host = "127.0.0.1", port = 0, bogus = 1 }))
say(try(imscript.server, { port = "80" }))
say(try(imscript.server, { port = 0, type = "smtp" }))
say(try(imscript.server, "tcp"))
local srv = imscript.server{ host = "127.0.0.1", port = 0 }
say(try(srv.on, srv, "bogus", print))
say(try(srv.on, srv, "packet", print))
say(try(srv.on, srv, "receive", "not a function"))
say(try(srv.send, srv, "one", "x"))
say(try(srv.send, 1, "x"))
say("done")`,
		js: `function tryit(f) {
  try { f(); return "no error"; } catch (e) { return (e instanceof TypeError ? "TypeError: " : "Error: ") + e.message; }
}
say("position", true);
say(tryit(() => imscript.tick("soon", console.log)));
say(tryit(() => imscript.after(10, "later")));
say(tryit(() => imscript.tick(0, console.log)));
say(tryit(() => probe.typed(1, {})));
say(tryit(() => probe.typed(1, "x", "yes")));
say(tryit(() => imscript.server({ host: "127.0.0.1", port: 0, bogus: 1 })));
say(tryit(() => imscript.server({ port: "80" })));
say(tryit(() => imscript.server({ port: 0, type: "smtp" })));
say(tryit(() => imscript.server("tcp")));
const srv = imscript.server({ host: "127.0.0.1", port: 0 });
say(tryit(() => srv.on("bogus", console.log)));
say(tryit(() => srv.on("packet", console.log)));
say(tryit(() => srv.on("receive", "not a function")));
say(tryit(() => srv.send("one", "x")));
const send = srv.send;
say(tryit(() => send(1, "x")));
say("done");`,
		wantLua: `position true
bad argument #1 (ms): number expected, got string
bad argument #2 (fn): function expected, got string
imscript.tick: ms must be positive
bad argument #2 (label): string expected, got table
bad argument #3 (loud): boolean expected, got string
imscript.server: unknown setting "bogus"
imscript.server: setting port: want a number, got string
imscript.server: setting type: "smtp" is not a server type (tcp, udp, http, websocket)
bad argument #1 (settings): table expected, got string
server.on: unknown event "bogus"
server.on: event "packet" does not fire on tcp servers
bad argument #2 (handler): function expected, got string
bad argument #1 (fd): number expected, got string
method called without its object: use obj:method(...)
done
`,
		wantJS: `position true
TypeError: argument 1 (ms) must be a number, got string
TypeError: argument 2 (fn) must be a function, got string
TypeError: imscript.tick: ms must be positive
TypeError: argument 2 (label) must be a string, got object
TypeError: argument 3 (loud) must be a boolean, got string
TypeError: imscript.server: unknown setting "bogus"
TypeError: imscript.server: setting port: want a number, got string
TypeError: imscript.server: setting type: "smtp" is not a server type (tcp, udp, http, websocket)
TypeError: argument 1 (settings) must be an object, got string
TypeError: server.on: unknown event "bogus"
TypeError: server.on: event "packet" does not fire on tcp servers
TypeError: argument 2 (handler) must be a function, got string
TypeError: argument 1 (fd) must be a number, got string
TypeError: method called without its object: use obj.method(...)
done
`,
	},
	{
		name: "routine failures return false",
		lua: `local srv = imscript.server{ host = "127.0.0.1", port = 0 }
say(srv:send(9999, "x"))
say(srv:close(9999))
say(srv:exist(9999))
say(show(srv:info(9999)))
say(srv:sendto("127.0.0.1", 9, "x"))
say(probe.fail())
say(imscript.clear(123456789))
say("done")`,
		js: `const srv = imscript.server({ host: "127.0.0.1", port: 0 });
say(srv.send(9999, "x"));
say(srv.close(9999));
say(srv.exist(9999));
say(show(srv.info(9999)));
say(srv.sendto("127.0.0.1", 9, "x"));
say(probe.fail());
say(imscript.clear(123456789));
say("done");`,
		wantLua: `false no such connection
false no such connection
false
nil
false not a listening udp server
false it did not work
false
done
`,
		wantJS: `false
false
false
nil
false
false
false
done
`,
	},
	{
		name: "Go functions return values",
		lua: `say(probe.multi())
local a, b = probe.multi()
say(a, b)
say(probe.typed(3, "x"), probe.typed(3.9, 7, true))
say("done")`,
		js: `say(probe.multi());
say(probe.typed(3, "x"), probe.typed(3.9, 7, true));
say("done");`,
		wantLua: "1 two\n1 two\n3 x false 3 7 true\ndone\n",
		wantJS:  "1\n3 x false 3 7 true\ndone\n",
	},
	{
		name: "host objects",
		lua: `local srv = imscript.server{ host = "127.0.0.1", port = 0 }
say(tostring(srv), srv.type, srv.host, srv.port, srv.nope == nil)
srv:on("workerStart", function(s, id) say("workerStart", s == srv, id) end)
srv:on("start", function(s) say("start", s == srv, s.port > 0, type(s.port)); say("done") end)
srv:on("shutdown", function(s) say("shutdown", s == srv) end)
srv:on("workerStop", function(s, id) say("workerStop", s == srv, id) end)`,
		js: `const srv = imscript.server({ host: "127.0.0.1", port: 0 });
say(String(srv), srv.type, srv.host, srv.port, srv.nope === undefined);
srv.on("workerStart", (s, id) => say("workerStart", s === srv, id));
srv.on("start", (s) => { say("start", s === srv, s.port > 0, typeof s.port); say("done"); });
srv.on("shutdown", (s) => say("shutdown", s === srv));
srv.on("workerStop", (s, id) => say("workerStop", s === srv, id));`,
		wantLua: `server tcp 127.0.0.1 0 true
workerStart true 0
start true true number
done
shutdown true
workerStop true 0
`,
		wantJS: `[object server] tcp 127.0.0.1 0 true
workerStart true 0
start true true number
done
shutdown true
workerStop true 0
`,
	},
	{
		name: "imscript.json encode and decode",
		lua: `local json = require("json")
say(imscript.json == json)
say(json.encode({ name = "ann", tags = { "a", "b" }, n = 1.5, ok = true }))
say(json.encode("tab\t<&>"), json.encode(3), json.encode(true))
local v = json.decode('{"list":[1,"two",true],"map":{"k":"v"},"n":2.5}')
say(show(v.list), show(v.map), v.n)
say(show(json.decode("null")), json.decode("[1,2,3]")[3])
say("bad json", (json.decode("{bad")))
say("trailing", (json.decode("1 2")))
local ok, err = pcall(json.encode, { f = print })
say("encode function", ok, (tostring(err):find("cannot encode a function", 1, true)) ~= nil)
say("done")`,
		js: `const json = require("json");
say(imscript.json === json);
say(json.encode({ name: "ann", tags: ["a", "b"], n: 1.5, ok: true }));
say(json.encode("tab\t<&>"), json.encode(3), json.encode(true));
const v = json.decode('{"list":[1,"two",true],"map":{"k":"v"},"n":2.5}');
say(show(v.list), show(v.map), v.n);
say(show(json.decode("null")), json.decode("[1,2,3]")[2]);
say("bad json", json.decode("{bad"));
say("trailing", json.decode("1 2"));
let ok = true, msg = "";
try { json.encode({ f: console.log }); } catch (e) { ok = false; msg = e.message; }
say("encode function", ok, msg.includes("cannot encode a function"));
say("done");`,
		want: `true
{"n":1.5,"name":"ann","ok":true,"tags":["a","b"]}
"tab\t<&>" 3 true
[1,"two",true] {k="v"} 2.5
nil 3
bad json false
trailing false
encode function false true
done
`,
	},
	{
		name: "imscript.env and imscript.args",
		env:  map[string]string{"GREETING": "hi", "EMPTY": ""},
		args: []string{"one", "two words"},
		lua: `say(imscript.env.GREETING, "[" .. imscript.env.EMPTY .. "]", show(imscript.env.MISSING))
say(#imscript.args, imscript.args[1], imscript.args[2])
say(imscript.worker_id, type(imscript.version))
say("done")`,
		js: `say(imscript.env.GREETING, "[" + imscript.env.EMPTY + "]", show(imscript.env.MISSING));
say(imscript.args.length, imscript.args[0], imscript.args[1]);
say(imscript.worker_id, typeof imscript.version);
say("done");`,
		want: "hi [] nil\n2 one two words\n0 string\ndone\n",
	},
	{
		name: "timers: imscript.tick, after, clear",
		lua: `local n = 0
local tid
tid = imscript.tick(2, function(id)
  n = n + 1
  if n < 3 then return end
  say("tick", n, id == tid, imscript.clear(id), imscript.clear(id))
  local never = imscript.after(1, function() say("never") end)
  say("cleared after", imscript.clear(never))
  imscript.after(5, function(id2)
    say("after", n, type(id2))
    say("done")
  end)
end)
say("tick id", type(tid))`,
		js: `let n = 0;
const tid = imscript.tick(2, (id) => {
  n++;
  if (n < 3) return;
  say("tick", n, id === tid, imscript.clear(id), imscript.clear(id));
  const never = imscript.after(1, () => say("never"));
  say("cleared after", imscript.clear(never));
  imscript.after(5, (id2) => {
    say("after", n, typeof id2);
    say("done");
  });
});
say("tick id", typeof tid);`,
		want: `tick id number
tick 3 true true false
cleared after true
after 3 number
done
`,
	},
	{
		// Swoole and Node run timers in the order they fall due, and timers
		// due at the same time in the order they were made.
		name: "timers: run in the order they fall due",
		lua: `local order = {}
imscript.after(15, function() say("fifteen") end)
for i = 1, 200 do
  imscript.after(1, function()
    order[#order + 1] = i
    if #order < 200 then return end
    local off = 0
    for j = 1, 200 do if order[j] ~= j then off = off + 1 end end
    say("200 timers, out of place:", off)
  end)
end
imscript.after(30, function() say("done") end)`,
		js: `const order = [];
imscript.after(15, () => say("fifteen"));
for (let i = 1; i <= 200; i++) {
  setTimeout(() => {
    order.push(i);
    if (order.length < 200) return;
    let off = 0;
    for (let j = 1; j <= 200; j++) if (order[j - 1] !== j) off++;
    say("200 timers, out of place:", off);
  }, 1);
}
setTimeout(() => say("done"), 30);`,
		want: `200 timers, out of place: 0
fifteen
done
`,
	},
	{
		name: "timers: setTimeout and setInterval (Lua: tick and after)",
		lua: `local k = 0
local iv
iv = imscript.tick(2, function()
  local a, b = "p", "q"
  k = k + 1
  if k < 2 then return end
  imscript.clear(iv)
  say("interval", a .. b, k)
  local t = imscript.after(1, function() say("never") end)
  imscript.clear(t)
  imscript.after(5, function()
    local x = "arg"
    say("timeout", x, k)
    say("done")
  end)
end)`,
		js: `let k = 0;
const iv = setInterval((a, b) => {
  k++;
  if (k < 2) return;
  clearInterval(iv);
  say("interval", a + b, k);
  const t = setTimeout(() => say("never"), 1);
  clearTimeout(t);
  clearTimeout(undefined);
  setTimeout((x) => {
    say("timeout", x, k);
    say("done");
  }, 5, "arg");
}, 2, "p", "q");`,
		want: "interval pq 2\ntimeout arg 2\ndone\n",
	},
	{
		name: "require a file beside the script",
		luaFiles: map[string]string{
			"greet.lua":      "local M = {}\nfunction M.hello(n) return \"hello \" .. n end\nreturn M\n",
			"lib/util.lua":   "local greet = require(\"greet\")\nreturn { name = \"util\", answer = 42, says = greet.hello(\"util\") }\n",
			"pkg/init.lua":   "return \"pkg init\"\n",
			"lib/broken.lua": "return {\n",
		},
		jsFiles: map[string]string{
			"greet.js":      "exports.hello = (n) => \"hello \" + n;\n",
			"lib/util.js":   "const greet = require(\"../greet\");\nmodule.exports = { name: \"util\", answer: 42, says: greet.hello(\"util\") };\n",
			"pkg/index.js":  "module.exports = \"pkg init\";\n",
			"lib/broken.js": "module.exports = {\n",
		},
		lua: `local greet = require("greet")
say(greet.hello("world"))
local util = require("lib.util")
say(util.name, util.answer, util.says)
say(require("pkg"))
say("cached", require("greet") == greet)
say("imscript", require("imscript") == imscript)
say("module", require("probe") == imscript.probe, require("json") == imscript.json)
say("missing", (pcall(require, "nope")))
local ok, err = pcall(require, "lib.broken")
say("broken", ok, (tostring(err):find("broken.lua", 1, true)) ~= nil)
say("done")`,
		js: `const greet = require("./greet");
say(greet.hello("world"));
const util = require("./lib/util.js");
say(util.name, util.answer, util.says);
say(require("./pkg"));
say("cached", require("./greet.js") === greet);
say("imscript", require("imscript") === imscript);
say("module", require("probe") === imscript.probe, require("json") === imscript.json);
let missing = true;
try { require("./nope"); } catch (e) { missing = false; }
say("missing", missing);
let ok = true, msg = "";
try { require("./lib/broken"); } catch (e) { ok = false; msg = String(e); }
say("broken", ok, msg.includes("broken.js"));
say("done");`,
		want: `hello world
util 42 hello util
pkg init
cached true
imscript true
module true true
missing false
broken false true
done
`,
	},
	{
		name: "network bytes: a binary echo and text replies over TCP",
		lua: `local srv = imscript.server{ host = "127.0.0.1", port = 0,
  open_length_check = true, package_length_type = "N", package_body_offset = 4 }
srv:on("receive", function(srv, fd, pkg)
  local body = pkg:sub(5)
  if body == "bye" then
    say("text", "Server: " .. body)
    srv:send(fd, "Server: " .. body)
    say("done")
    return
  end
  say("got", #pkg, probe.is256(body))
  srv:send(fd, pkg)
end)`,
		js: `const srv = imscript.server({ host: "127.0.0.1", port: 0,
  open_length_check: true, package_length_type: "N", package_body_offset: 4 });
srv.on("receive", (srv, fd, pkg) => {
  const body = pkg.slice(4);
  if (body.toString() === "bye") {
    say("text", "Server: " + body);
    srv.send(fd, "Server: " + body);
    say("done");
    return;
  }
  say("got", pkg.length, probe.is256(body));
  srv.send(fd, pkg);
});`,
		client: binaryEchoClient,
		want:   "got 260 true\ntext Server: bye\ndone\n",
	},
	{
		name: "a handler error is logged with file:line and the host goes on",
		lua: `imscript.after(1, function()
  imscript.after(1, function() say("alive"); say("done") end)
  error("boom")
end)`,
		js: `imscript.after(1, () => {
  imscript.after(1, () => { say("alive"); say("done"); });
  throw new Error("boom");
});`,
		want:    "alive\ndone\n",
		wantLog: []string{"handler error", "boom", "handler=timer"},
		errLine: "boom",
	},
	{
		name: "the watchdog interrupts an infinite loop",
		lua: `imscript.server{ host = "127.0.0.1", port = 0, max_exec_ms = 50 }
local spins = 0
local function spin()
  spins = spins + 1
  imscript.after(1, function()
    say("alive", spins)
    if spins < 2 then spin() else say("done") end
  end)
  while true do end
end
imscript.after(1, spin)`,
		js: `imscript.server({ host: "127.0.0.1", port: 0, max_exec_ms: 50 });
let spins = 0;
function spin() {
  spins++;
  imscript.after(1, () => {
    say("alive", spins);
    if (spins < 2) spin(); else say("done");
  });
  for (;;) {}
}
imscript.after(1, spin);`,
		want:    "alive 1\nalive 2\ndone\n",
		wantLog: []string{"handler interrupted", "max_exec_ms=50"},
	},
	{
		name: "the watchdog cannot be caught",
		lua: `imscript.server{ host = "127.0.0.1", port = 0, max_exec_ms = 50 }
imscript.after(1, function()
  imscript.after(1, function() say("alive"); say("done") end)
  while true do pcall(function() while true do end end) end
end)`,
		js: `imscript.server({ host: "127.0.0.1", port: 0, max_exec_ms: 50 });
imscript.after(1, () => {
  imscript.after(1, () => { say("alive"); say("done"); });
  for (;;) { try { for (;;) {} } catch (e) {} }
});`,
		want:    "alive\ndone\n",
		wantLog: []string{"handler interrupted"},
	},
	{
		name: "a fault in a Go function is a script error, not a crash",
		lua: `local ok, err = pcall(probe.gopanic)
say("caught", ok, (tostring(err):find("assignment to entry in nil map", 1, true)) ~= nil)
imscript.after(1, function()
  imscript.after(1, function() say("alive"); say("done") end)
  probe.gopanic() -- uncaught
end)`,
		js: `try { probe.gopanic(); } catch (e) { say("caught", false, String(e).includes("assignment to entry in nil map")); }
imscript.after(1, () => {
  imscript.after(1, () => { say("alive"); say("done"); });
  probe.gopanic(); // uncaught
});`,
		want:    "caught false true\nalive\ndone\n",
		wantLog: []string{"handler error", "assignment to entry in nil map"},
		errLine: "uncaught",
	},
	{
		name: "a syntax error fails the load with file:line",
		lua: `say("never")
local x = = 1 -- marker`,
		js: `say("never");
let x = = 1; // marker`,
		errLine:    "marker",
		wantRunErr: []string{"syntax error"},
	},
	{
		name: "an error while loading fails the load with file:line",
		lua: `say("loading")
error("load failed here")`,
		js: `say("loading");
throw new Error("load failed here");`,
		want:       "loading\n",
		errLine:    "load failed here",
		wantRunErr: []string{"load failed here"},
	},
	{
		name: "tables: typed rows, incr/decr, iteration, errors",
		lua: `local function fails(f, ...)
  local ok, err = pcall(f, ...)
  say(ok, (tostring(err):gsub("^.-:%d+: ", "")))
end
local t = imscript.table("users", { size = 2, max_size = 3, columns = { fd = "int", name = { "string", 5 }, score = "float" } })
say(t:set("ann", { fd = 7, name = "Ann" }), show(t:get("ann")), t:get("ann", "name"), show(t:get("bob")), show(t:get("bob", "fd")))
say(t:incr("ann", "fd"), t:incr("ann", "score", 2.5), t:decr("ann", "fd", 3), t:incr("bob", "fd", 2))
say(t:count(), t:exists("bob"), t:del("bob"), t:exists("bob"), t:count())
t:set("cy", { score = 1 })
say(t:set("dee", { fd = 1 }), t:incr("eve", "fd"), t:count())
local rows = {}
for k, row in t:pairs() do rows[#rows + 1] = k .. "=" .. show(row) end
table.sort(rows)
say(table.concat(rows, " "))
fails(t.set, t, "ann", { name = "toolong" })
fails(t.incr, t, "ann", "name")
fails(imscript.table, "users", { columns = { fd = "int" } })
say(imscript.table("users") == t, show(imscript.table("users"):get("cy")))
say("done")`,
		js: `function fails(f) {
  try { f(); say(true); } catch (e) { say(false, e.message); }
}
const t = imscript.table("users", { size: 2, max_size: 3, columns: { fd: "int", name: ["string", 5], score: "float" } });
say(t.set("ann", { fd: 7, name: "Ann" }), show(t.get("ann")), t.get("ann", "name"), show(t.get("bob")), show(t.get("bob", "fd")));
say(t.incr("ann", "fd"), t.incr("ann", "score", 2.5), t.decr("ann", "fd", 3), t.incr("bob", "fd", 2));
say(t.count(), t.exists("bob"), t.del("bob"), t.exists("bob"), t.count());
t.set("cy", { score: 1 });
say(t.set("dee", { fd: 1 }), t.incr("eve", "fd"), t.count());
const rows = [];
for (const [k, row] of t) rows.push(k + "=" + show(row));
rows.sort();
say(rows.join(" "));
fails(() => t.set("ann", { name: "toolong" }));
fails(() => t.incr("ann", "name"));
fails(() => imscript.table("users", { columns: { fd: "int" } }));
say(imscript.table("users") === t, show(imscript.table("users").get("cy")));
say("done");`,
		want: `true {fd=7,name="Ann",score=0} Ann nil nil
8 2.5 5 2
2 true true false 1
true false 3
ann={fd=5,name="Ann",score=2.5} cy={fd=0,name="",score=1} dee={fd=1,name="",score=0}
false table users: column name holds at most 5 bytes, got 7
false table users: incr needs an int or float column; name is a string column
false imscript.table users: already declared with other columns: { fd=int, name=string(5), score=float }, not { fd=int }
true {fd=0,name="",score=1}
done
`,
		wantLog: []string{"table full", "table=users", "max_size=3"},
	},
	{
		name: "atomics: add, sub, get, set, cmpset; a redeclaration keeps the value",
		lua: `local a = imscript.atomic("hits", 10)
say(a:add(), a:add(5), a:sub(), a:sub(20), a:get())
say(a:cmpset(-5, 100), a:cmpset(-5, 1), a:get())
a:set(42)
say(imscript.atomic("hits", 0):get(), imscript.atomic("misses"):get())
local ok, err = pcall(a.add, a, 0.5)
say(ok, (tostring(err):gsub("^.-:%d+: ", "")))
say("done")`,
		js: `const a = imscript.atomic("hits", 10);
say(a.add(), a.add(5), a.sub(), a.sub(20), a.get());
say(a.cmpset(-5, 100), a.cmpset(-5, 1), a.get());
a.set(42);
say(imscript.atomic("hits", 0).get(), imscript.atomic("misses").get());
try { a.add(0.5); } catch (e) { say(false, e.message); }
say("done");`,
		want: "11 16 15 -5 -5\ntrue false 100\n42 0\nfalse argument 1 (by) must be a whole number, got 0.5\ndone\n",
	},
}
