// imscript chat: a small IM service (accounts, rooms with history,
// private messages, unread counts, read receipts, typing, presence) that
// serves its own web client.
//   imscript run --data chat-data scripts/js/chat.js   then open http://127.0.0.1:8080/
//
// The page (index.html, chat.js, chat.css in scripts/web/chat/) is served
// from document_root; scripts/lua/chat.lua is the same server in Lua.
// Storage: accounts, sessions, room memberships, read pointers and private
// messages in SQLite (DATA/chat.db, DATA = the --data folder, or CHAT_DATA;
// without either, an in-memory database; CHAT_DB=sqlite:PATH names the
// database file instead, so that the nodes of a cluster on one machine
// share their accounts); room history and each user's personal channel in
// the host's channel history (on disk with --data, cluster-wide in a
// cluster).
//
// HTTP (JSON): POST /api/register {user, password}, POST /api/login
// {user, password} -> {user} and an HttpOnly SameSite=Lax cookie holding
// a signed session (JWT HS256; the key is made once and kept in the
// database); POST /api/logout; GET /api/me. Errors: {error, message}
// (401 bad_credentials — the same answer, after the same password check,
// for an unknown user and a wrong password —, 409 taken, 422, 429
// rate_limited: login and register attempts per IP).
// WebSocket (any path): the handshake is refused with 401 without a valid
// session cookie (403 for a page of another origin). Then one JSON object
// per text frame, with a "type":
//   client -> server
//     hello {inbox?:{since, epoch}}   -> binds the connection to its user (recovering
//                                        the personal channel after since) -> welcome
//     join {room, since?, epoch?}     -> joined {room, seq, epoch, recovered?, read,
//                                        members, history? (the last 50), more?}
//     leave {room}                    -> left {room} (every tab of the user)
//     say {room, text}                -> the room gets msg {room, from, text, seq, ts}
//     history {room, before}          -> history {room, messages, more}
//     pm {to, text}                   -> both users' tabs get pm {id, from, to, text, seq, ts}
//     pm_history {with, before?}      -> pm_history {with, messages, more, seen, read}
//     read {room, seq} | {with, id}   -> read pointer stored; other tabs get read; the
//                                        other user gets seen {by, id}
//     typing {room} | {to}            -> typing {room?, from, to?}, never stored
//     rooms / members {room} / ping {t} -> rooms / members / pong
//   server -> client also: presence {room, user, online}, error {code, message, request}
//   codes: bad_json, bad_type, not_logged_in, logged_in, bad_room, not_in_room, bad_text,
//   bad_user, no_such_user, bad_seq, rate_limited (messages per user per second), server_error.
// Recovery: a client keeps, per room and for its personal channel, the last
// seq and the epoch it saw and re-joins / binds with {since, epoch}; the
// missed messages arrive first, in order, each once; recovered = false means
// history no longer reaches back: the client reloads the last 50.
// Full text: scripts/web/chat/PROTOCOL.md.
const { crypto, jwt } = imscript;
const env = imscript.env;

const port = Number(env.PORT || 8080);
const DATA = imscript.data_dir || env.CHAT_DATA || null;
const HEARTBEAT = 60;
const MAX_TEXT = 4000;
const PAGE = 50;
const num = (v, dflt) => (v !== undefined && v !== "" && !Number.isNaN(Number(v)) ? Number(v) : dflt);
const SESSION_TTL = num(env.CHAT_SESSION_TTL, 7 * 24 * 3600);
const COOKIE = "chat_session";
const DEFAULT_ROOMS = ["lobby", "random", "dev"];
const MSG_RATE = num(env.CHAT_MSG_RATE, 5);
const MSG_BURST = num(env.CHAT_MSG_BURST, 10);
const LOGINS_PER_MIN = num(env.CHAT_LOGINS_PER_MIN, 5);

const srv = imscript.server({
  host: "0.0.0.0",
  port,
  type: "websocket",
  worker_num: 2,
  document_root: imscript.script_dir + "/../web/chat",
  heartbeat_check_interval: 15,
  heartbeat_idle_time: HEARTBEAT,
  package_max_length: 64 * 1024,
  history_size: num(env.CHAT_HISTORY, 1000),
  presence_events: true,
});

