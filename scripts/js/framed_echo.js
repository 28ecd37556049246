// Length-prefixed echo: each package is a 4-byte big-endian body length
// followed by the body (Swoole's open_length_check with type "N").
// The host reassembles packages however TCP splits or joins them; the reply
// is a package of the same form whose body is "echo: " + body.
//   imscript run scripts/js/framed_echo.js
const port = Number(imscript.env.PORT || 9504);

const srv = imscript.server({
  host: "0.0.0.0",
  port,
  worker_num: 2,
  open_length_check: true,
  package_length_type: "N",
  package_length_offset: 0,
  package_body_offset: 4,
  package_max_length: 1024 * 1024 + 4,
});

srv.on("receive", (srv, fd, pkg) => {
  const body = Buffer.concat([Buffer.from("echo: "), pkg.subarray(4)]); // the package includes its header
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length);
  srv.send(fd, Buffer.concat([head, body]));
});
