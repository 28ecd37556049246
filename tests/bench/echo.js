// Bench echo (tests/bench): every byte comes back unchanged, no prefix, so
// the imscript rows do the same work as the bare gnet and Node echo servers.
//   PORT=9501 imscript run --workers 2 --no-watch tests/bench/echo.js
const srv = imscript.server({
  host: "127.0.0.1",
  port: Number(imscript.env.PORT || 9501),
  type: "tcp",
  worker_num: 2,
});

srv.on("receive", (srv, fd, data) => {
  srv.send(fd, data);
});
