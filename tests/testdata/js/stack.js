// Test helper for error reports and imscript.exit: a line server ("\n"-
// framed). "index" makes the receive handler fail in a helper function,
// "later" does so after a sleep, "require" loads a module that fails as
// it loads, "exit N" ends the host with imscript.exit(N); every line is
// answered "ok <line>".
const srv = imscript.server({
  host: "127.0.0.1",
  port: Number(imscript.env.PORT),
  open_eof_check: true,
  open_eof_split: true,
  package_eof: "\n",
});

function helper(t) {
  return t.missing.field; // LINE:index
}

srv.on("receive", (srv, fd, line) => { // LINE:handler
  const cmd = line.toString().slice(0, -1);
  if (cmd === "index") {
    helper({}); // LINE:call
  } else if (cmd === "later") {
    // The handler's promise fails after a sleep.
    return imscript.sleep(0.01).then(() => helper({})); // LINE:later
  } else if (cmd === "require") {
    require("./stack_broken.js"); // LINE:require
  } else if (cmd.startsWith("exit ")) {
    imscript.exit(Number(cmd.slice(5)));
  }
  srv.send(fd, "ok " + cmd + "\n");
});

srv.on("shutdown", (srv) => {
  console.log("shutdown handler ran");
});
