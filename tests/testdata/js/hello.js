// Test helper: the bench's HTTP hello (tests/bench/http_hello.js), every
// request answered 200 "hello world" with one header set. Env: PORT.
const srv = imscript.server({
  host: "127.0.0.1",
  port: Number(imscript.env.PORT),
  type: "http",
  worker_num: 2,
});

srv.on("request", (req, res) => {
  res.header("Content-Type", "text/plain");
  res.end("hello world");
});
