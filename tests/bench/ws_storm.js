// Bench recovery storm (tests/bench, section storm): ws_room's room with
// history (HISTORY=100, on disk with --data DIR), where a connection opened
// with ?ack=1 is answered "joined SEQ EPOCH RECOVERED" and one with
// &since=SEQ&epoch=E first recovers what it missed.
//   PORT=9501 HISTORY=100 imscript run --workers 2 --no-watch tests/bench/ws_storm.js
const srv = imscript.server({
  host: "127.0.0.1",
  port: Number(imscript.env.PORT || 9501),
  type: "websocket",
  worker_num: 2,
  history_size: Number(imscript.env.HISTORY || 0),
});

// With ?ack=1 the join is answered "joined SEQ EPOCH RECOVERED", and with
// &since=SEQ&epoch=E it first recovers what the connection missed (the
// recovery storm).
srv.on("open", (srv, req) => {
  const q = req.query;
  if (!q.ack) {
    srv.join(req.fd, "room");
    return;
  }
  const rec = q.since !== undefined ? { since: Number(q.since), epoch: q.epoch } : undefined;
  const r = srv.join(req.fd, "room", rec);
  srv.push(req.fd, "joined " + r.seq + " " + r.epoch + " " + r.recovered);
});

srv.on("message", (srv, frame) => {
  srv.publish("room", frame.data);
});
