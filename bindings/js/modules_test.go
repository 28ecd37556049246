package js_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/imscript/imscript/bindings/js"
	"github.com/imscript/imscript/script"
	"github.com/imscript/imscript/script/scripttest"
)

// pkgFiles are a sibling module, a CommonJS one, JSON, and npm-style
// packages in node_modules: one by "main", one by "exports" (conditions,
// a subpath, a pattern), one ES module package ("type": "module").
var pkgFiles = map[string]string{
	"lib/math.mjs": `export const add = (a, b) => a + b;
export default function twice(x) { return 2 * x; }
export let count = 0;
export function bump() { count++; }
`,
	"lib/re.js":                         "export * from './math.mjs';\nexport { default as twice2 } from './math.mjs';\n",
	"lib/old.js":                        "module.exports = { kind: 'cjs', dir: __dirname.split('/').pop() };\n",
	"lib/dyn.cjs":                       "module.exports = () => import('./math.mjs');\nif (true) return;\nmodule.exports = null;\n",
	"data.json":                         `{"answer": 42}`,
	"node_modules/mainpkg/package.json": `{"name": "mainpkg", "main": "./lib/entry.js"}`,
	"node_modules/mainpkg/lib/entry.js": `const EventEmitter = require("events");
module.exports = { name: "mainpkg", ee: typeof EventEmitter, node: require("node:events") === EventEmitter };
`,
	"node_modules/exppkg/package.json": `{"name": "exppkg", "exports": {
  ".": { "import": "./esm/index.mjs", "require": "./cjs/index.js" },
  "./util": "./util.js",
  "./feat/*": "./features/*.js",
  "./package.json": "./package.json"
}}`,
	"node_modules/orderpkg/package.json":     `{"exports": {"default": "./d.js", "node": "./n.js"}}`,
	"node_modules/orderpkg/d.js":             "exports.which = 'default';\n",
	"node_modules/orderpkg/n.js":             "exports.which = 'node';\n",
	"node_modules/exppkg/esm/index.mjs":      "export const how = 'import';\n",
	"node_modules/exppkg/cjs/index.js":       "exports.how = 'require';\n",
	"node_modules/exppkg/util.js":            "exports.util = true;\n",
	"node_modules/exppkg/features/one.js":    "exports.feature = 'one';\n",
	"node_modules/exppkg/secret.js":          "exports.secret = true;\n",
	"node_modules/@scope/typed/package.json": `{"name": "@scope/typed", "type": "module", "main": "index.js"}`,
	"node_modules/@scope/typed/index.js":     "import { add } from './dep.js';\nexport const seven = add(3, 4);\nexport const meta = import.meta.url.endsWith('/@scope/typed/index.js');\n",
	"node_modules/@scope/typed/dep.js":       "export { add } from '../../../lib/math.mjs';\n",
}

