// Node.js `http` + ioredis for the bench (tests/bench): GET /get?k=KEY
// answers the value of KEY in BENCH_REDIS as text, one GET per request
// (ioredis: one connection, commands of concurrent requests in flight on
// it together).
//   NODE_PATH=$W/ioredis/node_modules BENCH_REDIS=redis://127.0.0.1:6379/0 PORT=9501 node tests/bench/node_redis.js
"use strict";
const http = require("http");
const Redis = require("ioredis");

const port = Number(process.env.PORT || 9501);
const redis = new Redis(process.env.BENCH_REDIS);

function text(res, code, body) {
  res.writeHead(code, { "Content-Type": "text/plain", "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}

const server = http.createServer({ noDelay: true }, async (req, res) => {
  const url = new URL(req.url, "http://x");
  if (req.method !== "GET" || url.pathname !== "/get") {
    text(res, 404, "not found");
    return;
  }
  let v;
  try {
    v = await redis.get(url.searchParams.get("k") || "");
  } catch (err) {
    text(res, 500, String(err.message));
    return;
  }
  if (v === null) {
    text(res, 404, "not found");
    return;
  }
  text(res, 200, v);
});
server.maxConnections = 1 << 20;
server.listen({ host: "127.0.0.1", port, backlog: 4096 }, () => {
  console.log(`node redis listening on 127.0.0.1:${port}`);
});
process.on("SIGTERM", () => process.exit(0));
