// Test helper for the route tests: srv.route, req.params, req.json(),
// res.json() and chained status/header/cookie.
//   GET    /users/:id            {route: "user", id}
//   GET    /users/new            {route: "new"} (declared after /users/:id: the literal wins)
//   DELETE /users/:id            204
//   GET    /notes/:id/tags/:tag  {id, tag}
//   GET    /files/*              {route: "rest", rest} (declared before /files/:name)
//   GET    /files/:name          {route: "name", name}
//   *      /any                  {method}
//   GET    /head                 "body for get" with X-Head: yes (HEAD gets the head)
//   POST   /notes                req.json() + id, 201 with X-Id and a cookie (chained)
//   POST   /echo                 res.json(req.json())
//   POST   /safe                 catches req.json()'s error; prints what it and a later res.json got
//   GET    /created              res.json(v, 201)
//   GET    /chain                status with a reason, header, cookie, json, all chained
//   GET    /late                 send, then status/header on the finished response (still chain)
//   GET    /problem              res.json with the script's own Content-Type and a status
//   GET    /unencodable          res.json of a function: throws (500)
//   GET    /error                throws (500)
//   GET    /                     "root"
//   GET    /async/:id            an async route: {id} after awaiting a 5 ms timer
//   POST   /async-notes          an async route that calls req.json() after an await
//   GET    /async-error          an async route that throws after an await (500)
//   otherwise                    the request handler: 404 "fallback <path> params=<n>"
// A websocket server on WSPORT: GET /hello/:name and no request handler.
// Bad patterns are refused at load: their errors are printed.
const srv = imscript.server({
  host: "127.0.0.1",
  port: Number(imscript.env.PORT),
  type: "http",
  worker_num: 2,
});

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

srv.route("GET", "/users/:id", (req, res) => {
  res.json({ route: "user", id: req.params.id });
});

srv.route("GET", "/users/new", (req, res) => {
  res.json({ route: "new" });
});

srv.route("delete", "/users/:id", (req, res) => {
  res.status(204).end();
});

srv.route("GET", "/notes/:id/tags/:tag", (req, res) => {
  res.json({ id: req.params.id, tag: req.params.tag });
});

srv.route("GET", "/files/*", (req, res) => {
  res.json({ route: "rest", rest: req.params["*"] });
});

srv.route("GET", "/files/:name", (req, res) => {
  res.json({ route: "name", name: req.params.name });
});

srv.route("*", "/any", (req, res) => {
  res.json({ method: req.method });
});

srv.route("GET", "/head", (req, res) => {
  res.header("X-Head", "yes").send("body for get");
});

srv.route("POST", "/notes", (req, res) => {
  const note = req.json();
  note.id = 42;
  res.status(201).header("X-Id", String(note.id)).cookie("last", "42", { path: "/" }).json(note);
});

srv.route("POST", "/echo", (req, res) => {
  res.json(req.json());
});

srv.route("POST", "/safe", (req, res) => {
  try {
    req.json();
  } catch (err) {
    console.log("safe caught: " + err.message);
    console.log("safe json after the 400: " + res.json({ ok: false }));
    return;
  }
  res.json({ ok: true });
});

srv.route("GET", "/created", (req, res) => {
  console.log("created json: " + res.json({ created: true }, 201));
});

srv.route("GET", "/chain", (req, res) => {
  res.status(202, "Accepted Here").header("X-A", "1").header("X-B", "2").cookie("c", "v").json({ chained: true });
});

srv.route("GET", "/late", (req, res) => {
  res.send("done");
  const r = res.status(500).header("X-Late", "1");
  console.log("late chain: " + typeof r + " " + r.send("again"));
});

srv.route("GET", "/problem", (req, res) => {
  res.header("Content-Type", "application/problem+json").json({ title: "nope" }, 422);
});

srv.route("GET", "/unencodable", (req, res) => {
  res.json({ f: () => {} });
});

srv.route("GET", "/error", (req, res) => {
  throw new Error("route boom");
});

srv.route("GET", "/", (req, res) => {
  res.send("root");
});

srv.route("GET", "/async/:id", async (req, res) => {
  await sleep(5);
  res.json({ id: req.params.id });
});

srv.route("POST", "/async-notes", async (req, res) => {
  await sleep(5);
  const note = req.json();
  res.status(201).json(note);
});

srv.route("GET", "/async-error", async (req, res) => {
  await sleep(5);
  throw new Error("async route boom");
});

srv.on("request", (req, res) => {
  res.status(404).send("fallback " + req.path + " params=" + Object.keys(req.params).length);
});

for (const bad of ["users", "/a/*/b", "/:id/x/:id", "/x/:", "/files/*.txt"]) {
  try {
    srv.route("GET", bad, () => {});
    console.log("bad pattern " + bad + ": true");
  } catch (err) {
    console.log("bad pattern " + bad + ": false " + err.message);
  }
}
try {
  srv.route("GE T", "/x", () => {});
  console.log("bad method: true");
} catch (err) {
  console.log("bad method: false " + err.message);
}

const ws = imscript.server({ host: "127.0.0.1", port: Number(imscript.env.WSPORT), type: "websocket" });
ws.route("GET", "/hello/:name", (req, res) => {
  res.json({ hello: req.params.name });
});
