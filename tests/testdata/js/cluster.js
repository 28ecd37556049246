// A node of a cluster (tests/cluster_test.go): WebSocket clients bind a uid,
// join rooms (recovering with since/epoch), publish, send to uids, ask for
// presence; presence events go to this node's members of "events". In a
// cluster the calls that ask it (join with history, bind with recovery,
// presence, history, publish) return Promises: the handlers await them.
const srv = imscript.server({ host: "127.0.0.1", port: Number(imscript.env.PORT), type: "websocket",
  worker_num: 2, history_size: 1000, presence_events: true });
srv.on("open", async (s, req) => {
  const q = req.query;
  const rec = q.since !== undefined ? { since: Number(q.since), epoch: q.epoch } : undefined;
  if (q.uid !== undefined) await s.bind(req.fd, q.uid);
  for (const room of (q.rooms || "").split(",").filter((r) => r !== "")) {
    const r = await s.join(req.fd, room, rec);
    s.push(req.fd, "joined " + room + " " + r.seq + " " + r.epoch + " " + (r.recovered === undefined ? "nil" : r.recovered));
  }
  s.push(req.fd, "ready");
});
srv.on("presence", (s, room, uid, what) => {
  for (const fd of s.members("events")) s.push(fd, "presence " + room + " " + uid + " " + what);
});
srv.on("message", async (s, f) => {
  const m = /^(\S+) ?(\S*) ?(.*)$/.exec(f.data);
  const [cmd, a, b] = [m[1], m[2], m[3]];
  if (cmd === "pub") s.publish(a, { text: b });
  // publish and say what it returned (in a cluster, a Promise of it)
  else if (cmd === "pubr") s.push(f.fd, "published " + (await s.publish(a, { text: b })));
  else if (cmd === "hist") { // read the history and say how many, or why not
    const items = await s.history(a);
    s.push(f.fd, "history " + (items === false ? "false" : items.length));
  } else if (cmd === "who") s.push(f.fd, "who " + imscript.worker_id);
  else if (cmd === "echo") s.push(f.fd, "echo " + a);
  else if (cmd === "waiting") s.push(f.fd, "waiting " + s.stats().broker_waiting);
  else if (cmd === "errors") s.push(f.fd, "errors " + s.stats().broker_errors);
  else if (cmd === "dm") s.sendToUid(a, { text: b });
  else if (cmd === "presence") s.push(f.fd, "presence " + (await s.presence(a)).join(","));
  else if (cmd === "stats") {
    const st = s.stats();
    s.push(f.fd, "stats " + st.node + " " + st.cluster_nodes);
  }
});