const db = imscript.sql.open(env.CHAT_DB || (DATA ? "sqlite:" + DATA + "/chat.db" : "sqlite::memory:"));
const msgLimit = imscript.limit("chat_msg", { rate: MSG_RATE, burst: MSG_BURST });
const loginLimit = imscript.limit("chat_login", { rate: LOGINS_PER_MIN / 60, burst: LOGINS_PER_MIN });
const typingLimit = imscript.limit("chat_typing", { rate: 2, burst: 4 });
// Who each WebSocket is (from its session cookie), for every worker.
const conns = imscript.table("chat_conns", { size: 4096, columns: { user: ["string", 32], jti: ["string", 64] } });

const now = () => Math.floor(imscript.now());
const nowS = () => Math.floor(imscript.now() / 1000);
// Numbers from the database may be BigInts (64-bit integers): the
// protocol's are small.
const int = (v) => Number(v);

// ---- database ----

const SCHEMA = [
  "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
  `CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY AUTOINCREMENT,
      name TEXT NOT NULL UNIQUE COLLATE NOCASE, hash TEXT NOT NULL, created INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, user TEXT NOT NULL,
      created INTEGER NOT NULL, expires INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS memberships (user TEXT NOT NULL, room TEXT NOT NULL,
      joined INTEGER NOT NULL, PRIMARY KEY (user, room))`,
  "CREATE INDEX IF NOT EXISTS memberships_room ON memberships (room, user)",
  `CREATE TABLE IF NOT EXISTS reads (user TEXT NOT NULL, conv TEXT NOT NULL,
      seq INTEGER NOT NULL, epoch TEXT NOT NULL DEFAULT '', PRIMARY KEY (user, conv))`,
  `CREATE TABLE IF NOT EXISTS pms (id INTEGER PRIMARY KEY AUTOINCREMENT, sender TEXT NOT NULL,
      recipient TEXT NOT NULL, text TEXT NOT NULL, ts INTEGER NOT NULL)`,
  "CREATE INDEX IF NOT EXISTS pms_sender ON pms (sender, recipient, id)",
  "CREATE INDEX IF NOT EXISTS pms_recipient ON pms (recipient, sender, id)",
];

// setup makes the tables, the session key (once, kept in the database so
// sessions outlive a restart) and a dummy password hash (checked when a
// login names no account, so that it takes as long as a wrong password).
// Once per worker, on first use.
let secret = null;
let dummyHash = null;
let ready = null;
function setup() {
  ready ??= (async () => {
    if (DATA && !imscript.data_dir) await imscript.fs.mkdir(DATA);
    for (const s of SCHEMA) await db.exec(s);
    await db.exec("INSERT OR IGNORE INTO meta (key, value) VALUES ('jwt_secret', ?)", crypto.hex(crypto.random_bytes(32)));
    const key = (await db.queryRow("SELECT value FROM meta WHERE key = 'jwt_secret'")).value;
    dummyHash = await crypto.password_hash(crypto.hex(crypto.random_bytes(16)));
    secret = key;
  })().catch((err) => {
    ready = null;
    throw err;
  });
  return ready;
}

// ---- validation ----

const validUser = (s) => typeof s === "string" && /^[A-Za-z0-9_.-]{1,24}$/.test(s);
const validRoom = (s) => typeof s === "string" && /^[A-Za-z0-9_-]{1,24}$/.test(s);
const bytes = (s) => Buffer.from(s).length;
const validPassword = (s) => typeof s === "string" && bytes(s) >= 8 && bytes(s) <= 200;

// cleanText trims ASCII white space (as the Lua version) and checks the size in bytes.
function cleanText(s) {
  if (typeof s !== "string") return null;
  s = s.replace(/^[ \t\n\r\f\v]+|[ \t\n\r\f\v]+$/g, "");
  const n = bytes(s);
  if (n === 0 || n > MAX_TEXT) return null;
  return s;
}

// seq reads a seq or an id: a whole number >= min.
const seq = (v, min = 0) => (Number.isInteger(v) && v >= min && v <= 2 ** 53 ? v : null);

