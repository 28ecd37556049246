// Node.js `net` echo for the bench (tests/bench): every byte comes back
// unchanged.   PORT=9501 node tests/bench/node_echo.js
"use strict";
const net = require("net");

const port = Number(process.env.PORT || 9501);
const server = net.createServer({ noDelay: true }, (sock) => {
  sock.on("data", (data) => sock.write(data));
  sock.on("error", () => {});
});
server.maxConnections = 1 << 20;
server.listen({ host: "127.0.0.1", port, backlog: 4096 }, () => {
  console.log(`node echo listening on 127.0.0.1:${port}`);
});
process.on("SIGTERM", () => process.exit(0));
