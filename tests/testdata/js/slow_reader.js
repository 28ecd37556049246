// Test helper for buffer_output_size (256 KiB): a line server ("\n"-framed).
//   "fd"    -> "fd <n>\n"
//   "get"   -> 128 KiB (two 64 KiB sends); a failed send prints a line
//   "flood" -> 64 KiB sends until one returns false (at most 4096 = 256 MiB),
//              then prints how many went out
const srv = imscript.server({
  host: "127.0.0.1",
  port: Number(imscript.env.PORT),
  open_eof_check: true,
  open_eof_split: true,
  package_eof: "\n",
  buffer_output_size: 256 * 1024,
});

const chunk = Buffer.alloc(64 * 1024, "x");
const reported = new Set();

srv.on("receive", (srv, fd, line) => {
  const cmd = line.toString();
  if (cmd === "fd\n") {
    srv.send(fd, "fd " + fd + "\n");
  } else if (cmd === "get\n") {
    for (let i = 0; i < 2; i++) {
      if (!srv.send(fd, chunk)) {
        if (!reported.has(fd)) {
          reported.add(fd);
          console.log("get: send false fd=" + fd);
        }
        return;
      }
    }
  } else if (cmd === "flood\n") {
    for (let n = 0; n < 4096; n++) {
      if (!srv.send(fd, chunk)) {
        console.log("flood: send false after " + n + " chunks fd=" + fd);
        return;
      }
    }
    console.log("flood: all 4096 chunks queued fd=" + fd);
  }
});

srv.on("close", (srv, fd) => {
  reported.delete(fd);
  console.log("close " + fd);
});