// recoverOpts reads {since, epoch} for join and bind, or null.
function recoverOpts(t) {
  if (t === null || typeof t !== "object" || seq(t.since) === null) return null;
  return { since: t.since, epoch: typeof t.epoch === "string" ? t.epoch : undefined };
}

// ---- sessions ----

async function sessionToken(user) {
  const jti = crypto.uuid();
  const t = nowS();
  await db.exec("INSERT INTO sessions (id, user, created, expires) VALUES (?, ?, ?, ?)", jti, user, t, t + SESSION_TTL);
  await db.exec("DELETE FROM sessions WHERE expires < ?", t);
  return jwt.sign({ sub: user, jti }, secret, { alg: "HS256", expires_in: SESSION_TTL });
}

// session returns the user of a request's session cookie ({user, jti}) or
// {why}; with checkDb the session must still be in the database (not
// logged out).
async function session(req, checkDb) {
  await setup();
  const token = req.cookie && req.cookie[COOKIE];
  if (typeof token !== "string" || token === "") return { why: "not logged in" };
  const claims = jwt.verify(token, secret, { alg: "HS256" });
  if (!claims) {
    // Genuine but too old? (the same check in both languages)
    if (jwt.verify(token, secret, { alg: "HS256", leeway: 100 * 365 * 86400 })) {
      return { why: "your session has expired: log in again" };
    }
    return { why: "invalid session: log in again" };
  }
  if (typeof claims.sub !== "string" || typeof claims.jti !== "string") return { why: "invalid session: log in again" };
  if (checkDb) {
    const s = await db.queryRow("SELECT user FROM sessions WHERE id = ? AND expires >= ?", claims.jti, nowS());
    if (!s || s.user !== claims.sub) return { why: "your session has ended: log in again" };
  }
  return { user: claims.sub, jti: claims.jti };
}

const cookieOpts = (maxAge) => ({ path: "/", httponly: true, samesite: "Lax", max_age: maxAge });

// ---- HTTP API ----

const apiFail = (res, status, code, message) => res.status(status).json({ error: code, message });

// api wraps a route: a JSON object body (withBody), JSON 500 on errors.
const api = (fn, withBody) => async (req, res) => {
  let input = {};
  if (withBody) {
    input = req.json(); // a body that is not JSON has been answered 400
    if (input === null || typeof input !== "object") {
      return apiFail(res, 400, "bad_request", "the body must be a JSON object");
    }
  }
  try {
    await fn(req, res, input);
  } catch (err) {
    imscript.log.error("chat: api failed", { path: req.path, err: String(err && err.message) });
    apiFail(res, 500, "server_error", "the server could not do that; try again");
  }
};

const tooMany = (res) =>
  apiFail(res, 429, "rate_limited", "too many attempts from your address: wait a minute and try again");

async function loggedIn(res, user, status) {
  const token = await sessionToken(user);
  res.status(status).cookie(COOKIE, token, cookieOpts(SESSION_TTL)).json({ user });
}

srv.route("POST", "/api/register", api(async (req, res, input) => {
  if (!loginLimit.allow(req.remote_ip)) return tooMany(res);
  const { user, password } = input;
  if (!validUser(user)) return apiFail(res, 422, "bad_user", "user names are 1-24 letters, digits, _ . or -");
  if (!validPassword(password)) return apiFail(res, 422, "bad_password", "passwords are 8 to 200 characters");
  await setup();
  // Where #lobby stands, before the account exists: if the history cannot
  // be read the registration fails whole and can be tried again.
  const pos = await position("lobby");
  const hash = await crypto.password_hash(password);
  try {
    await db.exec("INSERT INTO users (name, hash, created) VALUES (?, ?, ?)", user, hash, nowS());
  } catch (err) {
    if (String(err.code).includes("CONSTRAINT")) return apiFail(res, 409, "taken", "that user name is taken");
    throw err;
  }
  await db.exec("INSERT OR IGNORE INTO memberships (user, room, joined) VALUES (?, 'lobby', ?)", user, now());
  await db.exec("INSERT OR IGNORE INTO reads (user, conv, seq, epoch) VALUES (?, '#lobby', ?, ?)", user, pos.seq, pos.epoch);
  await loggedIn(res, user, 201);
}, true));

