// Test helper for the HTTP server tests: one route per feature.
//   /info       the request fields as JSON (binary parts up to 4 KiB as hex)
//   /body       the raw request body back (application/octet-stream)
//   /upload     the uploaded file of field ?field= back, byte for byte
//   /status     status ?code= with the optional reason ?reason=
//   /headers    a custom header and two cookies (one with every attribute)
//   /redirect   redirect to /target (?code= when given)
//   /target     "target reached"
//   /chain      status 202, a header and a cookie set in one chain; "same"
//               when the chain's result is res itself
//   /chunked    a chunked response: three write()s, then send("!")
//   /stream     write("first "), and 100 ms later write("second ") and send("last")
//   /slow       answers "slow <id>" after ?ms= (default 300) milliseconds
//   /fast       answers "fast <id>" at once
//   /error      raises an error (the host answers 500)
//   /async      an async handler: answers "async <id>" after awaiting a 5 ms timer
//   /async-error an async handler that throws after an await, in the same
//               turn (the host answers 500) (JS only: Lua has no promises)
//   /async-late-error  the same after awaiting a 5 ms timer (a later turn)
//   /sendfile   sendfile(DOCROOT/<?name=>)
//   /twice      send twice; prints what each send returned
//   otherwise   404 "no route <path>"
// Env: PORT, DOCROOT (document_root, optional), CERT and KEY (TLS, optional).
const settings = {
  host: "127.0.0.1",
  port: Number(imscript.env.PORT),
  type: "http",
  worker_num: 2,
  package_max_length: 256 * 1024,
  http_max_header_size: 8192,
};
if (imscript.env.DOCROOT) settings.document_root = imscript.env.DOCROOT;
if (imscript.env.CERT) {
  settings.ssl_cert_file = imscript.env.CERT;
  settings.ssl_key_file = imscript.env.KEY;
}
const srv = imscript.server(settings);

// hex encodes bytes (a Buffer) or a string (as its UTF-8 bytes).
function hex(x) {
  if (x === undefined || x === null) return "";
  return Buffer.from(x).toString("hex");
}

// smallHex is hex for up to 4 KiB (bigger contents are checked through
// /upload and /body), undefined beyond.
function smallHex(x) {
  const b = Buffer.from(x === undefined || x === null ? "" : x);
  return b.length > 4096 ? undefined : b.toString("hex");
}

const routes = {};

routes["/info"] = (req, res) => {
  const files = {};
  for (const field of Object.keys(req.files || {})) {
    const f = req.files[field];
    files[field] = { name: f.name, type: f.type, size: f.size, hex: smallHex(f.content) };
  }
  res.header("Content-Type", "application/json");
  res.send(
    JSON.stringify({
      method: req.method,
      uri: req.uri,
      path: req.path,
      query: req.query,
      header: req.header,
      cookie: req.cookie,
      post: req.post,
      files: files,
      body_hex: smallHex(req.body),
      body_size: req.body ? req.body.length : 0,
      fd: req.fd,
      remote_ip: req.remote_ip,
      remote_port: req.remote_port,
      protocol: req.protocol,
      worker_id: imscript.worker_id,
    }),
  );
};

routes["/body"] = (req, res) => {
  res.header("Content-Type", "application/octet-stream");
  res.send(req.body);
};

routes["/upload"] = (req, res) => {
  const f = req.files[req.query.field];
  res.header("Content-Type", "application/octet-stream");
  res.header("X-File-Name", f.name);
  res.header("X-File-Type", f.type);
  res.header("X-File-Size", String(f.size));
  res.send(f.content);
};

routes["/status"] = (req, res) => {
  const code = Number(req.query.code);
  if (req.query.reason !== undefined) {
    res.status(code, req.query.reason);
  } else {
    res.status(code);
  }
  res.send("status " + code);
};

routes["/headers"] = (req, res) => {
  res.header("X-Test", "yes");
  res.header("Content-Type", "text/plain");
  res.cookie("plain", "v1");
  res.cookie("full", "v2", {
    expires: 2000000000,
    max_age: 3600,
    path: "/p",
    domain: "example.com",
    secure: true,
    httponly: true,
    samesite: "Strict",
  });
  res.send("headers");
};

routes["/redirect"] = (req, res) => {
  if (req.query.code !== undefined) {
    res.redirect("/target", Number(req.query.code));
  } else {
    res.redirect("/target");
  }
};

routes["/target"] = (req, res) => {
  res.end("target reached"); // JS's alias of send
};

routes["/chain"] = (req, res) => {
  const r = res.status(202).header("X-Chain", "1").cookie("chained", "1");
  res.send(r === res ? "same" : "different");
};

routes["/chunked"] = (req, res) => {
  res.header("Content-Type", "text/plain");
  res.write("hello ");
  res.write("chunked ");
  res.write("world");
  res.send("!");
};

routes["/stream"] = (req, res) => {
  res.header("Content-Type", "text/plain");
  res.write("first ");
  imscript.after(100, () => {
    res.write("second ");
    res.send("last");
  });
};

routes["/slow"] = (req, res) => {
  const id = req.query.id || "";
  imscript.after(Number(req.query.ms || "300"), () => {
    res.send("slow " + id);
  });
};

routes["/fast"] = (req, res) => {
  res.send("fast " + (req.query.id || ""));
};

routes["/error"] = (req, res) => {
  throw new Error("handler boom");
};

routes["/async"] = async (req, res) => {
  await new Promise((resolve) => setTimeout(resolve, 5));
  res.send("async " + (req.query.id || ""));
};

routes["/async-error"] = async (req, res) => {
  await Promise.resolve();
  throw new Error("async handler boom");
};

routes["/async-late-error"] = async (req, res) => {
  await new Promise((resolve) => setTimeout(resolve, 5));
  throw new Error("late async boom");
};

routes["/sendfile"] = (req, res) => {
  res.sendfile(imscript.env.DOCROOT + "/" + req.query.name);
};

routes["/twice"] = (req, res) => {
  const a = res.send("first");
  const b = res.send("second");
  console.log("twice " + a + " " + b);
};

srv.on("request", (req, res) => {
  const route = routes[req.path];
  if (route) return route(req, res);
  res.status(404);
  res.send("no route " + req.path);
});
