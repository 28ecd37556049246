// The tests of server.js: `imscript test` starts the server on a free
// port (imscript.env.PORT), then runs each test.it in order. A failed
// t.equal, t.ok or any exception fails the test.
const t = imscript.test;
const port = imscript.env.PORT || "8080";

// join opens a WebSocket to the chat and waits until the server says it is
// in the room; the messages it gets, decoded, go into an inbox, which the
// test takes them from in order.
async function join() {
  const inbox = t.inbox();
  const ws = imscript.websocket.connect({ url: "ws://127.0.0.1:" + port + "/" });
  ws.on("open", () => inbox.push("open"));
  ws.on("message", (ws, frame) => inbox.push(JSON.parse(frame.data.toString())));
  ws.on("error", (ws, err) => inbox.push("error: " + err));
  t.equal(await inbox.take(), "open");
  t.equal(await inbox.take(), { joined: "lobby" });
  return { ws, inbox };
}

t.it("a message reaches everyone in the room", async () => {
  const ada = await join();
  const bob = await join();
  ada.ws.send(JSON.stringify({ nick: "ada", text: "hello bob" }));
  t.equal(await bob.inbox.take(), { nick: "ada", text: "hello bob" });
  t.equal(await ada.inbox.take(), { nick: "ada", text: "hello bob" });
  ada.ws.close();
  bob.ws.close();
});

t.it("a message that is not JSON gets an error back", async () => {
  const { ws, inbox } = await join();
  ws.send("hello?");
  const reply = await inbox.take();
  t.ok(reply && reply.error, "an error reply");
  ws.close();
});

t.it("GET / serves the page", async () => {
  const res = await imscript.http.request({ url: "http://127.0.0.1:" + port + "/" });
  t.equal(res.status, 200);
  t.contains(res.body, "<title>chat</title>");
});
