// Test helper for the WebSocket and IM tests. Every message is echoed with
// its opcode, except text messages starting with "/", which are commands
// answered with one text frame "=<command> <result>":
//   /fd                 "=fd <fd> <worker id>"
//   /version            "=version <VERSION>" (the reload test rewrites it)
//   /bye                disconnect(fd, 4000, "bye")
//   /est <fd>           "=est <isEstablished(fd)>"
//   /pushto <fd> <msg>  "=pushto <push(fd, msg)>"
//   /bind <uid>         "=bind <bind(fd, uid)>" (/bindn binds the number)
//   /unbind             "=unbind"
//   /uid <fd>           "=uid <uid> <type>" or "=uid none"
//   /fds <uid>          "=fds <fd>,<fd>,..."
//   /touid <uid> <msg>  "=touid <sendToUid(uid, msg)>"
//   /join <room>, /leave <room>   "=join <room>", "=leave <room>"
//   /rooms <fd>, /members <room>, /presence <room>   "=<cmd> <a>,<b>,..."
//   /pub <room> <msg>   "=pub <publish(room, msg)>"
//   /pubx <room> <msg>  "=pubx <publish(room, msg, fd)>"
//   /frame              "=frame <k>=<v>,... <keys>" the frame's fields (for..of) and JSON keys, sorted
// Plain HTTP requests are answered "plain http fd=<fd>". open and close
// events are printed. With PORT2 set, a second websocket server on it only
// accepts the Origin http://good.example.
// Env: PORT, PORT2 (optional), CERT and KEY (TLS, optional).
const VERSION = "A";

const settings = {
  host: "127.0.0.1",
  port: Number(imscript.env.PORT),
  type: "websocket",
  worker_num: 2,
  package_max_length: 256 * 1024,
  websocket_subprotocols: ["chat.v2", "chat.v1"],
};
if (imscript.env.CERT) {
  settings.ssl_cert_file = imscript.env.CERT;
  settings.ssl_key_file = imscript.env.KEY;
}
const srv = imscript.server(settings);

function list(l) {
  return l.map((v) => String(v)).join(",");
}

const commands = {
  fd: (srv, fd) => fd + " " + imscript.worker_id,
  version: () => VERSION,
  bye: (srv, fd) => {
    srv.disconnect(fd, 4000, "bye");
  },
  est: (srv, fd, a) => String(srv.isEstablished(Number(a))),
  pushto: (srv, fd, a, rest) => String(srv.push(Number(a), rest)),
  bind: (srv, fd, a) => String(srv.bind(fd, a)),
  bindn: (srv, fd, a) => String(srv.bind(fd, Number(a))),
  unbind: (srv, fd) => {
    srv.unbind(fd);
    return "";
  },
  uid: (srv, fd, a) => {
    const uid = srv.uid(Number(a));
    if (uid === null || uid === undefined) return "none";
    return String(uid) + " " + typeof uid;
  },
  fds: (srv, fd, a) => list(srv.fds(a)),
  touid: (srv, fd, a, rest) => String(srv.sendToUid(a, rest)),
  join: (srv, fd, a) => {
    srv.join(fd, a);
    return a;
  },
  leave: (srv, fd, a) => {
    srv.leave(fd, a);
    return a;
  },
  rooms: (srv, fd, a) => list(srv.rooms(Number(a))),
  members: (srv, fd, a) => list(srv.members(a)),
  presence: (srv, fd, a) => list(srv.presence(a)),
  pub: (srv, fd, a, rest) => String(srv.publish(a, rest)),
  pubx: (srv, fd, a, rest) => String(srv.publish(a, rest, fd)),
};

srv.on("open", (srv, req) => {
  console.log("open " + req.fd + " " + req.path);
});

srv.on("message", (srv, frame) => {
  const data = frame.data;
  if (data === "/frame") {
    const kv = [];
    for (const [k, v] of frame) kv.push(k + "=" + v);
    const keys = Object.keys(JSON.parse(JSON.stringify(frame))).sort().join(",");
    srv.push(frame.fd, "=frame " + kv.sort().join(",") + " " + keys);
    return;
  }
  if (frame.opcode === "text" && String(data).startsWith("/")) {
    const m = /^\/(\S+)\s*(\S*)\s?([\s\S]*)$/.exec(String(data));
    const cmd = m[1];
    const fn = Object.prototype.hasOwnProperty.call(commands, cmd) ? commands[cmd] : null;
    if (!fn) {
      srv.push(frame.fd, "=unknown " + data);
      return;
    }
    const result = fn(srv, frame.fd, m[2], m[3]);
    if (result !== undefined) {
      srv.push(frame.fd, "=" + cmd + " " + result);
    }
    return;
  }
  srv.push(frame.fd, data, frame.opcode);
});

srv.on("close", (srv, fd) => {
  console.log("close " + fd);
});

srv.on("request", (req, res) => {
  res.header("Content-Type", "text/plain");
  res.send("plain http fd=" + req.fd);
});

if (imscript.env.PORT2) {
  const guarded = imscript.server({
    host: "127.0.0.1",
    port: Number(imscript.env.PORT2),
    type: "websocket",
    websocket_origins: ["http://good.example"],
  });
  guarded.on("message", (srv, frame) => {
    srv.push(frame.fd, "guarded " + frame.data);
  });
}
