// The tests of server.js: `imscript test` starts the server on a free
// port (imscript.env.PORT), then runs each test.it in order. A failed
// t.equal, t.ok or any exception fails the test.
const t = imscript.test;
const port = Number(imscript.env.PORT || 9501);

// connect opens a client to the server; its events go into an inbox, which
// the test takes them from in order (await inbox.take() waits up to 5 s).
async function connect() {
  const inbox = t.inbox();
  const cli = imscript.client({
    type: "tcp", host: "127.0.0.1", port: port,
    open_eof_split: true, package_eof: "\n",
  });
  cli.on("connect", () => inbox.push("connected"));
  cli.on("receive", (cli, data) => inbox.push(data.toString()));
  cli.on("error", (cli, err) => inbox.push("error: " + err));
  cli.connect();
  t.equal(await inbox.take(), "connected");
  return { cli, inbox };
}

t.it("echoes a line back", async () => {
  const { cli, inbox } = await connect();
  cli.send("hello\n");
  t.equal(await inbox.take(), "hello\n");
  cli.close();
});

t.it("echoes lines in the order they were sent", async () => {
  const { cli, inbox } = await connect();
  cli.send("one\ntwo\n");
  t.equal(await inbox.take(), "one\n");
  t.equal(await inbox.take(), "two\n");
  cli.close();
});
