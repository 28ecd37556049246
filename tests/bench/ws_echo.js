// Bench WebSocket echo (tests/bench): every message is pushed back
// unchanged, as node_ws.js and the gorilla/websocket reference do.
//   PORT=9501 imscript run --workers 2 --no-watch tests/bench/ws_echo.js
const srv = imscript.server({
  host: "127.0.0.1",
  port: Number(imscript.env.PORT || 9501),
  type: "websocket",
  worker_num: 2,
});

srv.on("message", (srv, frame) => {
  srv.push(frame.fd, frame.data, frame.opcode);
});