// TestESModules: an ES module main script imports a sibling module (live
// bindings, default and named, re-exports), CommonJS, JSON, a package by
// "main", one by "exports" (the "import" condition, a subpath, a pattern,
// a subpath it does not export), an ES module package, Node's modules by
// their node: names, and the imscript modules; on two workers.
func TestESModules(t *testing.T) {
	src := `import twice, { add, count, bump } from "./lib/math.mjs";
import * as re from "./lib/re.js";
import old from "./lib/old.js";
import data from "./data.json";
import mainpkg from "mainpkg";
import { how } from "exppkg";
import { util } from "exppkg/util";
import { feature } from "exppkg/feat/one";
import { seven, meta } from "@scope/typed";
import { createHash } from "node:crypto";
import crypto from "crypto";
import { EventEmitter } from "node:events";
import imscript2, { json } from "imscript";
import t from "t";

console.log(twice(4), add(1, 2), re.add(2, 2), re.twice2(5), count);
bump();
console.log("live", count, re.count);
console.log(old.kind, old.dir, data.answer, JSON.stringify(mainpkg));
console.log(how, util, feature, seven, meta);
console.log(createHash("sha256").update("a").digest("hex").slice(0, 8), crypto.createHash === createHash, typeof EventEmitter);
console.log(imscript2 === imscript, json === imscript.json, typeof t.describe, typeof import.meta.url, import.meta.main);
try { require("exppkg/secret.js"); } catch (e) { console.log(e.code); }
try { require("nope"); } catch (e) { console.log(e.code, e.message.split(" imported")[0]); }
try { require("node:nope"); } catch (e) { console.log(e.code); }
try { require("os"); } catch (e) { console.log(e.code, e.message.startsWith("No such built-in module: os: imscript's JavaScript is not Node")); }
try { require("node:fs"); } catch (e) { console.log(e.code, require("fs") === imscript.fs); }
console.log(require("node:console") === console, require("timers").setTimeout === setTimeout);
const dyn = await0();
function await0() { return import("./lib/math.mjs"); }
dyn.then((m) => console.log("dynamic", m.add(20, 1), m.default(2)));
`
	// As main.mjs, and as a main.js that uses import (as Node, a .js with
	// module syntax and no "type" is a module).
	for _, name := range []string{"main.mjs", "main.js"} {
		t.Run(name, func(t *testing.T) { testESModules(t, name, src) })
	}
}

func testESModules(t *testing.T, name, src string) {
	out, logs := runNamed(t, 2, name, src, "", pkgFiles)
	want := `8 3 4 10 0
live 1 1
cjs lib 42 {"name":"mainpkg","ee":"function","node":true}
import true one 7 true
ca978112 true function
true true function string true
ERR_PACKAGE_PATH_NOT_EXPORTED
MODULE_NOT_FOUND Cannot find module 'nope'
ERR_UNKNOWN_BUILTIN_MODULE
ERR_UNKNOWN_BUILTIN_MODULE true
ERR_UNKNOWN_BUILTIN_MODULE true
true true
dynamic 21 4
`
	if !eachWorker(out, want, 2) {
		t.Errorf("got:\n%s\nwant (on each of 2 workers):\n%s\nlogs:\n%s", out, want, logs)
	}
}

// TestCommonJS: a CommonJS main script (with a #! line; as Node wraps
// it: a top-level return ends it, this is module.exports, require is its
// own; with for await over an async generator, which goja lacks and
// esbuild lowers) requires a package by "exports" (the "require"
// condition), an ES module, and Node's modules; a CommonJS file with
// import() and a top-level return.
func TestCommonJS(t *testing.T) {
	src := `#!/usr/bin/env imscript
const exp = require("exppkg");
const math = require("./lib/math.mjs");
console.log(exp.how, math.add(1, 1), math.default(3), require("./lib/old").kind, this === module.exports);
console.log(typeof __filename, __dirname === imscript.script_dir || __dirname.length > 0, require("events") === require("node:events"));
console.log(require("node:process") === process, require("process") === imscript.process, require("process") === require("node:process"));
console.log(require.resolve("exppkg/util").endsWith("/node_modules/exppkg/util.js"), require("orderpkg").which);
const { createRequire, builtinModules, isBuiltin } = require("node:module");
const req2 = createRequire(__dirname + "/lib/x.js");
console.log(req2("./old").kind, isBuiltin("node:events"), isBuiltin("fs"), builtinModules.includes("events"));
const util = require("util");
console.log(util.format("%s=%d %j %%", "a", 5, { x: 1 }), util.isDeepStrictEqual({ a: [1] }, { a: [1] }), util.types.isPromise(Promise.resolve()), Buffer.allocUnsafe(3).length);
async function* countTo(n) { for (let i = 1; i <= n; i++) yield i; }
(async () => { const got = []; for await (const i of countTo(3)) got.push(i); console.log("for await", got.join(",")); })();
const old1 = require("./lib/old");
delete require.cache[require.resolve("./lib/old")];
console.log(require.main === module, require("./lib/old") !== old1, require("./lib/old") === require("./lib/old.js"));
require("./lib/dyn.cjs")().then((m) => console.log("import() from CommonJS", m.add(2, 3)));
if (imscript.worker_id >= 0) {
  console.log("returning");
  return;
}
console.log("not reached");
`
	out, logs := run(t, 2, src, "", pkgFiles)
	want := `require 2 6 cjs true
string true true
true true false
true default
cjs true false true
a=5 {"x":1} % true true 3
true true true
returning
import() from CommonJS 5
for await 1,2,3
`
	if !eachWorker(out, want, 2) {
		t.Errorf("got:\n%s\nwant (on each of 2 workers):\n%s\nlogs:\n%s", out, want, logs)
	}
}