srv.route("POST", "/api/login", api(async (req, res, input) => {
  if (!loginLimit.allow(req.remote_ip)) return tooMany(res);
  await setup();
  const name = typeof input.user === "string" ? input.user : "";
  const password = typeof input.password === "string" ? input.password : "";
  const u = validUser(name) ? await db.queryRow("SELECT name, hash FROM users WHERE name = ?", name) : null;
  // The same work whether the account exists or not: verify against a
  // dummy hash when it does not.
  const ok = await crypto.password_verify(password, u ? u.hash : dummyHash);
  if (!u || ok !== true) return apiFail(res, 401, "bad_credentials", "wrong user name or password");
  await loggedIn(res, u.name, 200);
}, true));

srv.route("POST", "/api/logout", api(async (req, res) => {
  const s = await session(req, false);
  if (s.user) {
    await db.exec("DELETE FROM sessions WHERE id = ?", s.jti);
    for (const [key, c] of conns) {
      if (c.jti === s.jti) srv.disconnect(Number(key), 4001, "logged out");
    }
  }
  res.cookie(COOKIE, "", cookieOpts(0)).json({ ok: true });
}));

srv.route("GET", "/api/me", api(async (req, res) => {
  const s = await session(req, true);
  if (!s.user) return apiFail(res, 401, "unauthorized", s.why);
  res.json({ user: s.user });
}));

// ---- WebSocket ----

const push = (fd, msg) => srv.push(fd, JSON.stringify(msg));

// need is what a hub call returned, or an error when it failed (the
// history store unreachable, the connection gone): the handler answers
// server_error. The calls that ask the history or presence are awaited:
// in a cluster they return a Promise (the worker goes on meanwhile), on one
// node the value itself.
function need(v, what) {
  if (v === false) throw new Error(what + " failed");
  return v;
}
const position = async (room) => need(await srv.position(room), "position");

const fail = (fd, req, code, message) => push(fd, { type: "error", code, message, request: req });

// Whether a user is online, on any node: each connection of a user is in
// the user's own room "~name" (not a valid room name for a client), and
// presence is cluster-wide (srv.fds is this node's connections only).
const onlineRoom = (user) => "~" + user;
const online = async (user) => (await srv.presence(onlineRoom(user))).length > 0;

const byUser = (a, b) => (a.user < b.user ? -1 : a.user > b.user ? 1 : 0);

// members: the room's members (online ones from presence, offline ones
// from the memberships kept in the database), sorted by name.
async function members(room) {
  const online = new Set(await srv.presence(room));
  const out = [...online].map((user) => ({ user, online: true }));
  for (const r of await db.query("SELECT user FROM memberships WHERE room = ? ORDER BY user LIMIT 200", room)) {
    if (!online.has(r.user)) out.push({ user: r.user, online: false });
  }
  return out.sort(byUser);
}

// roomList: the default rooms and the user's, with their online counts,
// and for the user's rooms the unread count from the read pointer.
async function roomList(user) {
  const member = new Set((await db.query("SELECT room FROM memberships WHERE user = ?", user)).map((r) => r.room));
  const reads = new Map();
  for (const r of await db.query("SELECT conv, seq, epoch FROM reads WHERE user = ? AND conv LIKE '#%'", user)) {
    reads.set(r.conv.slice(1), r);
  }
  const names = [...new Set([...DEFAULT_ROOMS, ...member])].sort();
  return Promise.all(names.map(async (name) => {
    const pos = await position(name);
    const e = { name, count: (await srv.presence(name)).length, member: member.has(name), seq: pos.seq };
    if (e.member) {
      const rd = reads.get(name);
      e.unread = rd && rd.epoch === pos.epoch ? Math.max(0, pos.seq - int(rd.seq)) : pos.seq;
    }
    return e;
  }));
}

