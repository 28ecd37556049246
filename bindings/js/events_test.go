package js_test

import "testing"

// TestEventEmitter: require("events") as npm packages use it: listener
// order, once, prepend, off, listenerCount, the 'error' event (thrown
// without a listener), newListener / removeListener, max listeners,
// subclasses and the util.inherits style, events.once; also imported from
// an ES module by its node: name. On two workers.
func TestEventEmitter(t *testing.T) {
	src := `import EventEmitter, { once } from "node:events";
import events from "events";
import util from "util";

const e = new EventEmitter();
const log = [];
e.on("x", (a) => log.push("on1:" + a));
e.on("x", (a) => log.push("on2:" + a));
e.prependListener("x", (a) => log.push("first:" + a));
e.once("x", (a) => log.push("once:" + a));
e.prependOnceListener("x", (a) => log.push("ponce:" + a));
console.log(e.listenerCount("x"), e.emit("x", 1), e.emit("x", 2), e.emit("nothing"));
console.log(log.join(" "));
const f = () => log.push("f");
e.on("y", f).on("y", f);
e.off("y", f);
console.log(e.listenerCount("y"), e.listeners("x").length, e.rawListeners("x").length, e.eventNames().join(","));
e.removeAllListeners("x");
console.log(e.listenerCount("x"), e.eventNames().join(","));

try { e.emit("error", new Error("boom")); } catch (err) { console.log("thrown:", err.message); }
try { e.emit("error", "text"); } catch (err) { console.log("thrown:", err.code, err.message); }
e.once("error", (err) => console.log("handled:", err.message));
console.log(e.emit("error", new Error("caught")), e.listenerCount("error"));
try { e.on("z", "not a function"); } catch (err) { console.log(err.name, err.code); }

const seen = [];
const g = new EventEmitter();
g.on("newListener", (name) => seen.push("new:" + name));
g.on("removeListener", (name) => seen.push("removed:" + name));
const h = () => {};
g.on("a", h);
g.removeListener("a", h);
console.log(seen.join(" "));

console.log(g.getMaxListeners(), g.setMaxListeners(1) === g, g.getMaxListeners(), EventEmitter.defaultMaxListeners);

class Chat extends EventEmitter {
  say(m) { this.emit("message", m, this instanceof Chat); }
}
const c = new Chat();
c.on("message", function (m, isChat) { console.log("chat:", m, isChat, this === c); });
c.say("hi");
function Old() { EventEmitter.call(this); }
util.inherits(Old, EventEmitter);
const o = new Old();
o.on("ping", () => console.log("old style ok"));
o.emit("ping");
console.log(events === EventEmitter, EventEmitter.EventEmitter === EventEmitter, typeof once);

const w = new EventEmitter();
once(w, "ready").then((args) => console.log("once resolved:", args.join(",")));
once(w, "never").catch((err) => console.log("once rejected:", err.message));
w.emit("ready", 1, 2);
w.emit("error", new Error("bad"));
`
	out, logs := runNamed(t, 2, "main.mjs", src, "", nil)
	want := `5 true true false
ponce:1 first:1 on1:1 on2:1 once:1 first:2 on1:2 on2:2
1 3 3 x,y
0 y
thrown: boom
thrown: ERR_UNHANDLED_ERROR Unhandled error. ('text')
handled: caught
true 0
TypeError ERR_INVALID_ARG_TYPE
new:removeListener new:a removed:a
10 true 1 10
chat: hi true true
old style ok
true true function
once resolved: 1,2
once rejected: bad
`
	if !eachWorker(out, want, 2) {
		t.Errorf("got:\n%s\nwant (on each of 2 workers):\n%s\nlogs:\n%s", out, want, logs)
	}
}

