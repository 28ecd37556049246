// An HTTP server with three routes.
//   imscript run server.js        then: curl http://127.0.0.1:8080/hello/you
const port = Number(imscript.env.PORT || 8080);

const srv = imscript.server({
  host: "127.0.0.1", // "0.0.0.0" to accept other machines
  port: port,
  type: "http",
});

srv.on("start", (srv) => {
  console.log("http server on http://127.0.0.1:" + srv.port + "/");
});

srv.route("GET", "/", (req, res) => {
  res.header("Content-Type", "text/plain; charset=utf-8");
  res.send("Hello from imscript\n");
});

srv.route("GET", "/hello/:name", (req, res) => {
  res.json({ greeting: "Hello, " + req.params.name + "!" });
});

// POST /sum with {"numbers": [1, 2, 3]} answers {"sum": 6}.
srv.route("POST", "/sum", (req, res) => {
  const body = req.json(); // a body that is not JSON answers 400
  let sum = 0;
  for (const n of body.numbers || []) {
    if (typeof n !== "number") {
      res.json({ error: "numbers must hold numbers" }, 400);
      return;
    }
    sum += n;
  }
  res.json({ sum });
});
