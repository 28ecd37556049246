package js_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/imscript/imscript/bindings/js"
	"github.com/imscript/imscript/internal/testutil"
)

func TestCompileErrorsCarryFileLineAndColumn(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"ok.js":  "const x = 1;\n",
		"bad.js": "const a = 1;\nconst b = = 2;\n",
		"eof.js": "function f() {\n  return 1;\n",
		"one.js": "const = 1;\n",
		"top.js": "return 1;\n",
	})
	lang := js.New()
	if lang.Name() != "js" || strings.Join(lang.Extensions(), ",") != ".js,.mjs,.cjs" {
		t.Errorf("name %q extensions %v", lang.Name(), lang.Extensions())
	}
	for _, name := range []string{"ok.js", "top.js"} { // a top-level return, as Node allows
		if p, err := lang.Compile(filepath.Join(dir, name)); err != nil || p.Path() != filepath.Join(dir, name) {
			t.Fatalf("Compile(%s) = %v, %v", name, p, err)
		}
	}
	for name, want := range map[string]string{
		"bad.js":     "bad.js:2:11: syntax error",
		"eof.js":     "eof.js:3:1: syntax error",
		"one.js":     "one.js:1:7: syntax error",
		"missing.js": "read script",
	} {
		_, err := lang.Compile(filepath.Join(dir, name))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Compile(%s) = %v, want %q", name, err, want)
		}
	}
}

func TestBuffers(t *testing.T) {
	src := `
const t = imscript.t;
const b = t.give("bytes");
console.log(b instanceof Buffer, b instanceof Uint8Array, b.length, b[0], b.toString(), "" + b, "x" + b);
const s = b.slice(1);
console.log(s instanceof Buffer, s.toString(), s.length, b.slice(0, 2).toString(), b.subarray(2).toString());
s[0] = 0x5a; // slice is a view, as in Node
console.log(b.toString());
console.log(t.describe(b), t.describe(new Uint8Array([1, 2])), t.describe(new Uint8Array([3, 4]).buffer));
console.log(t.bytes(b), t.bytes("é"), t.bytes(Buffer.from([0, 255])), t.bytes(7));
// What Go keeps is a copy: later changes to the Buffer do not reach it.
const k = Buffer.from("keep");
t.keep(k);
k[0] = 0x4e;
console.log(t.kept(), k.toString());
console.log(Buffer.concat([b, Buffer.from("!")]).toString(), b.equals(Buffer.from("aZc")), b.indexOf(0x63));
console.log(b.toString("hex"), b.toString("base64"), Buffer.from("YWJj", "base64").toString());
`
	out, _ := run(t, 1, src, "", nil)
	want := `true true 3 97 abc abc xabc
true bc 2 ab c
aZc
bytes"aZc" bytes"\x01\x02" bytes"\x03\x04"
"aZc" "é" "\x00\xff" "7"
bytes"keep" Neep
aZc! true 2
615a63 YVpj abc
`
	if out != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}
}

func TestValuesBothWays(t *testing.T) {
	src := `
const t = imscript.t;
console.log(t.give("int") + 1, t.give("big"), Number.isInteger(t.give("big")), t.give("half"));
const f = t.give("gofunc");
console.log(typeof f, f("x"));
try { t.give("struct"); } catch (e) { console.log(e instanceof TypeError, e.message); }
console.log(t.none(), t.fail(), t.nargs(), t.nargs(undefined, null), t.nargs(1, 2, 3));
console.log(t.opt(), t.opt(null, undefined), t.opt(1, 2.5, false, "s", {}));
console.log(t.int(3.9), t.int(-3.9), t.str(42), t.str(Buffer.from("buf")));
for (const bad of [() => t.int("3"), () => t.int(null), () => t.str(true), () => t.str({}), () => t.table("x")]) {
  try { bad(); console.log("no error"); } catch (e) { console.log(e.name + ": " + e.message); }
}
console.log(t.table({ a: 1, b: [1, { c: null }], d: undefined }));
console.log(t.describe([1, "two", [true]]), t.describe({}), t.describe([]), t.describe(0.25), t.describe(-0), t.describe(2 ** 60));
const cyc = {}; cyc.self = cyc;
try { t.describe(cyc); } catch (e) { console.log(e.name + ": " + e.message); }
console.log(t.apply((x) => ({ got: x, list: [x, x] }), 4));
console.log(t.apply(() => undefined), t.apply(() => null));
console.log(t.apply(() => { throw new Error("in callback"); }).split("\n")[0]);
`
	out, _ := run(t, 1, src, "", nil)
	want := `8 9007199254740992 true 2.5
function from go x
true cannot pass a Go struct {} to JavaScript
undefined false 0 2 3
[5,1.5,true,"def",true] [5,1.5,true,"def",true] [1,2.5,false,"s",false]
3 -3 42 buf
TypeError: argument 1 (n) must be a number, got string
TypeError: argument 1 (n) must be a number, got null
TypeError: argument 1 (s) must be a string, got boolean
TypeError: argument 1 (s) must be a string, got object
TypeError: argument 1 (opts) must be an object, got string
{a=1,b=[1,{c=nil}],d=nil}
[1,"two",[true]] {} [] 0.25 -0 1152921504606847000
TypeError: object nested deeper than 100 levels (a cycle?)
{got=4,list=[4,4]}
nil nil
error: Error: in callback
`
	if out != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}
}

