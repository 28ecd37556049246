// A WebSocket echo server: every message comes back to its sender, text
// as text, binary as binary.
//   imscript run server.js        then connect to ws://127.0.0.1:9502/
const port = Number(imscript.env.PORT || 9502);

const srv = imscript.server({
  host: "127.0.0.1", // "0.0.0.0" to accept other machines
  port: port,
  type: "websocket",
});

srv.on("start", (srv) => {
  console.log("websocket server on ws://127.0.0.1:" + srv.port + "/");
});

srv.on("open", (srv, req) => {
  console.log("open: fd " + req.fd + " from " + req.remote_ip);
});

srv.on("message", (srv, frame) => {
  srv.push(frame.fd, frame.data, frame.opcode);
});

// A plain HTTP request (not an upgrade) gets a line of help.
srv.on("request", (req, res) => {
  res.header("Content-Type", "text/plain; charset=utf-8");
  res.send("a WebSocket echo server: connect to ws://" + (req.header.host || "127.0.0.1") + "/\n");
});