// conversations: the user's private conversations, newest first, with the
// last message, the unread count and how far the other user has read.
async function conversations(user) {
  const rows = await db.query(`
      SELECT c.other AS other, p.id AS id, p.sender AS sender, p.text AS text, p.ts AS ts,
        (SELECT count(*) FROM pms u WHERE u.sender = c.other AND u.recipient = ?1 AND u.id >
           coalesce((SELECT seq FROM reads WHERE user = ?1 AND conv = '@' || c.other), 0)) AS unread,
        coalesce((SELECT seq FROM reads WHERE user = c.other AND conv = '@' || ?1), 0) AS seen
      FROM (SELECT other, max(id) AS last FROM (
              SELECT recipient AS other, id FROM pms WHERE sender = ?1
              UNION ALL SELECT sender AS other, id FROM pms WHERE recipient = ?1)
            GROUP BY other) c
      JOIN pms p ON p.id = c.last
      ORDER BY p.id DESC LIMIT 100`, user);
  return Promise.all(rows.map(async (r) => ({
    with: r.other,
    online: await online(r.other),
    unread: int(r.unread),
    seen: int(r.seen),
    last: { id: int(r.id), from: r.sender, to: r.sender === user ? r.other : user, text: r.text, ts: int(r.ts) },
  })));
}

// history: a page of the room's messages before `before` (or the last
// ones), oldest first, and whether older ones are kept.
async function history(room, before) {
  const opts = { limit: PAGE + 1 };
  if (before) opts.before = before;
  const items = need(await srv.history(room, opts), "history");
  const more = items.length > PAGE;
  return [items.slice(more ? 1 : 0).map((it) => JSON.parse(String(it.data))), more];
}

const readPointer = (user, conv) => db.queryRow("SELECT seq, epoch FROM reads WHERE user = ? AND conv = ?", user, conv);

