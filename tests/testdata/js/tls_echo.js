// Test helper for TLS on a TCP server: echoes every chunk unchanged over
// TLS and prints its connect and close events.
// Env: PORT, CERT, KEY.
const srv = imscript.server({
  host: "127.0.0.1",
  port: Number(imscript.env.PORT),
  worker_num: 2,
  ssl_cert_file: imscript.env.CERT,
  ssl_key_file: imscript.env.KEY,
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
