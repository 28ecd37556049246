// Node.js `http` + better-sqlite3 for the bench (tests/bench): GET
// /user?id=N answers row N of BENCH_SQLITE's users as JSON, one point
// SELECT by primary key per request (better-sqlite3 is synchronous: one
// connection, the statement prepared once).
//   NODE_PATH=$W/better-sqlite3/node_modules BENCH_SQLITE=/tmp/bench.db PORT=9501 node tests/bench/node_sqlite.js
"use strict";
const http = require("http");
const Database = require("better-sqlite3");

const port = Number(process.env.PORT || 9501);
const db = new Database(process.env.BENCH_SQLITE, { fileMustExist: true, timeout: 5000 });
db.pragma("journal_mode = WAL");
db.pragma("synchronous = NORMAL");
db.pragma("foreign_keys = ON");
const byId = db.prepare("SELECT id, name, email, created FROM users WHERE id = ?");

function json(res, code, value) {
  const body = JSON.stringify(value);
  res.writeHead(code, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}

const server = http.createServer({ noDelay: true }, (req, res) => {
  const url = new URL(req.url, "http://x");
  if (req.method !== "GET" || url.pathname !== "/user") {
    json(res, 404, { error: "not found" });
    return;
  }
  const id = Number(url.searchParams.get("id"));
  if (!Number.isInteger(id)) {
    json(res, 400, { error: "bad id" });
    return;
  }
  const row = byId.get(id);
  if (!row) {
    json(res, 404, { error: "not found" });
    return;
  }
  json(res, 200, row);
});
server.maxConnections = 1 << 20;
server.listen({ host: "127.0.0.1", port, backlog: 4096 }, () => {
  console.log(`node sqlite listening on 127.0.0.1:${port}`);
});
process.on("SIGTERM", () => process.exit(0));
