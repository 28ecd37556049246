// Test helper for the safety rails: a line server ("\n"-framed) whose
// "boom" raises an error and whose "loop" never returns (max_exec_ms = 200).
// Any other line is answered "ok:<line> w<worker id>".
const srv = imscript.server({
  host: "127.0.0.1",
  port: Number(imscript.env.PORT),
  open_eof_check: true,
  open_eof_split: true,
  package_eof: "\n",
  max_exec_ms: 200,
});

function fail(msg) {
  throw new Error(msg); // LINE:boom
}

srv.on("receive", (srv, fd, line) => {
  const cmd = line.toString().slice(0, -1);
  if (cmd === "boom") {
    fail("kaboom");
  } else if (cmd === "loop") {
    for (;;) {}
  }
  srv.send(fd, "ok:" + cmd + " w" + imscript.worker_id + "\n");
});