func TestHostObjectsAndMethods(t *testing.T) {
	src := `"use strict";
const srv = imscript.server({ host: "127.0.0.1", port: 0 });
console.log(String(srv), srv.host, srv.type, srv.port, srv.missing, typeof srv.on);
try { srv.port = 5; } catch (e) { console.log(e.name); }
const other = {};
try { srv.send.call(other, 1, "x"); } catch (e) { console.log(e.name + ": " + e.message); }
console.log(Object.getPrototypeOf(srv) === Object.getPrototypeOf(imscript.t.apply((s) => s, srv) && srv));
srv.on("start", (s) => { console.log("start", s === srv, s.port > 0); console.log("done"); });
`
	out, _ := run(t, 1, src, "done", nil)
	want := `[object server] 127.0.0.1 tcp 0 undefined function
TypeError
TypeError: method called without its object: use obj.method(...)
true
start true true
done
`
	if out != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}
}

func TestRequire(t *testing.T) {
	files := map[string]string{
		"lib/a.js":     `exports.name = "a"; exports.b = require("./b");`,
		"lib/b.js":     `console.log("loading b on " + imscript.worker_id); module.exports = { name: "b" };`,
		"data.json":    `{"answer": 42}`,
		"throws.js":    "const x = 1;\nthrow new Error(\"module failed\");\n",
		"broken.js":    "module.exports = {\n",
		"uses_core.js": `module.exports = require("imscript") === imscript;`,
	}
	src := `
const a = require("./lib/a");
console.log(a.name, a.b.name, a.b === require("./lib/b.js"), require("./data.json").answer);
for (const name of ["./throws", "./broken", "./nowhere"]) {
  try { require(name); console.log("loaded"); } catch (e) { console.log(name, String(e).split("\n")[0]); }
}
console.log(require("./uses_core"), require("json") === imscript.json, require("t") === require("t"));
setTimeout(() => console.log("done " + imscript.worker_id), 1);
`
	out, _ := run(t, 2, src, "done 1", files)
	testutil.WantAll(t, "stdout", out,
		"loading b on 0\n", "loading b on 1\n",
		"a b true 42\n",
		"./throws Error: module failed\n",
		"./broken ",
		"./nowhere ",
		"true true true\n",
	)
	if strings.Contains(out, "loaded") {
		t.Errorf("a bad module loaded:\n%s", out)
	}
}

func TestTimers(t *testing.T) {
	src := `
for (const bad of [() => setTimeout("code", 1), () => setInterval(null, 1)]) {
  try { bad(); } catch (e) { console.log(e.name + ": " + e.message); }
}
clearTimeout(); clearInterval(null); clearTimeout(987654321);
const order = [];
setTimeout(() => order.push("zero"), 0);
setTimeout(() => order.push("nan"), NaN);
setTimeout((a, b, c) => {
  order.push(a + b + c);
  let n = 0;
  const iv = setInterval((x) => {
    n++;
    if (n === 3) { clearInterval(iv); console.log(order.sort().join(","), x, n); console.log("done"); }
  }, 1, "tick");
}, 20, "a", "b", "c");
`
	out, _ := run(t, 1, src, "done", nil)
	want := `TypeError: the callback must be a function
TypeError: the callback must be a function
abc,nan,zero tick 3
done
`
	if out != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}
}

func TestErrorsCarryTheJSStack(t *testing.T) {
	src := `
function inner() {
  throw new Error("deep trouble");
}
function outer() { inner(); }
imscript.after(1, () => outer());
imscript.after(2, () => { throw "a string"; });
imscript.after(3, () => { undefinedName.x = 1; });
imscript.after(4, () => console.log("done"));
`
	_, logs := run(t, 1, src, "done", nil)
	testutil.WantAll(t, "log", logs, "Error: deep trouble", "main.js:3:", "main.js:5:", "a string", "ReferenceError: undefinedName is not defined", "main.js:8:", "handler=timer")
	if n := strings.Count(logs, "handler error"); n != 3 {
		t.Errorf("%d handler errors, want 3:\n%s", n, logs)
	}
}

