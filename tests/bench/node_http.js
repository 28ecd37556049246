// Node.js `http` hello for the bench (tests/bench): every request gets 200
// "hello world".   PORT=9501 node tests/bench/node_http.js
"use strict";
const http = require("http");

const port = Number(process.env.PORT || 9501);
const body = Buffer.from("hello world");
const server = http.createServer({ noDelay: true }, (req, res) => {
  res.writeHead(200, { "Content-Type": "text/plain", "Content-Length": body.length });
  res.end(body);
});
server.maxConnections = 1 << 20;
server.listen({ host: "127.0.0.1", port, backlog: 4096 }, () => {
  console.log(`node http listening on 127.0.0.1:${port}`);
});
process.on("SIGTERM", () => process.exit(0));
