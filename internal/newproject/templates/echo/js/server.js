// A TCP echo server: every line a client sends comes back to it.
//   imscript run server.js        then: nc 127.0.0.1 9501
const port = Number(imscript.env.PORT || 9501);

const srv = imscript.server({
  host: "127.0.0.1", // "0.0.0.0" to accept other machines
  port: port,
  type: "tcp",
  open_eof_split: true, // one receive event per line...
  package_eof: "\n", // ...ending with "\n"
});

srv.on("start", (srv) => {
  console.log("echo server on 127.0.0.1:" + srv.port);
});

srv.on("receive", (srv, fd, line) => {
  srv.send(fd, line);
});
