// Test helper for reloads of required files: a line server ("\n"-framed)
// that answers each line with the prefix of the module beside it
// (reload_prefix.js), which the tests rewrite.
const mod = require("./reload_prefix.js");

const srv = imscript.server({
  host: "127.0.0.1",
  port: Number(imscript.env.PORT),
  open_eof_check: true,
  open_eof_split: true,
  package_eof: "\n",
});

srv.on("receive", (srv, fd, line) => {
  srv.send(fd, Buffer.concat([Buffer.from(mod.PREFIX + ":"), line]));
});
