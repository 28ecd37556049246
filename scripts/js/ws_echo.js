// WebSocket server (Swoole's WebSocket server example): every message comes
// back to its sender as "server: " + data (binary frames stay binary).
// Plain HTTP GETs on the same port get a tiny page that talks to it.
//   imscript run scripts/js/ws_echo.js      then open http://127.0.0.1:9506/
const port = Number(imscript.env.PORT || 9506);

const srv = imscript.server({
  host: "0.0.0.0",
  port,
  type: "websocket",
  worker_num: 2,
});

const PAGE = `<!doctype html>
<meta charset="utf-8"><title>imscript WebSocket echo</title>
<h1>imscript WebSocket echo</h1>
<p><input id="t" value="hello" autofocus> <button id="b">send</button></p>
<pre id="log"></pre>
<script>
const ws = new WebSocket("ws://" + location.host + "/");
const log = (s) => (document.getElementById("log").textContent += s + "\\n");
ws.onopen = () => log("open");
ws.onmessage = (e) => log("< " + e.data);
ws.onclose = () => log("closed");
document.getElementById("b").onclick = () => {
  const v = document.getElementById("t").value;
  log("> " + v);
  ws.send(v);
};
</script>
`;

srv.on("start", (srv) => {
  console.log("websocket echo on ws://127.0.0.1:" + srv.port + "/");
});

srv.on("open", (srv, req) => {
  console.log("server: handshake success with fd" + req.fd);
});

srv.on("message", (srv, frame) => {
  if (frame.opcode === "binary") {
    // data is a Buffer: keep every byte.
    console.log("receive from " + frame.fd + ":(" + frame.data.length + " bytes),opcode:binary,fin:" + frame.finish);
    srv.push(frame.fd, Buffer.concat([Buffer.from("server: "), /** @type {Buffer} */ (frame.data)]), "binary");
    return;
  }
  console.log("receive from " + frame.fd + ":" + frame.data + ",opcode:text,fin:" + frame.finish);
  srv.push(frame.fd, "server: " + frame.data, "text");
});

srv.on("close", (srv, fd) => {
  console.log("client " + fd + " closed");
});

srv.on("request", (req, res) => {
  res.header("Content-Type", "text/html; charset=utf-8");
  res.end(PAGE);
});
