// TCP echo server (Swoole's first example): every message comes back
// prefixed with "Swoole TCP Server: ".
//   imscript run scripts/js/echo.js      then: telnet 127.0.0.1 9501
const port = Number(imscript.env.PORT || 9501);

const srv = imscript.server({
  host: "0.0.0.0",
  port: port,
  type: "tcp",
  worker_num: 2,
});

srv.on("start", (srv) => {
  console.log("echo server listening on port " + srv.port);
});

srv.on("connect", (srv, fd) => {
  imscript.log.info("client connected", { fd });
});

srv.on("receive", (srv, fd, data) => {
  srv.send(fd, Buffer.concat([Buffer.from("Swoole TCP Server: "), data]));
});

srv.on("close", (srv, fd) => {
  imscript.log.info("client closed", { fd });
});
