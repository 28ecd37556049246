// The tests of server.js: `imscript test` starts the server on a free
// port (imscript.env.PORT), then runs each test.it in order. A failed
// t.equal, t.ok or any exception fails the test.
const t = imscript.test;
const port = imscript.env.PORT || "9502";

// connect opens a WebSocket to the server; its events go into an inbox,
// which the test takes them from in order (await inbox.take() waits up to 5 s).
async function connect() {
  const inbox = t.inbox();
  const ws = imscript.websocket.connect({ url: "ws://127.0.0.1:" + port + "/" });
  ws.on("open", () => inbox.push("open"));
  ws.on("message", (ws, frame) => inbox.push({ data: frame.data, opcode: frame.opcode }));
  ws.on("error", (ws, err) => inbox.push("error: " + err));
  t.equal(await inbox.take(), "open");
  return { ws, inbox };
}

t.it("echoes a text message", async () => {
  const { ws, inbox } = await connect();
  ws.send("hello");
  t.equal(await inbox.take(), { data: "hello", opcode: "text" });
  ws.close();
});

t.it("echoes a binary message as binary", async () => {
  const { ws, inbox } = await connect();
  const bytes = Buffer.from([0, 1, 2, 255]);
  ws.send(bytes, "binary");
  t.equal(await inbox.take(), { data: bytes, opcode: "binary" });
  ws.close();
});

t.it("answers a plain HTTP request with help", async () => {
  const res = await imscript.http.request({ url: "http://127.0.0.1:" + port + "/" });
  t.equal(res.status, 200);
  t.contains(res.body, "WebSocket echo server");
});
