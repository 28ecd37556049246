// Processes: a TCP line server that hands every line to another process
// and answers with what that process said.
//   imscript run scripts/js/process.js      then: telnet 127.0.0.1 9508
//
//   hello                 -> hello            (echoed by the Python child, python3 echo.py)
//   vm hello world        -> vm: 2 words, 11 bytes (message #1)
//                                             (answered by spawn_child.js, a script in its own VM)
//
// Each worker starts its own Python child (imscript.process.exec) and its own
// spawned script (imscript.process.spawn) when it loads this file. They
// belong to this version of the script: a reload or stopping the host kills
// them, and the new version starts new ones.
const port = Number(imscript.env.PORT || 9508);

const srv = imscript.server({
  host: "0.0.0.0",
  port: port,
  type: "tcp",
  worker_num: 2,
  // one line per receive event
  open_eof_check: true,
  open_eof_split: true,
  package_eof: "\n",
});

// The Python echo child. It answers lines in the order it got them, so the
// fds waiting for an answer form a queue.
let echo;
let waiting = [];
let pending = Buffer.alloc(0); // its output not yet cut into lines

function startEcho() {
  echo = imscript.process.exec({
    cmd: "python3",
    args: ["echo.py"],
    cwd: "../python", // relative to this script's folder
    env: { PYTHONUNBUFFERED: "1" },
  });
  echo.on("stdout", (data) => {
    pending = Buffer.concat([pending, data]);
    let nl;
    while ((nl = pending.indexOf(10)) >= 0) {
      const line = pending.subarray(0, nl + 1);
      pending = pending.subarray(nl + 1);
      const fd = waiting.shift();
      if (fd !== undefined) srv.send(fd, line);
    }
  });
  echo.on("stderr", (data) => {
    imscript.log.warn("echo.py wrote to stderr", { text: data.toString() });
  });
  echo.on("exit", (code, signal) => {
    imscript.log.warn("echo.py exited; starting a new one", { code, signal });
    for (const fd of waiting) srv.send(fd, "ERR the echo child exited\n");
    waiting = [];
    pending = Buffer.alloc(0);
    setTimeout(startEcho, 1000);
  });
}
startEcho();

// The spawned script: spawn_child.js beside this file, in its own VM on its
// own goroutine. Messages are deep copies of plain values.
const child = imscript.process.spawn("spawn_child.js", { worker: imscript.worker_id });
child.on("message", (msg) => {
  srv.send(msg.fd, `vm: ${msg.words} words, ${msg.bytes} bytes (message #${msg.n})\n`);
});
child.on("exit", (code) => {
  imscript.log.warn("spawn_child.js exited", { code });
});

srv.on("start", (srv) => {
  console.log("process server listening on port " + srv.port);
});

srv.on("receive", (srv, fd, data) => {
  const line = data.toString().replace(/\r?\n$/, "");
  const m = /^vm (.*)$/.exec(line);
  if (m) {
    child.send({ fd, text: m[1] });
    return;
  }
  if (echo.write(data)) {
    waiting.push(fd);
  } else {
    srv.send(fd, "ERR the echo child is not running\n");
  }
});
