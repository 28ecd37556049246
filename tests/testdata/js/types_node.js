// The Node modules and web globals of imscript's JavaScript, as a script
// uses them: checked by tsc with the generated imscript.d.ts
// (tests/types_test.go). It is not run.
const EventEmitter = require("node:events");
const { EventEmitter: Emitter } = require("events");
const path = require("path");
const util = require("node:util");
const crypto = require("crypto");

const bus = new EventEmitter();
bus.on("line", (text) => console.log(util.format("%s: %s", path.basename("/a/b.txt"), text)));
bus.emit("line", crypto.randomUUID());
new Emitter().once("done", () => {});

async function probe() {
  const res = await fetch("http://127.0.0.1:8080/", { headers: { accept: "application/json" }, signal: AbortSignal.timeout(1000) });
  const body = await res.json();
  console.log(res.status, res.headers.get("content-type"), structuredClone(body), performance.now());
}
probe();