// TestModuleErrors: what goes wrong in a module names the module's own
// file and line: a syntax error (found when the main script compiles or
// when the module is first imported), a throw in an imported ES module
// (its stack, through the source map), a throw after a top-level await
// (in the main script or in a module it imports), a require of a module
// that awaits at its top level and a top-level for await (both refused:
// said so), a top-level return in an ES module (an error there, as in
// Node).
func TestModuleErrors(t *testing.T) {
	files := map[string]string{
		"bad.mjs":         "export const a = 1;\nexport const b = = 2;\n",
		"throws.mjs":      "export const x = 1;\n\nexport function boom() {\n  throw new Error(\"boom\");\n}\n",
		"tla.mjs":         "const x = await Promise.resolve(1);\nexport { x };\n",
		"tla_late.mjs":    "const srv = imscript.server({ port: 0 });\nawait imscript.sleep(0.01);\n\nthrow new Error(\"late\");\n",
		"tla_cjs.js":      "const x = await Promise.resolve(1);\n\nthrow new TypeError(\"cjs \" + x);\n",
		"tla_req.js":      "const m = require('./tla.mjs');\nconsole.log(m.x);\n",
		"tla_dep.mjs":     "import { bad } from './lib/bad.mjs';\nconsole.log(bad);\n",
		"lib/bad.mjs":     "await null;\nthrow new Error(\"bad dep\");\nexport const bad = 1;\n",
		"tla_for.mjs":     "const srv = imscript.server({ port: 0 });\nfor await (const x of [1]) {}\n",
		"ret.mjs":         "import x from './throws.mjs';\nreturn;\n",
		"imports_bad.mjs": "import { a } from './bad.mjs';\nconsole.log(a);\n",
		"bad.json":        "{ nope }",
		"bad_esm.js":      "import { x } from './throws.mjs';\nconst y = = x;\n",
	}
	for name, want := range map[string]string{
		"bad.mjs":         "bad.mjs:2:18: syntax error",
		"tla_late.mjs":    "tla_late.mjs:4:6: Error: late",
		"tla_cjs.js":      "tla_cjs.js:3:6: TypeError: cjs 1",
		"tla_req.js":      "tla.mjs awaits at its top level (or imports a module that does): import it from an ES module, or with import(), rather than require it",
		"tla_dep.mjs":     "bad.mjs:2:6: Error: bad dep",
		"tla_for.mjs":     "tla_for.mjs:2:5: syntax error: a top-level for await is not supported",
		"ret.mjs":         "ret.mjs:2:1: syntax error: Top-level return cannot be used inside an ECMAScript module",
		"imports_bad.mjs": "bad.mjs:2:18: syntax error",
		"bad_esm.js":      "bad_esm.js:2:11: syntax error: Unexpected \"=\"",
	} {
		h := scripttest.New(t, scripttest.Options{Name: name, Src: files[name], Files: files, Languages: []script.Language{js.New()}})
		err := h.TryRun()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", name, err, want)
		}
	}
	src := `import { boom } from "./throws.mjs";
try { boom(); } catch (e) { console.log(e.stack.split("\n").slice(0, 2).map((l) => l.trim().replace(/^.*\//, "")).join(" | ")); }
try { require("./bad.json"); } catch (e) { console.log(e.name, e.message.replace(/^.*\//, "").split(":")[0]); }
`
	out, _ := runNamed(t, 1, "main.mjs", src, "", files)
	if want := "Error: boom | throws.mjs:4:"; !strings.HasPrefix(out, want) || !strings.HasSuffix(out, "\nSyntaxError bad.json\n") {
		t.Errorf("stack: got %q, want %q", out, want)
	}
}

