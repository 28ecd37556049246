// WebSocket chat (IM) server that also serves its own web client.
//   imscript run scripts/js/chat.js      then open http://127.0.0.1:8080/ in two tabs
//
// The page (index.html, chat.js, chat.css in scripts/web/chat/) is served
// from document_root; the same folder serves scripts/lua/chat.lua.
// Users, rooms and fan-out are the host's IM primitives, shared by every
// worker: srv.bind (nickname = uid; several tabs of one nick are one user),
// join/leave/presence/members (rooms), publish (room messages, fanned out in
// Go), sendToUid (private messages to every tab of a user).
//
// Protocol (scripts/web/chat/PROTOCOL.md has the full text): one JSON object
// per WebSocket text frame, with a "type".
//   client -> server
//     {type:"login", nick}           -> welcome {nick, fd, heartbeat, rooms:[{name, count}]}
//     {type:"join", room}            -> joined {room, members:[{nick, tabs}]}; the room gets join {room, nick, ts}
//     {type:"leave", room}           -> left {room}; the room gets leave {room, nick, ts}
//     {type:"say", room, text}       -> every member connection (sender too) gets msg {room, from, text, ts}
//     {type:"pm", to, text}          -> every tab of `to` and of the sender gets pm {from, to, text, ts}
//     {type:"rooms"}                 -> rooms {rooms:[{name, count}]}
//     {type:"members", room}         -> members {room, members:[{nick, tabs}]}
//     {type:"ping", t}               -> pong {t}
//   errors: error {code, message, request}; codes: bad_json, bad_type,
//   not_logged_in, logged_in, bad_nick, bad_room, bad_text, not_in_room, offline.
//   nick: [A-Za-z0-9_.-]{1,24}; room: [A-Za-z0-9_-]{1,24}; text: 1..4000 bytes
//   after trimming; ts: server time in ms since the epoch. join/leave notices
//   are sent when a user's first tab enters / last tab leaves a room.
//   Heartbeat: clients ping every 20 s; connections silent for 60 s are closed.
const port = Number(imscript.env.PORT || 8080);
const HEARTBEAT = 60;
const MAX_TEXT = 4000;
const DEFAULT_ROOMS = ["lobby", "random", "dev"];

const srv = imscript.server({
  host: "0.0.0.0",
  port,
  type: "websocket",
  worker_num: 2,
  document_root: imscript.script_dir + "/../web/chat",
  heartbeat_check_interval: 15,
  heartbeat_idle_time: HEARTBEAT,
  package_max_length: 64 * 1024,
});

// Seconds, as the Lua version's os.time(): both languages answer alike.
const now = () => Math.floor(Date.now() / 1000) * 1000;

const push = (fd, msg) => srv.push(fd, JSON.stringify(msg));

const fail = (fd, req, code, message) => push(fd, { type: "error", code, message, request: req });

const validNick = (s) => typeof s === "string" && /^[A-Za-z0-9_.-]{1,24}$/.test(s);
const validRoom = (s) => typeof s === "string" && /^[A-Za-z0-9_-]{1,24}$/.test(s);

// cleanText trims ASCII white space (as the Lua version) and checks the size in bytes.
function cleanText(s) {
  if (typeof s !== "string") return null;
  s = s.replace(/^[ \t\n\r\f\v]+|[ \t\n\r\f\v]+$/g, "");
  const n = Buffer.from(s).length;
  if (n === 0 || n > MAX_TEXT) return null;
  return s;
}

const byNick = (a, b) => (a.nick < b.nick ? -1 : a.nick > b.nick ? 1 : 0);

// members: the users present in a room, with how many of their tabs are in it.
function members(room) {
  const inRoom = new Set(srv.members(room));
  const out = srv.presence(room).map((nick) => {
    const tabs = srv.fds(nick).filter((fd) => inRoom.has(fd)).length;
    return { nick, tabs: Math.max(tabs, 1) };
  });
  return out.sort(byNick);
}

// rooms: the default rooms plus the ones fd is in, with their user counts.
function rooms(fd) {
  const names = [...new Set([...DEFAULT_ROOMS, ...srv.rooms(fd)])].sort();
  return names.map((name) => ({ name, count: srv.presence(name).length }));
}

function leaveRoom(fd, nick, room) {
  srv.leave(fd, room);
  if (!srv.presence(room).includes(nick)) {
    srv.publish(room, JSON.stringify({ type: "leave", room, nick, ts: now() }));
  }
}

