// Test helper: a TCP server that echoes every received chunk unchanged (no
// prefix), so binary and 1 MiB payloads can be compared byte for byte
// however TCP splits them. It prints its lifecycle events to stdout.
// Env: PORT, MAX_CONN (optional max_connection), CERT and KEY (optional:
// TLS with ssl_cert_file and ssl_key_file).
const settings = { host: "127.0.0.1", port: Number(imscript.env.PORT), worker_num: 2 };
if (imscript.env.MAX_CONN) settings.max_connection = Number(imscript.env.MAX_CONN);
if (imscript.env.CERT) {
  settings.ssl_cert_file = imscript.env.CERT;
  settings.ssl_key_file = imscript.env.KEY;
}
const srv = imscript.server(settings);

srv.on("start", (srv) => {
  console.log("start " + srv.port);
});

srv.on("connect", (srv, fd) => {
  console.log("connect " + fd);
});

srv.on("receive", (srv, fd, data) => {
  srv.send(fd, data);
});

srv.on("close", (srv, fd) => {
  console.log("close " + fd);
});

srv.on("shutdown", (srv) => {
  console.log("shutdown handler ran");
});
