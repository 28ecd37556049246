// History on disk (tests/history_test.go): a WebSocket server whose room
// keeps its messages; ?since=&epoch= recovers on join.
const srv = imscript.server({ host: "127.0.0.1", port: Number(imscript.env.PORT), type: "websocket",
  worker_num: 2, history_size: 1000 });
srv.on("open", (s, req) => {
  const q = req.query;
  const rec = q.since !== undefined ? { since: Number(q.since), epoch: q.epoch } : undefined;
  const r = s.join(req.fd, "room", rec);
  s.push(req.fd, "joined " + r.seq + " " + r.epoch + " " + (r.recovered === undefined ? "nil" : r.recovered) + " " + (imscript.data_dir ?? "nil"));
});
srv.on("message", (s, f) => {
  s.publish("room", { text: f.data });
});