// TestMicrotasksAndImmediates checks Node's order: the current callback,
// then its promise jobs and queueMicrotask callbacks, then setImmediate
// callbacks, then timers of 1 ms or more; and that bad callbacks are
// refused by name.
func TestMicrotasksAndImmediates(t *testing.T) {
	src := `
for (const bad of [() => setImmediate("code"), () => queueMicrotask(1)]) {
  try { bad(); } catch (e) { console.log(e.name + ": " + e.message); }
}
setTimeout(() => {
  setTimeout(() => { console.log("timeout"); console.log("done"); }, 1);
  setImmediate((a, b) => console.log("immediate", a, b), "x", "y");
  const never = setImmediate(() => console.log("never"));
  clearImmediate(never);
  Promise.resolve().then(() => console.log("then"));
  queueMicrotask(() => console.log("microtask"));
  console.log("sync");
}, 1);
`
	out, logs := run(t, 1, src, "done", nil)
	want := `TypeError: the callback must be a function
TypeError: queueMicrotask: the callback must be a function
sync
then
microtask
immediate x y
timeout
done
`
	if out != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}
	if strings.Contains(logs, "handler error") {
		t.Errorf("unexpected handler error:\n%s", logs)
	}
}

// TestUnhandledRejectionsAreReported checks that a promise rejected with
// no handler once a callback and its promise jobs are done is reported as
// that callback's error, with the JS stack (as Node's unhandledRejection),
// and that one handled later in the same turn is not.
func TestUnhandledRejectionsAreReported(t *testing.T) {
	src := `
imscript.after(1, async () => {
  throw new Error("async trouble");
});
imscript.after(2, () => {
  Promise.reject(new Error("nobody listens"));
});
imscript.after(3, () => {
  const p = Promise.reject(new Error("caught later"));
  Promise.resolve().then(() => p.catch((e) => console.log("caught:", e.message)));
});
imscript.after(4, () => {
  queueMicrotask(() => { throw new TypeError("in a microtask"); });
});
imscript.after(5, () => Promise.reject("a plain value"));
imscript.after(20, () => console.log("done"));
`
	out, logs := run(t, 1, src, "done", nil)
	if out != "caught: caught later\ndone\n" {
		t.Errorf("stdout:\n%s", out)
	}
	testutil.WantAll(t, "log", logs,
		"unhandled promise rejection: Error: async trouble", "main.js:3:",
		"unhandled promise rejection: Error: nobody listens", "main.js:6:",
		"unhandled promise rejection: TypeError: in a microtask", "main.js:13:",
		"unhandled promise rejection: a plain value",
		"handler=timer",
	)
	if strings.Contains(logs, "caught later") {
		t.Errorf("a rejection handled in the same turn was reported:\n%s", logs)
	}
	if n := strings.Count(logs, "unhandled promise rejection"); n != 4 {
		t.Errorf("%d unhandled rejections reported, want 4:\n%s", n, logs)
	}
}

// TestNodeGlobals checks the parts of Node's process global a handler
// uses, and URL / URLSearchParams.
func TestNodeGlobals(t *testing.T) {
	src := `
console.log(process.env === imscript.env, process.argv[0], process.argv[1] === imscript.script,
  process.argv.length - 2 === imscript.args.length, process.pid > 0, process.platform, typeof process.exit);
try { process.nextTick(5); } catch (e) { console.log(e.name + ": " + e.message); }
setImmediate(() => console.log("immediate"));
Promise.resolve().then(() => console.log("then"));
process.nextTick((a, b) => console.log("tick", a, b), 1, 2);
const u = new URL("https://user@example.com:8443/a/b?x=1&y=two#frag");
console.log(u.hostname, u.port, u.pathname, u.searchParams.get("y"), u.hash);
const q = new URLSearchParams("a=1&b=%20sp");
q.append("c", "&");
console.log(q.get("b") === " sp", q.toString());
setTimeout(() => console.log("done"), 5);
`
	out, _ := run(t, 1, src, "done", nil)
	want := `true imscript true true true linux undefined
TypeError: process.nextTick: the callback must be a function
example.com 8443 /a/b two #frag
true a=1&b=+sp&c=%26
then
tick 1 2
immediate
done
`
	if out != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}
}

// TestInt64BeyondNumbers: 64-bit integers a JS number cannot hold exactly
// cross as BigInts, both ways; smaller ones stay numbers.
func TestInt64BeyondNumbers(t *testing.T) {
	src := `
const big = imscript.t.give("int64"), low = imscript.t.give("int64min");
console.log(typeof big, String(big), String(low), typeof imscript.t.give("int"));
console.log(imscript.t.describe(9007199254740993n), imscript.t.describe(2n ** 70n), imscript.t.describe(12n));
console.log("done");
`
	out, _ := run(t, 1, src, "done", nil)
	want := "bigint 9007199254740993 -9223372036854775808 number\n9007199254740993 \"1180591620717411303424\" 12\ndone\n"
	if out != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", out, want)
	}
}
