// Test helper for hot reload: a line server ("\n"-framed) that answers each
// line with PREFIX + ":" + line. The tests rewrite the PREFIX line.
// "stats" answers "reload_count=N".
const PREFIX = "A";

const srv = imscript.server({
  host: "127.0.0.1",
  port: Number(imscript.env.PORT),
  open_eof_check: true,
  open_eof_split: true,
  package_eof: "\n",
});

srv.on("receive", (srv, fd, line) => {
  if (line.toString() === "stats\n") {
    srv.send(fd, "reload_count=" + srv.stats().reload_count + "\n");
    return;
  }
  srv.send(fd, Buffer.concat([Buffer.from(PREFIX + ":"), line]));
});
