// A TCP line echo that counts with imscript.metrics (tests/metrics_test.go):
// "boom" raises, "pub ROOM" joins ROOM and publishes the line to it.
const srv = imscript.server({ host: "127.0.0.1", port: Number(imscript.env.PORT),
  open_eof_split: true, package_eof: "\n" });
const lines = imscript.metrics.counter("test_lines_total", "Lines echoed.", ["kind"]);
const open = imscript.metrics.gauge("test_open", "Connections the script saw open.");
const sizes = imscript.metrics.histogram("test_line_bytes", "Sizes of the lines echoed.", null, [4, 16, 64]);
srv.on("connect", (s, fd) => open.inc());
srv.on("close", (s, fd) => open.dec());
srv.on("receive", (s, fd, data) => {
  const text = data.toString();
  if (text === "boom\n") throw new Error("boom asked");
  const m = /^pub (\S+)/.exec(text);
  if (m) {
    s.join(fd, m[1]);
    s.publish(m[1], data);
    return;
  }
  lines.inc(1, ["echo"]);
  sizes.observe(data.length);
  s.send(fd, data);
});
