// A TCP line echo that counts with imscript.metrics (tests/metrics_test.go).
// Commands: "boom" raises; "spin" runs until the watchdog interrupts it;
// "pub ROOM" joins ROOM and publishes the line to it; "task X" runs a task
// that answers "done X"; "fetch URL" waits for an HTTP answer (a promise)
// and sends "fetched STATUS". Anything else is echoed.
const srv = imscript.server({ host: "127.0.0.1", port: Number(imscript.env.PORT),
  open_eof_split: true, package_eof: "\n", task_worker_num: 1, max_exec_ms: 500 });
const lines = imscript.metrics.counter("test_lines_total", "Lines echoed.", ["kind"]);
const open = imscript.metrics.gauge("test_open", "Connections the script saw open.");
const sizes = imscript.metrics.histogram("test_line_bytes", "Sizes of the lines echoed.", null, [4, 16, 64]);
srv.on("connect", (s, fd) => open.inc());
srv.on("close", (s, fd) => open.dec());
srv.on("task", (s, id, from, job) => job);
srv.on("finish", (s, id, job) => s.send(job.fd, "done " + job.x + "\n"));
srv.on("receive", async (s, fd, data) => {
  const text = data.toString();
  if (text === "boom\n") throw new Error("boom asked");
  if (text === "spin\n") for (;;) {}
  const m = /^(\S+) (\S+)/.exec(text);
  if (m && m[1] === "pub") {
    s.join(fd, m[2]);
    s.publish(m[2], data);
    return;
  } else if (m && m[1] === "task") {
    s.task({ fd, x: m[2] });
    return;
  } else if (m && m[1] === "fetch") {
    const res = await imscript.http.request({ url: m[2], timeout: 30 });
    s.send(fd, "fetched " + res.status + "\n");
    return;
  }
  lines.inc(1, ["echo"]);
  sizes.observe(data.length);
  s.send(fd, data);
});