// TestStructuredClone: deep copies of nested objects, Map, Set, Date,
// RegExp, typed arrays and cycles; a function, a symbol or a WeakMap
// throws DataCloneError.
func TestStructuredClone(t *testing.T) {
	src := `
const d = new Date(86400000);
const inner = { list: [1, { deep: "x" }], when: d };
const m = new Map([["k", inner], [1, new Set([1, 2])]]);
const src = { m, bytes: new Uint8Array([1, 2, 3]), re: /a+/gi, n: null, u: undefined, big: 10n, err: new RangeError("r") };
src.self = src;
const c = structuredClone(src);
console.log(c !== src, c.self === c, c.m instanceof Map, c.m !== m, c.m.get("k") !== inner, c.m.get("k").list[1].deep);
console.log(c.m.get("k").when instanceof Date, c.m.get("k").when !== d, c.m.get("k").when.getTime(), [...c.m.get(1)].join(","));
console.log(c.bytes instanceof Uint8Array, c.bytes !== src.bytes, c.bytes.join(","), c.re.source, c.re.flags, c.n, "u" in c, c.u, c.big);
console.log(c.err instanceof RangeError, c.err.message);
inner.list[1].deep = "changed";
console.log(c.m.get("k").list[1].deep);
class Point { constructor() { this.x = 1; } }
const p = structuredClone(new Point());
console.log(p instanceof Point, p.x);
for (const bad of [() => 1, { f() {} }, Symbol("s"), new WeakMap()]) {
  try { structuredClone(bad); console.log("cloned?!"); } catch (e) { console.log(e.name, e instanceof DOMException, e.code); }
}
`
	out, logs := run(t, 2, src, "", nil)
	want := `true true true true true x
true true 86400000 1,2
true true 1,2,3 a+ gi null true undefined 10
true r
x
false 1
DataCloneError true 25
DataCloneError true 25
DataCloneError true 25
DataCloneError true 25
`
	if !eachWorker(out, want, 2) {
		t.Errorf("got:\n%s\nwant (on each of 2 workers):\n%s\nlogs:\n%s", out, want, logs)
	}
}

// TestDiagnosticsChannel: named channels and tracing channels as npm
// packages use them (lru-cache, undici), and performance.now().
func TestDiagnosticsChannel(t *testing.T) {
	src := `import dc from "node:diagnostics_channel";
import { channel, tracingChannel } from "diagnostics_channel";
const seen = [];
const ch = channel("app:metrics");
console.log(ch === dc.channel("app:metrics"), ch.hasSubscribers, dc.hasSubscribers("app:metrics"));
const onMsg = (m, name) => seen.push(name + "=" + m.n);
dc.subscribe("app:metrics", onMsg);
ch.publish({ n: 1 });
console.log(ch.hasSubscribers, ch.unsubscribe(onMsg), ch.unsubscribe(onMsg));
ch.publish({ n: 2 });
const tc = tracingChannel("app:op");
console.log(tc.traceSync((a) => a + 1, {}, null, 1), tc.hasSubscribers);
tc.subscribe({
  start: (c) => seen.push("start:" + c.id),
  end: (c) => seen.push("end:" + c.id + ":" + c.result),
  asyncEnd: (c) => seen.push("asyncEnd:" + c.id + ":" + (c.error ? c.error.message : c.result)),
  error: (c) => seen.push("error:" + c.id),
});
tc.traceSync(() => 5, { id: "s" });
try { tc.traceSync(() => { throw new Error("x"); }, { id: "t" }); } catch (e) {}
const a = performance.now();
tc.tracePromise(async () => 7, { id: "p" }).then(() => {
  const b = performance.now();
  console.log(seen.join(" "));
  console.log(typeof a, a >= 0, b >= a, typeof performance.timeOrigin, performance.timeOrigin > 1.7e12);
});
`
	out, logs := runNamed(t, 2, "main.mjs", src, "", nil)
	want := `true false false
true true false
2 false
app:metrics=1 start:s end:s:5 start:t error:t end:t:undefined start:p end:p:undefined asyncEnd:p:7
number true true number true
`
	if !eachWorker(out, want, 2) {
		t.Errorf("got:\n%s\nwant (on each of 2 workers):\n%s\nlogs:\n%s", out, want, logs)
	}
}
