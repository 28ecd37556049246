// Test helper for package_max_length: a length-framed ("N", 4-byte
// big-endian body length) echo that accepts packages of at most 1024 bytes,
// header included. Each package comes back unchanged.
const srv = imscript.server({
  host: "127.0.0.1",
  port: Number(imscript.env.PORT),
  open_length_check: true,
  package_length_type: "N",
  package_length_offset: 0,
  package_body_offset: 4,
  package_max_length: 1024,
});

srv.on("receive", (srv, fd, pkg) => {
  srv.send(fd, pkg);
});

srv.on("close", (srv, fd) => {
  console.log("close " + fd);
});