const handlers = {
  async hello(fd, m, user) {
    if (srv.uid(fd) != null) return fail(fd, "hello", "logged_in", "already logged in");
    await setup();
    const pos = await srv.bind(fd, user, recoverOpts(m.inbox) || {});
    if (typeof pos !== "object") throw new Error("bind failed");
    await srv.join(fd, onlineRoom(user));
    push(fd, {
      type: "welcome",
      user,
      fd,
      heartbeat: HEARTBEAT,
      inbox: { seq: pos.seq, epoch: pos.epoch, recovered: pos.recovered },
      rooms: await roomList(user),
      conversations: await conversations(user),
      limits: { text: MAX_TEXT, rate: MSG_RATE, burst: MSG_BURST, page: PAGE },
    });
  },

  async join(fd, m, user) {
    const room = m.room;
    if (!validRoom(room)) return fail(fd, "join", "bad_room", "room names are 1-24 letters, digits, _ or -");
    const opts = recoverOpts(m);
    /** @type {imscript.JoinResult} */
    let res;
    if (srv.rooms(fd).includes(room)) {
      // Joined already on this connection: it has had every message.
      const pos = await position(room);
      res = { seq: pos.seq, epoch: pos.epoch };
      if (opts) res.recovered = true;
    } else {
      res = need(await srv.join(fd, room, opts || {}), "join");
    }
    const added = await db.exec("INSERT OR IGNORE INTO memberships (user, room, joined) VALUES (?, ?, ?)", user, room, now());
    if (int(added.rows_affected) > 0) {
      // A new member starts with nothing unread.
      await db.exec(`INSERT INTO reads (user, conv, seq, epoch) VALUES (?, ?, ?, ?)
          ON CONFLICT (user, conv) DO UPDATE SET seq = excluded.seq, epoch = excluded.epoch`,
      user, "#" + room, res.seq, res.epoch);
      srv.sendToUid(user, { type: "rooms", rooms: await roomList(user) }, { history: false });
    }
    const rd = await readPointer(user, "#" + room);
    const reply = {
      type: "joined",
      room,
      seq: res.seq,
      epoch: res.epoch,
      recovered: res.recovered,
      read: rd && rd.epoch === res.epoch ? int(rd.seq) : 0,
      members: await members(room),
    };
    if (res.recovered !== true) [reply.history, reply.more] = await history(room);
    push(fd, reply);
  },

  async leave(fd, m, user) {
    const room = m.room;
    if (!validRoom(room)) return fail(fd, "leave", "bad_room", "bad room name");
    const r = await db.exec("DELETE FROM memberships WHERE user = ? AND room = ?", user, room);
    if (int(r.rows_affected) === 0 && !srv.rooms(fd).includes(room)) return fail(fd, "leave", "not_in_room", "not in #" + room);
    // Every tab of the user leaves.
    for (const other of srv.fds(user)) {
      if (srv.rooms(other).includes(room)) srv.leave(other, room);
    }
    srv.sendToUid(user, { type: "left", room }, { history: false });
  },

  say(fd, m, user) {
    if (!validRoom(m.room) || !srv.rooms(fd).includes(m.room)) return fail(fd, "say", "not_in_room", "join the room first");
    const text = cleanText(m.text);
    if (text === null) return fail(fd, "say", "bad_text", "messages are 1-" + MAX_TEXT + " bytes");
    if (!msgLimit.allow(user)) return fail(fd, "say", "rate_limited", "slow down: at most " + MSG_RATE + " messages a second");
    srv.publish(m.room, { type: "msg", room: m.room, from: user, text });
  },

  async history(fd, m) {
    if (!validRoom(m.room) || !srv.rooms(fd).includes(m.room)) {
      return fail(fd, "history", "not_in_room", "join the room first");
    }
    const before = seq(m.before, 1);
    if (before === null) return fail(fd, "history", "bad_seq", "before: a seq expected");
    const [messages, more] = await history(m.room, before);
    push(fd, { type: "history", room: m.room, messages, more });
  },

  async pm(fd, m, user) {
    const text = cleanText(m.text);
    if (text === null) return fail(fd, "pm", "bad_text", "messages are 1-" + MAX_TEXT + " bytes");
    const to = await otherUser(fd, "pm", m.to, user);
    if (!to) return;
    if (!msgLimit.allow(user)) return fail(fd, "pm", "rate_limited", "slow down: at most " + MSG_RATE + " messages a second");
    const r = await db.exec("INSERT INTO pms (sender, recipient, text, ts) VALUES (?, ?, ?, ?)", user, to, text, now());
    const msg = { type: "pm", id: int(r.last_insert_id), from: user, to, text };
    srv.sendToUid(to, msg);
    srv.sendToUid(user, msg);
  },

  async pm_history(fd, m, user) {
    const other = await otherUser(fd, "pm_history", m.with, user);
    if (!other) return;
    let before = 2 ** 53;
    if (m.before !== undefined && m.before !== null) {
      before = seq(m.before, 1);
      if (before === null) return fail(fd, "pm_history", "bad_seq", "before: an id expected");
    }
    const rows = await db.query(`SELECT id, sender, recipient, text, ts FROM pms
        WHERE ((sender = ?1 AND recipient = ?2) OR (sender = ?2 AND recipient = ?1)) AND id < ?3
        ORDER BY id DESC LIMIT ?4`, user, other, before, PAGE + 1);
    const more = rows.length > PAGE;
    const messages = rows.slice(0, PAGE).reverse()
      .map((r) => ({ id: int(r.id), from: r.sender, to: r.recipient, text: r.text, ts: int(r.ts) }));
    const seen = await readPointer(other, "@" + user);
    const mine = await readPointer(user, "@" + other);
    push(fd, {
      type: "pm_history",
      with: other,
      messages,
      more,
      seen: seen ? int(seen.seq) : 0,
      read: mine ? int(mine.seq) : 0,
    });
  },

  async read(fd, m, user) {
    if (m.room !== undefined && m.room !== null) {
      if (!validRoom(m.room)) return fail(fd, "read", "bad_room", "bad room name");
      let s = seq(m.seq);
      if (s === null) return fail(fd, "read", "bad_seq", "seq: a seq expected");
      const pos = await position(m.room);
      s = Math.min(s, pos.seq);
      if (await advance(user, "#" + m.room, s, pos.epoch)) {
        srv.sendToUid(user, { type: "read", room: m.room, upto: s }, { history: false });
      }
      return;
    }
    const other = await otherUser(fd, "read", m.with, user);
    if (!other) return;
    const id = seq(m.id);
    if (id === null) return fail(fd, "read", "bad_seq", "id: a message id expected");
    if (await advance(user, "@" + other, id, "")) {
      srv.sendToUid(other, { type: "seen", by: user, id });
      srv.sendToUid(user, { type: "read", with: other, id }, { history: false });
    }
  },

  typing(fd, m, user) {
    if (!typingLimit.allow(user)) return; // dropped: typing notices are best effort
    if (m.room !== undefined && m.room !== null) {
      if (!validRoom(m.room) || !srv.rooms(fd).includes(m.room)) return fail(fd, "typing", "not_in_room", "join the room first");
      srv.publish(m.room, { type: "typing", room: m.room, from: user }, { except: fd, history: false });
      return;
    }
    if (!validUser(m.to) || m.to === user) return fail(fd, "typing", "bad_user", "bad user name");
    srv.sendToUid(m.to, { type: "typing", from: user, to: m.to }, { history: false });
  },

  async rooms(fd, m, user) {
    push(fd, { type: "rooms", rooms: await roomList(user) });
  },

  async members(fd, m) {
    if (!validRoom(m.room)) return fail(fd, "members", "bad_room", "bad room name");
    push(fd, { type: "members", room: m.room, members: await members(m.room) });
  },
};

