// HTTP server (Swoole's HTTP server example): prints each request's fields,
// sets a cookie and a header, and answers an HTML page.
//   imscript run scripts/js/http_hello.js      then: curl -i 'http://127.0.0.1:9505/hello?name=imscript'
const port = Number(imscript.env.PORT || 9505);

const srv = imscript.server({
  host: "0.0.0.0",
  port,
  type: "http",
  worker_num: 2,
});

// Keys sorted, as imscript.json.encode (the Lua version) writes them.
const dump = (o) => (o == null ? "null" : JSON.stringify(o, Object.keys(o).sort()));

srv.on("start", (srv) => {
  console.log("http server on http://127.0.0.1:" + srv.port + "/");
});

srv.on("request", (req, res) => {
  // Swoole's var_dump($request->get, ...): the fields, one per line.
  console.log("request: " + req.method + " " + req.uri + " " + req.protocol +
    " from " + req.remote_ip + ":" + req.remote_port + " fd " + req.fd);
  console.log("path: " + req.path);
  console.log("header: " + dump(req.header));
  console.log("get: " + dump(req.query));
  console.log("cookie: " + dump(req.cookie));
  console.log("post: " + dump(req.post));
  console.log("body: " + (req.body ? req.body.length : 0) + " bytes");

  res.header("X-Powered-By", "imscript");
  res.cookie("imscript_visit", String(Math.floor(Date.now() / 1000)), { path: "/", max_age: 3600, httponly: true });
  res.header("Content-Type", "text/html; charset=utf-8");
  res.end("<h1>Hello Swoole. #" + (1000 + Math.floor(Math.random() * 9000)) + "</h1>");
});
