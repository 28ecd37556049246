// UDP echo server (Swoole's UDP example): each datagram comes back to its
// sender prefixed with "Swoole UDP Server: ".
//   imscript run scripts/js/udp_echo.js
const port = Number(imscript.env.PORT || 9502);

const srv = imscript.server({ host: "0.0.0.0", port, type: "udp", worker_num: 2 });

srv.on("start", (srv) => {
  console.log("udp echo server listening on port " + srv.port);
});

srv.on("packet", (srv, data, addr) => {
  srv.sendto(addr.address, addr.port, Buffer.concat([Buffer.from("Swoole UDP Server: "), data]));
});