// otherUser checks the `to` / `with` of a private message: a user that
// exists and is not the sender; returns the name as registered.
async function otherUser(fd, req, name, user) {
  if (!validUser(name)) {
    fail(fd, req, "bad_user", "user names are 1-24 letters, digits, _ . or -");
    return null;
  }
  const u = await db.queryRow("SELECT name FROM users WHERE name = ?", name);
  if (!u) {
    fail(fd, req, "no_such_user", "there is no user " + name);
    return null;
  }
  if (u.name === user) {
    fail(fd, req, "bad_user", "that is you");
    return null;
  }
  return u.name;
}

// advance moves a read pointer forward; true when it moved.
async function advance(user, conv, s, epoch) {
  const r = await db.exec(`INSERT INTO reads (user, conv, seq, epoch) VALUES (?, ?, ?, ?)
      ON CONFLICT (user, conv) DO UPDATE SET seq = excluded.seq, epoch = excluded.epoch
      WHERE excluded.seq > reads.seq OR excluded.epoch <> reads.epoch`, user, conv, s, epoch);
  return int(r.rows_affected) > 0;
}

srv.on("start", (srv) => {
  console.log("chat server on http://127.0.0.1:" + srv.port + "/" + (DATA ? " (data in " + DATA + ")" : " (data in memory)"));
});

// The upgrade needs a page of this server (a browser sends its Origin)
// and a valid session cookie.
srv.on("handshake", async (req, res) => {
  const origin = req.header.origin, host = req.header.host || "";
  if (origin !== undefined && origin !== null && origin !== "http://" + host && origin !== "https://" + host) {
    res.status(403).header("Content-Type", "application/json; charset=utf-8");
    res.send(JSON.stringify({ error: "forbidden", message: "this page may not open a chat connection" }));
    return false;
  }
  const s = await session(req, true);
  if (!s.user) {
    res.status(401).header("Content-Type", "application/json; charset=utf-8");
    res.send(JSON.stringify({ error: "unauthorized", message: s.why }));
    return false;
  }
});

srv.on("open", async (srv, req) => {
  const s = await session(req, false);
  if (!s.user) return srv.disconnect(req.fd, 4401, "unauthorized");
  conns.set(String(req.fd), { user: s.user, jti: s.jti });
});

srv.on("message", async (srv, frame) => {
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
  const who = conns.get(String(fd));
  if (!who) return srv.disconnect(fd, 4401, "unauthorized");
  if (m.type !== "hello" && srv.uid(fd) == null) return fail(fd, m.type, "not_logged_in", "send hello first");
  try {
    await h(fd, m, who.user);
  } catch (err) {
    imscript.log.error("chat: handler failed", { type: m.type, err: String(err && err.message) });
    fail(fd, m.type, "server_error", "the server could not do that; try again");
  }
});

// presence_events: a user's first connection entered / last one left a room.
// Every node with members of the room gets the event (in a cluster too):
// each tells its own members, so that every tab hears it once.
srv.on("presence", (srv, room, uid, what) => {
  if (room.startsWith("~")) return; // a user's own room (online)
  const msg = JSON.stringify({ type: "presence", room, user: uid, online: what === "join" });
  for (const fd of srv.members(room)) srv.push(fd, msg);
});

srv.on("close", (srv, fd) => {
  conns.del(String(fd));
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
