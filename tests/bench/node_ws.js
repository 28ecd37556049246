// Node.js WebSocket server with the `ws` package for the bench
// (tests/bench); the bench installs ws into a folder of its own and points
// NODE_PATH at it.
//   MODE=echo: every message is sent back unchanged (as ws_echo.lua/.js).
//   MODE=room: every message is sent to every open client, the sender too
//              (as ws_room.lua/.js; the broadcast loop of ws's README).
//   NODE_PATH=DIR/node_modules PORT=9501 MODE=echo node tests/bench/node_ws.js
"use strict";
const { WebSocketServer, WebSocket } = require("ws");

const port = Number(process.env.PORT || 9501);
const mode = process.env.MODE || "echo";
const wss = new WebSocketServer({ host: "127.0.0.1", port, backlog: 4096, perMessageDeflate: false });

wss.on("connection", (ws) => {
  ws.on("error", () => {});
  if (mode === "room") {
    ws.on("message", (data, isBinary) => {
      for (const client of wss.clients) {
        if (client.readyState === WebSocket.OPEN) {
          client.send(data, { binary: isBinary });
        }
      }
    });
  } else {
    ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
  }
});
wss.on("listening", () => console.log(`node ws (${mode}) listening on 127.0.0.1:${port}`));
process.on("SIGTERM", () => process.exit(0));
