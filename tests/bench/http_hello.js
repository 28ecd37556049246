// Bench HTTP hello (tests/bench): every request gets 200 "hello world",
// the same small fixed answer as node_http.js and the Go ceiling.
//   PORT=9501 imscript run --workers 2 --no-watch tests/bench/http_hello.js
const srv = imscript.server({
  host: "127.0.0.1",
  port: Number(imscript.env.PORT || 9501),
  type: "http",
  worker_num: 2,
});

srv.on("request", (req, res) => {
  res.header("Content-Type", "text/plain");
  res.end("hello world");
});