// TestESModuleIdioms: what ES modules written for Node do: their own
// __dirname from import.meta.url, createRequire, path and url helpers;
// a #! first line.
func TestESModuleIdioms(t *testing.T) {
	src := `#!/usr/bin/env -S imscript run
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createRequire } from "node:module";
const __filename = fileURLToPath(import.meta.url);
const __dirname = path.dirname(__filename);
const require = createRequire(import.meta.url);
console.log(__dirname === import.meta.dirname, __filename === import.meta.filename, require("./lib/old.js").kind);
console.log(pathToFileURL("/a b/c").href, path.join("/a/b", "../c", "./d.js"), path.relative("/a/b/c", "/a/d"), path.resolve("x", "../y") === path.join(__dirname, "y"));
console.log(path.basename("/x/y.txt", ".txt"), path.extname("a.tar.gz"), path.normalize("a//b/../c/"), JSON.stringify(path.parse("/home/u/f.txt")));
console.log(path.format({ dir: "/x", name: "f", ext: ".js" }), path.dirname("/a"), path.join(), path.isAbsolute("/q"), path.posix === path);
`
	out, logs := runNamed(t, 2, "main.mjs", src, "", pkgFiles)
	want := `true true cjs
file:///a%20b/c /a/c/d.js ../../d true
y .gz a/c/ {"root":"/","dir":"/home/u","base":"f.txt","ext":".txt","name":"f"}
/x/f.js / . true true
`
	if !eachWorker(out, want, 2) {
		t.Errorf("got:\n%s\nwant (on each of 2 workers):\n%s\nlogs:\n%s", out, want, logs)
	}
}

// TestRunawayModuleInterrupted: a module that never ends its first run,
// required from a request handler inside try/catch, is interrupted by the
// watchdog as the handler itself would be: the catch does not get it, the
// request fails with a 500, the log's stack names the module, and the
// worker goes on (a later request is answered).
func TestRunawayModuleInterrupted(t *testing.T) {
	src := `const srv = imscript.server({ host: "127.0.0.1", port: 0, type: "http", max_exec_ms: 200 });
srv.route("GET", "/spin", (req, res) => {
  try { require("./spin.js"); } catch (e) { res.send("caught " + e); }
});
srv.route("GET", "/ok", (req, res) => res.send("ok"));
`
	h := scripttest.Start(t, scripttest.Options{Lang: "js", Src: src, Workers: 1, Languages: []script.Language{js.New()},
		Files: map[string]string{"spin.js": "for (;;) {}\n"}})
	base := fmt.Sprintf("http://127.0.0.1:%d", h.Port(0))
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/spin"); code != 500 || strings.Contains(body, "caught") {
		t.Errorf("/spin: %d %q, want a 500 (the interrupt not caught)", code, body)
	}
	h.WaitLog("handler interrupted")
	if !strings.Contains(h.Logs(), "spin.js:1:") {
		t.Errorf("the interrupt's stack does not name the module:\n%s", h.Logs())
	}
	if code, body := get("/ok"); code != 200 || body != "ok" {
		t.Errorf("/ok after: %d %q", code, body)
	}
}