const handlers = {
  login(fd, m) {
    if (srv.uid(fd) != null) return fail(fd, "login", "logged_in", "already logged in");
    if (!validNick(m.nick)) {
      return fail(fd, "login", "bad_nick", "nicknames are 1-24 letters, digits, _ . or -");
    }
    srv.bind(fd, m.nick);
    console.log("login " + m.nick + " fd " + fd);
    push(fd, { type: "welcome", nick: m.nick, fd, heartbeat: HEARTBEAT, rooms: rooms(fd) });
  },

  join(fd, m, nick) {
    if (!validRoom(m.room)) return fail(fd, "join", "bad_room", "room names are 1-24 letters, digits, _ or -");
    const already = srv.rooms(fd).includes(m.room);
    const present = srv.presence(m.room).includes(nick);
    srv.join(fd, m.room);
    push(fd, { type: "joined", room: m.room, members: members(m.room) });
    if (!already && !present) {
      srv.publish(m.room, JSON.stringify({ type: "join", room: m.room, nick, ts: now() }), fd);
    }
  },

  leave(fd, m, nick) {
    if (!validRoom(m.room)) return fail(fd, "leave", "bad_room", "bad room name");
    if (!srv.rooms(fd).includes(m.room)) return fail(fd, "leave", "not_in_room", "not in #" + m.room);
    leaveRoom(fd, nick, m.room);
    push(fd, { type: "left", room: m.room });
  },

  say(fd, m, nick) {
    if (!validRoom(m.room) || !srv.rooms(fd).includes(m.room)) {
      return fail(fd, "say", "not_in_room", "join the room first");
    }
    const text = cleanText(m.text);
    if (text === null) return fail(fd, "say", "bad_text", "messages are 1-4000 bytes");
    srv.publish(m.room, JSON.stringify({ type: "msg", room: m.room, from: nick, text, ts: now() }));
  },

  pm(fd, m, nick) {
    if (!validNick(m.to)) return fail(fd, "pm", "bad_nick", "bad nickname");
    const text = cleanText(m.text);
    if (text === null) return fail(fd, "pm", "bad_text", "messages are 1-4000 bytes");
    const out = JSON.stringify({ type: "pm", from: nick, to: m.to, text, ts: now() });
    if (srv.sendToUid(m.to, out) === 0) return fail(fd, "pm", "offline", m.to + " is not online");
    if (m.to !== nick) srv.sendToUid(nick, out); // the sender's tabs see it too
  },

  rooms(fd) {
    push(fd, { type: "rooms", rooms: rooms(fd) });
  },

  members(fd, m) {
    if (!validRoom(m.room)) return fail(fd, "members", "bad_room", "bad room name");
    push(fd, { type: "members", room: m.room, members: members(m.room) });
  },
};

srv.on("start", (srv) => {
  console.log("chat server on http://127.0.0.1:" + srv.port + "/");
});

srv.on("open", (srv, req) => {
  imscript.log.info("chat: connection open", { fd: req.fd, remote: req.remote_ip });
});

srv.on("message", (srv, frame) => {
  const fd = frame.fd;
  let m;
  try {
    m = JSON.parse(String(frame.data));
  } catch (e) {
    m = null;
  }
  if (m === null || typeof m !== "object" || Array.isArray(m) || typeof m.type !== "string") {
    return fail(fd, undefined, "bad_json", "expected a JSON object with a type");
  }
  if (m.type === "ping") return push(fd, { type: "pong", t: m.t });
  const h = Object.prototype.hasOwnProperty.call(handlers, m.type) ? handlers[m.type] : null;
  if (!h) return fail(fd, m.type, "bad_type", "unknown message type " + m.type);
  const nick = srv.uid(fd);
  if (nick == null && m.type !== "login") return fail(fd, m.type, "not_logged_in", "log in first");
  h(fd, m, nick);
});

srv.on("close", (srv, fd) => {
  const nick = srv.uid(fd);
  if (nick == null) return;
  for (const room of srv.rooms(fd)) leaveRoom(fd, nick, room);
  srv.unbind(fd);
  console.log("logout " + nick + " fd " + fd);
});

// Plain HTTP: the page comes from document_root; anything else is answered here.
srv.on("request", (req, res) => {
  if (req.path === "/healthz") {
    res.header("Content-Type", "text/plain; charset=utf-8");
    return res.end("ok\n");
  }
  res.status(404);
  res.header("Content-Type", "text/plain; charset=utf-8");
  res.end("not found\n");
});
