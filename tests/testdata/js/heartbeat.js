// Test helper for heartbeats: a raw echo server that closes connections
// idle for 0.8 s, checking every 0.2 s.
const srv = imscript.server({
  host: "127.0.0.1",
  port: Number(imscript.env.PORT),
  heartbeat_check_interval: 0.2,
  heartbeat_idle_time: 0.8,
});

srv.on("receive", (srv, fd, data) => {
  srv.send(fd, data);
});

srv.on("close", (srv, fd) => {
  console.log("close " + fd);
});