// TestTopLevelAwait: an ES module main script awaits at its top level —
// a sleep, with its own timers running meanwhile, and awaits in every
// position of an expression (esbuild does not take them in CommonJS
// output: modules.go hides them from it) — and declares its server
// after; a .js with an await at its top level is a module too, as in
// Node. On two workers.
func TestTopLevelAwait(t *testing.T) {
	src := `import { add } from "./lib/math.mjs";
let ticked = 0;
setTimeout(() => ticked++, 0);
imscript.tick(5, (id) => { ticked++; imscript.clear(id); });
const t0 = Date.now();
await imscript.sleep(0.05);
const a = 2 * await Promise.resolve(3) + 1;
const b = -await Promise.resolve(4) / 2;
const c = ` + "`${await Promise.resolve(\"x\")}-${await Promise.resolve(\"y\")}`" + `;
const { d } = await Promise.resolve({ d: await Promise.resolve(5) });
const e = (await import("./lib/math.mjs")).add(1, await Promise.resolve(1));
const f = await /a/.exec("cat").index;
const g = [await 1, await (2), (await Promise.resolve(3)) ** 2].join("");
export const h = await Promise.resolve("h");
export default await Promise.resolve("dflt");
const srv = imscript.server({ host: "127.0.0.1", port: 0 });
console.log("ready", Date.now() - t0 >= 40, ticked, a, b, c, d, e, f, g, h, add(1, 2));
`
	want := "ready true 2 7 -2 x-y 5 2 1 129 h 3\n"
	out, logs := runNamed(t, 2, "main.mjs", src, "", pkgFiles)
	if !eachWorker(out, want, 2) {
		t.Errorf("got:\n%s\nwant (on each of 2 workers):\n%s\nlogs:\n%s", out, want, logs)
	}
	out, logs = runNamed(t, 2, "main.js", "const x = await Promise.resolve(6);\nconsole.log(\"cjs-looking\", x * await x, typeof require, typeof __filename);\n", "", nil)
	if want := "cjs-looking 36 function undefined\n"; !eachWorker(out, want, 2) {
		t.Errorf("a .js awaiting at its top level: got:\n%s\nwant (on each of 2 workers):\n%s\nlogs:\n%s", out, want, logs)
	}
}

// TestTopLevelAwaitImports: a module that awaits at its top level holds up
// the modules that import it, as in Node: one that imports it (and does not
// await itself) runs once it has ended, as does the main script; import()
// of one resolves once it has run; a cycle through one does not wait for
// itself; CommonJS code beside them is as it was. On two workers.
func TestTopLevelAwaitImports(t *testing.T) {
	files := map[string]string{
		"lib/cfg.mjs":  "await imscript.sleep(0.03);\nexport const cfg = { n: await Promise.resolve(41) + 1 };\n",
		"lib/uses.mjs": "import { cfg } from \"./cfg.mjs\";\nexport const doubled = cfg.n * 2;\n",
		"lib/dyn.mjs":  "await imscript.sleep(0.01);\nexport const v = \"dyn\";\nexport default \"dflt\";\n",
		"lib/a.mjs":    "import { b, getA } from \"./b.mjs\";\nawait null;\nexport const a = \"a+\" + b;\nexport const viaB = () => getA();\n",
		"lib/b.mjs":    "import { a } from \"./a.mjs\";\nexport const b = \"b\";\nexport const getA = () => a;\n",
		"lib/old.cjs":  "module.exports = { old: typeof require.__imscript_ready };\n",
	}
	src := `import { doubled } from "./lib/uses.mjs";
import { cfg } from "./lib/cfg.mjs";
import { a, viaB } from "./lib/a.mjs";
import old from "./lib/old.cjs";
const dyn = await import("./lib/dyn.mjs");
const again = await import("./lib/uses.mjs");
console.log("imports", cfg.n, doubled, dyn.v, dyn.default, again.doubled, a, viaB(), old.old);
`
	want := "imports 42 84 dyn dflt 84 a+b a+b function\n"
	out, logs := runNamed(t, 2, "main.mjs", src, "", files)
	if !eachWorker(out, want, 2) {
		t.Errorf("got:\n%s\nwant (on each of 2 workers):\n%s\nlogs:\n%s", out, want, logs)
	}
	// A CommonJS main script: import() waits too.
	h := scripttest.Start(t, scripttest.Options{Name: "main.js", Workers: 2, Files: files, Languages: []script.Language{js.New()},
		Src: "import(\"./lib/uses.mjs\").then((m) => console.log(\"cjs\", m.doubled));\n"})
	h.Eventually("both workers' import()", func() bool { return eachWorker(h.Stdout(), "cjs 84\n", 2) })
}
