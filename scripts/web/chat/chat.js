// imscript chat — the browser client (plain JS, no build step).
// Protocol: PROTOCOL.md in this folder. Accounts over /api/*, a session in
// an HttpOnly cookie, then one WebSocket per tab. The client keeps, per
// room, the last seq and the epoch it saw (and the same for the user's
// personal channel, in localStorage) and re-joins with {since, epoch}
// after a reconnect, so it gets exactly the messages it missed.
(function () {
  "use strict";

  const PING_EVERY = 20000; // ms between pings
  const PONG_WAIT = 10000; // ms without a pong before the socket is deemed dead
  const BACKOFF_MIN = 500;
  const BACKOFF_MAX = 15000;
  const TYPING_EVERY = 2500; // ms between typing notices sent
  const TYPING_SHOW = 5000; // ms a typing notice stays shown
  const USER_RE = /^[A-Za-z0-9_.-]{1,24}$/;
  const ROOM_RE = /^[A-Za-z0-9_-]{1,24}$/;
  const NARROW = window.matchMedia("(max-width: 699px)");
  const MEDIUM = window.matchMedia("(max-width: 1099px)");

  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const asList = (x) => (Array.isArray(x) ? x : []);
  const num = (x) => (typeof x === "number" && isFinite(x) ? x : 0);

  const st = {
    user: null, // the logged-in user (null: the auth form shows)
    ws: null,
    opened: false, // this socket got past the handshake
    online: false, // welcome received
    helloSince: false, // the hello asked to recover the personal channel
    attempt: 0,
    retryAt: 0,
    timers: { retry: 0, countdown: 0, ping: 0, pong: 0, read: 0, typing: 0, toast: 0, save: 0 },
    rooms: new Map(), // name -> room state (see room())
    dms: new Map(), // user -> conversation state (see dm())
    inbox: { seq: 0, epoch: "" }, // the personal channel's position
    current: "#lobby",
    lastTyping: 0,
    limits: { text: 4000, rate: 5, burst: 10, page: 50 },
  };

  // ---- HTTP API ----

  async function api(method, path, body) {
    let res;
    try {
      res = await fetch(path, {
        method,
        headers: body ? { "Content-Type": "application/json" } : {},
        body: body ? JSON.stringify(body) : undefined,
        credentials: "same-origin",
      });
    } catch (e) {
      return { status: 0, data: { error: "network", message: "the server cannot be reached" } };
    }
    let data = {};
    try {
      data = await res.json();
    } catch (e) { /* no body */ }
    return { status: res.status, data };
  }

  // ---- connection ----

  function wsURL() {
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";
  }

  function setStatus(state, text) {
    $("status").dataset.state = state;
    $("status-text").textContent = text || state;
    const usable = state === "online";
    $("input").disabled = !usable;
    $("send").disabled = !usable;
  }

  function send(obj) {
    if (st.ws && st.ws.readyState === WebSocket.OPEN) {
      st.ws.send(JSON.stringify(obj));
      return true;
    }
    return false;
  }

  function connect() {
    clearTimers();
    setStatus("connecting", st.attempt ? "reconnecting…" : "connecting…");
    let ws;
    try {
      ws = new WebSocket(wsURL());
    } catch (e) {
      scheduleReconnect();
      return;
    }
    st.ws = ws;
    st.opened = false;
    ws.onopen = () => {
      if (st.ws !== ws) return;
      st.opened = true;
      const saved = loadInbox();
      st.helloSince = !!saved;
      send(saved ? { type: "hello", inbox: saved } : { type: "hello" });
    };
    ws.onmessage = (ev) => {
      if (st.ws !== ws) return;
      let m;
      try {
        m = JSON.parse(ev.data);
      } catch (e) {
        return;
      }
      handle(m);
    };
    ws.onclose = (ev) => {
      if (st.ws !== ws) return;
      st.ws = null;
      const was = st.online;
      st.online = false;
      clearTimers();
      for (const r of st.rooms.values()) {
        r.joined = false;
        r.pending = false;
      }
      if (!st.user) return setStatus("offline", "offline");
      if (ev.code === 4001 || ev.code === 4401) return signedOut("You have been logged out.");
      if (!st.opened) {
        // Refused before the upgrade (401) or no server: ask which.
        api("GET", "/api/me").then((r) => {
          if (r.status === 401) signedOut(r.data.message || "Your session has ended: log in again.");
          else scheduleReconnect();
        });
        setStatus("offline", "offline");
        return;
      }
      if (was) notice(st.current, "connection lost — reconnecting…", "error");
      scheduleReconnect();
    };
    ws.onerror = () => {}; // onclose follows
  }

  function scheduleReconnect() {
    const base = Math.min(BACKOFF_MAX, BACKOFF_MIN * Math.pow(2, st.attempt));
    const delay = Math.round(base * (0.6 + Math.random() * 0.4));
    st.attempt++;
    st.retryAt = Date.now() + delay;
    const tick = () => {
      const s = Math.max(0, Math.ceil((st.retryAt - Date.now()) / 1000));
      setStatus("offline", "offline — retry in " + s + "s");
    };
    tick();
    st.timers.countdown = setInterval(tick, 250);
    st.timers.retry = setTimeout(connect, delay);
  }

  function clearTimers() {
    clearTimeout(st.timers.retry);
    clearInterval(st.timers.countdown);
    clearInterval(st.timers.ping);
    clearTimeout(st.timers.pong);
  }

  function startHeartbeat() {
    st.timers.ping = setInterval(() => {
      send({ type: "ping", t: Date.now() });
      clearTimeout(st.timers.pong);
      st.timers.pong = setTimeout(() => {
        if (st.ws) st.ws.close(); // no pong: reconnect
      }, PONG_WAIT);
    }, PING_EVERY);
  }

  // The personal channel's position survives a reload (and a logout): the
  // next hello recovers what arrived meanwhile.
  function inboxKey() {
    return "imscript.inbox." + st.user;
  }

  function loadInbox() {
    try {
      const v = JSON.parse(localStorage.getItem(inboxKey()) || "null");
      if (v && typeof v.seq === "number" && typeof v.epoch === "string") return { since: v.seq, epoch: v.epoch };
    } catch (e) { /* private mode */ }
    return null;
  }

  function saveInbox() {
    clearTimeout(st.timers.save);
    st.timers.save = setTimeout(() => {
      try {
        localStorage.setItem(inboxKey(), JSON.stringify(st.inbox));
      } catch (e) { /* private mode */ }
    }, 100);
  }

  function seenOnInbox(m) {
    if (num(m.seq) > st.inbox.seq) {
      st.inbox.seq = m.seq;
      if (st.online) saveInbox();
    }
  }

  // ---- state ----

  function room(name) {
    let r = st.rooms.get(name);
    if (!r) {
      r = {
        name,
        member: false, // the user belongs to it (kept on the server)
        joined: false, // this connection is in it
        pending: false, // a join is on its way: messages go to fresh
        fresh: [],
        since: null, // the seq the pending join recovers from
        count: 0, // users online in it
        unread: 0,
        seq: 0, // the last seq this tab has
        epoch: null, // the room's epoch when this tab joined (null: never joined)
        read: 0, // the user's read pointer
        readSent: 0,
        items: [], // messages (by seq) and notices
        more: false,
        loadingOlder: false,
        members: new Map(), // user -> online
        typing: new Map(), // user -> until (ms)
      };
      st.rooms.set(name, r);
    }
    return r;
  }

  function dm(user) {
    let d = st.dms.get(user);
    if (!d) {
      d = {
        with: user,
        items: [], // messages by id, and notices
        loaded: false,
        loading: false,
        more: false,
        loadingOlder: false,
        unread: 0,
        seen: 0, // the other user has read up to this id
        read: 0, // this user has read up to this id
        readSent: 0,
        last: null,
        online: anyRoomHasOnline(user),
        typing: 0, // until (ms)
      };
      st.dms.set(user, d);
    }
    return d;
  }

  const convOf = (key) => (key.startsWith("#") ? room(key.slice(1)) : dm(key.slice(1)));

  // Items are kept sorted by pos: a message's seq (rooms) or id (private
  // conversations); a notice goes just after the message it follows.
  function insertItem(list, item) {
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid].pos <= item.pos) lo = mid + 1;
      else hi = mid;
    }
    if (item.kind !== "notice" && lo > 0 && list[lo - 1].pos === item.pos && list[lo - 1].kind !== "notice") return false;
    list.splice(lo, 0, item);
    return true;
  }

  function lastPos(list) {
    for (let i = list.length - 1; i >= 0; i--) if (list[i].kind !== "notice") return list[i].pos;
    return 0;
  }

  function roomMsg(m) {
    return { kind: "msg", pos: num(m.seq), seq: num(m.seq), from: String(m.from), text: String(m.text), ts: num(m.ts) };
  }

  function pmMsg(m) {
    return { kind: "pm", pos: num(m.id), id: num(m.id), from: String(m.from), to: String(m.to), text: String(m.text), ts: num(m.ts) };
  }

  function notice(key, text, cls) {
    const c = convOf(key);
    const last = c.items[c.items.length - 1];
    if (last && last.kind === "notice" && last.base === text) {
      // The same notice again (a burst of refusals): one line with a count.
      last.n++;
      last.text = text + " (×" + last.n + ")";
      last.ts = Date.now();
    } else {
      insertItem(c.items, { kind: "notice", pos: lastPos(c.items) + 0.5, text, base: text, n: 1, cls: cls || "", ts: Date.now() });
    }
    if (key === st.current) render();
  }

  function isViewing(key) {
    return st.current === key && st.online && document.visibilityState === "visible";
  }

  // ---- messages from the server ----

  function handle(m) {
    switch (m.type) {
      case "welcome":
        return onWelcome(m);
      case "joined":
        return onJoined(m);
      case "left": {
        const r = room(m.room);
        r.joined = r.member = r.pending = false;
        r.members.clear();
        if (st.current === "#" + m.room) select("#lobby");
        else renderSide();
        return;
      }
      case "msg": {
        const r = room(m.room);
        if (r.pending) {
          r.fresh.push(m);
          return;
        }
        if (!r.joined) return;
        const item = roomMsg(m);
        if (!insertItem(r.items, item)) return; // had it already
        r.seq = Math.max(r.seq, item.seq);
        r.typing.delete(item.from);
        if (isViewing("#" + r.name)) scheduleRead();
        else if (item.from !== st.user) r.unread++;
        changed("#" + r.name);
        return;
      }
      case "history": {
        const r = room(m.room);
        const box = $("messages");
        const fromBottom = box.scrollHeight - box.scrollTop;
        for (const x of asList(m.messages)) insertItem(r.items, roomMsg(x));
        r.more = !!m.more;
        r.loadingOlder = false;
        if (st.current === "#" + r.name) {
          render(true);
          box.scrollTop = box.scrollHeight - fromBottom; // stay where the reader was
        }
        return;
      }
      case "presence": {
        const r = room(m.room);
        r.members.set(String(m.user), !!m.online);
        r.count = onlineCount(r);
        if (st.dms.has(m.user)) dm(m.user).online = !!m.online || anyRoomHasOnline(m.user);
        if (st.current === "#" + r.name) renderMembers();
        renderSide();
        return;
      }
      case "members": {
        const r = room(m.room);
        setMembers(r, m.members);
        if (st.current === "#" + r.name) renderMembers();
        renderSide();
        return;
      }
      case "typing":
        return onTyping(m);
      case "pm":
        seenOnInbox(m);
        return onPM(m);
      case "pm_history":
        return onPMHistory(m);
      case "seen": {
        seenOnInbox(m);
        const d = dm(String(m.by));
        d.seen = Math.max(d.seen, num(m.id));
        if (st.current === "@" + d.with) render();
        return;
      }
      case "read":
        return onRead(m);
      case "rooms":
        setRooms(asList(m.rooms));
        joinMemberRooms();
        renderSide();
        return;
      case "pong":
        clearTimeout(st.timers.pong);
        return;
      case "error":
        return onError(m);
    }
  }

  function onWelcome(m) {
    st.online = true;
    st.attempt = 0;
    st.user = String(m.user);
    if (m.limits) st.limits = Object.assign(st.limits, m.limits);
    const inbox = m.inbox || {};
    st.inbox = { seq: num(inbox.seq), epoch: String(inbox.epoch || "") };
    saveInbox();
    setStatus("online", "online");
    $("auth").hidden = true;
    $("me-name").textContent = st.user;
    setAvatar($("me-avatar"), st.user);
    setRooms(asList(m.rooms));
    setConversations(asList(m.conversations));
    if (st.helloSince && inbox.recovered === false) {
      // The personal channel lost what this browser last saw: reload the
      // conversations (the list above is fresh) and say so.
      for (const d of st.dms.values()) d.loaded = false;
      if (st.current.startsWith("@")) notice(st.current, "history no longer reaches back — reloaded", "warn");
    }
    startHeartbeat();
    joinMemberRooms();
    let cur = st.current;
    if (cur.startsWith("#") && !room(cur.slice(1)).member) cur = "#lobby";
    select(cur);
  }

  // joinMemberRooms joins, on this connection, the rooms the user belongs
  // to: with the position this tab saw when it was in the room already.
  function joinMemberRooms() {
    for (const r of st.rooms.values()) {
      if (r.member && !r.joined && !r.pending) joinRoom(r);
    }
  }

  function joinRoom(r) {
    r.pending = true;
    r.fresh = [];
    const msg = { type: "join", room: r.name };
    if (r.epoch !== null) {
      msg.since = r.seq;
      msg.epoch = r.epoch;
      r.since = r.seq;
    } else {
      r.since = null;
    }
    send(msg);
  }

  function onJoined(m) {
    const r = room(m.room);
    const fresh = r.fresh;
    const asked = r.since !== null;
    r.fresh = [];
    r.pending = false;
    r.joined = r.member = true;
    r.read = Math.max(num(m.read), 0);
    if (m.recovered === true) {
      // Exactly the missed messages came before this reply, in order.
      for (const x of fresh) insertItem(r.items, roomMsg(x));
    } else {
      r.items = [];
      for (const x of asList(m.history)) insertItem(r.items, roomMsg(x));
      for (const x of fresh) insertItem(r.items, roomMsg(x));
      r.more = !!m.more;
      if (asked) {
        insertItem(r.items, { kind: "notice", pos: lastPos(r.items) + 0.5, text: "history no longer reaches back — reloaded", cls: "warn", ts: Date.now() });
      }
    }
    r.epoch = String(m.epoch || "");
    r.seq = Math.max(num(m.seq), lastPos(r.items));
    setMembers(r, m.members);
    if (isViewing("#" + r.name)) scheduleRead();
    else r.unread = unreadOf(r);
    changed("#" + r.name);
    if (st.current === "#" + r.name) renderMembers();
  }

  // unreadOf counts the messages of others after the read pointer: from
  // the messages this tab has when they reach back that far.
  function unreadOf(r) {
    let n = 0;
    let first = Infinity;
    for (const it of r.items) {
      if (it.kind !== "msg") continue;
      first = Math.min(first, it.seq);
      if (it.seq > r.read && it.from !== st.user) n++;
    }
    if (first > r.read + 1 && r.more) return Math.max(n, r.seq - r.read);
    return n;
  }

  function onTyping(m) {
    const from = String(m.from);
    if (from === st.user) return;
    if (m.room) {
      const r = room(m.room);
      r.typing.set(from, Date.now() + TYPING_SHOW);
    } else {
      dm(from).typing = Date.now() + TYPING_SHOW;
    }
    renderTyping();
    clearTimeout(st.timers.typing);
    st.timers.typing = setTimeout(renderTyping, TYPING_SHOW + 50);
  }

  function onPM(m) {
    const item = pmMsg(m);
    const other = item.from === st.user ? item.to : item.from;
    const d = dm(other);
    if (!insertItem(d.items, item)) return;
    if (!d.last || item.id > d.last.id) d.last = item;
    if (item.from !== st.user) {
      d.typing = 0;
      if (isViewing("@" + other)) scheduleRead();
      else if (item.id > d.read) d.unread++;
    }
    changed("@" + other);
  }

  function onPMHistory(m) {
    const d = dm(String(m.with));
    const box = $("messages");
    const older = d.loadingOlder;
    const fromBottom = box.scrollHeight - box.scrollTop;
    for (const x of asList(m.messages)) insertItem(d.items, pmMsg(x));
    const last = lastPos(d.items);
    if (last && (!d.last || last > d.last.id)) d.last = d.items.filter((x) => x.kind !== "notice").pop();
    d.more = !!m.more;
    d.loaded = true;
    d.loading = d.loadingOlder = false;
    d.seen = Math.max(d.seen, num(m.seen));
    d.read = Math.max(d.read, num(m.read));
    if (st.current === "@" + d.with) {
      render(older);
      if (older) box.scrollTop = box.scrollHeight - fromBottom;
      if (isViewing("@" + d.with)) scheduleRead();
    }
  }

  function onRead(m) {
    if (m.room) {
      const r = room(m.room);
      r.read = Math.max(r.read, num(m.upto));
      r.readSent = Math.max(r.readSent, r.read);
      r.unread = unreadOf(r);
    } else if (m.with) {
      const d = dm(String(m.with));
      d.read = Math.max(d.read, num(m.id));
      d.readSent = Math.max(d.readSent, d.read);
      d.unread = d.items.filter((x) => x.kind === "pm" && x.from === d.with && x.id > d.read).length;
    }
    renderSide();
  }

  function onError(m) {
    if (m.request === "pm_history" && st.current.startsWith("@")) {
      const d = dm(st.current.slice(1));
      d.loading = d.loadingOlder = false;
      d.loaded = true;
    }
    if (m.request === "history" && st.current.startsWith("#")) room(st.current.slice(1)).loadingOlder = false;
    let text = String(m.message || m.code || "error");
    text = text.charAt(0).toUpperCase() + text.slice(1) + (/[.!?]$/.test(text) ? "" : ".");
    notice(st.current, text, "error");
    toast(text);
  }

  function setRooms(list) {
    for (const x of list) {
      if (!x || typeof x.name !== "string") continue;
      const r = room(x.name);
      r.member = !!x.member;
      r.count = num(x.count);
      if (r.member && typeof x.unread === "number" && !r.joined) r.unread = x.unread;
    }
  }

  function setConversations(list) {
    for (const c of list) {
      if (!c || typeof c.with !== "string") continue;
      const d = dm(c.with);
      const last = c.last ? pmMsg(Object.assign({ type: "pm" }, c.last)) : null;
      if (last) insertItem(d.items, last);
      if (last && (!d.last || last.id > d.last.id)) d.last = last;
      // Messages that came in after the server counted.
      const extra = d.items.filter((x) => x.kind === "pm" && x.from === d.with && last && x.id > last.id).length;
      d.unread = num(c.unread) + extra;
      d.seen = Math.max(d.seen, num(c.seen));
      d.online = !!c.online;
    }
  }

  function setMembers(r, list) {
    r.members = new Map();
    for (const x of asList(list)) if (x && x.user !== undefined) r.members.set(String(x.user), !!x.online);
    r.count = onlineCount(r);
  }

  function onlineCount(r) {
    let n = 0;
    for (const on of r.members.values()) if (on) n++;
    return n;
  }

  function anyRoomHasOnline(user) {
    for (const r of st.rooms.values()) if (r.members.get(user)) return true;
    return false;
  }

  // ---- read pointers ----

  function scheduleRead() {
    clearTimeout(st.timers.read);
    st.timers.read = setTimeout(markRead, 150);
  }

  // flushRead sends the read pointer of what is on screen now (before the
  // reader moves on).
  function flushRead() {
    if (!st.timers.read) return;
    clearTimeout(st.timers.read);
    markRead();
  }

  function markRead() {
    st.timers.read = 0;
    if (!isViewing(st.current)) return;
    const key = st.current;
    if (key.startsWith("#")) {
      const r = room(key.slice(1));
      r.unread = 0;
      if (r.joined && r.seq > r.readSent && r.seq > 0) {
        r.readSent = r.read = r.seq;
        send({ type: "read", room: r.name, seq: r.seq });
      }
    } else {
      const d = dm(key.slice(1));
      d.unread = 0;
      let last = 0;
      for (const x of d.items) if (x.kind === "pm" && x.from === d.with) last = Math.max(last, x.id);
      if (last > d.readSent && last > d.read) {
        d.readSent = d.read = last;
        send({ type: "read", with: d.with, id: last });
      }
    }
    renderSide();
  }

  // ---- rendering ----

  const COLORS = ["#e5484d", "#f76b15", "#c2410c", "#16a34a", "#0d9488", "#0284c7", "#4f46e5", "#9333ea", "#db2777", "#65a30d"];
  function colorOf(name) {
    let h = 0;
    for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
    return COLORS[h % COLORS.length];
  }

  function setAvatar(a, name) {
    a.textContent = name.slice(0, 1);
    a.style.background = colorOf(name);
  }

  function avatar(name) {
    const a = el("span", "avatar");
    setAvatar(a, name);
    return a;
  }

  function hhmm(ts) {
    const d = new Date(ts || Date.now());
    return String(d.getHours()).padStart(2, "0") + ":" + String(d.getMinutes()).padStart(2, "0");
  }

  function dayOf(ts) {
    const d = new Date(ts || Date.now());
    const today = new Date();
    const y = new Date(Date.now() - 86400000);
    if (d.toDateString() === today.toDateString()) return "Today";
    if (d.toDateString() === y.toDateString()) return "Yesterday";
    return d.toLocaleDateString(undefined, { weekday: "long", month: "long", day: "numeric" });
  }

  let renderQueued = false;
  // changed re-renders what a new message affects, once per frame.
  function changed(key) {
    if (key === st.current) render();
    else renderSide();
    updateTitle();
  }

  function render(keepScroll) {
    const box = $("messages");
    const stick = box.scrollTop + box.clientHeight >= box.scrollHeight - 60;
    renderMessages();
    renderTyping();
    renderSide();
    if (!keepScroll && (stick || renderQueued)) box.scrollTop = box.scrollHeight;
    renderQueued = false;
  }

  function renderMessages() {
    const box = $("messages");
    box.textContent = "";
    const key = st.current;
    const c = convOf(key);
    const isRoom = key.startsWith("#");
    if (!isRoom && !c.loaded) {
      box.appendChild(el("p", "start", "Loading…"));
    } else if (c.more) {
      const b = el("button", "older", c.loadingOlder ? "Loading…" : "Load older messages");
      b.id = "load-older";
      b.type = "button";
      b.onclick = loadOlder;
      box.appendChild(b);
    } else if (c.items.length > 0) {
      box.appendChild(el("p", "start", isRoom ? "This is the beginning of " + key + "." : "This is the beginning of your conversation with " + key.slice(1) + "."));
    }
    if (c.items.length === 0) {
      const p = el("p", "empty");
      if (isRoom) p.append("No messages in ", el("b", "", key), " yet. Say hello!");
      else p.append("This is the start of your private conversation with ", el("b", "", key.slice(1)), ".");
      box.appendChild(p);
      return;
    }
    // "Seen" goes under the last of my messages the other user has read.
    let seenId = 0;
    if (!isRoom) {
      for (const x of c.items) if (x.kind === "pm" && x.from === st.user && x.id <= c.seen) seenId = x.id;
    }
    let prev = null;
    let day = "";
    for (const e of c.items) {
      if (e.kind !== "notice") {
        const d = dayOf(e.ts);
        if (d !== day) {
          day = d;
          const sep = el("div", "day");
          sep.appendChild(el("span", "", d));
          box.appendChild(sep);
          prev = null;
        }
      }
      box.appendChild(renderEntry(e, prev));
      if (e.kind === "pm" && e.id === seenId) {
        const s = el("div", "seen", "Seen");
        s.title = c.with + " has read this";
        box.appendChild(s);
      }
      prev = e;
    }
  }

  function renderEntry(e, prev) {
    if (e.kind === "notice") {
      const n = el("div", "notice " + e.cls);
      n.appendChild(el("span", "", e.text + " · " + hhmm(e.ts)));
      return n;
    }
    const cont = prev && prev.kind === e.kind && prev.from === e.from && e.ts - prev.ts < 300000;
    const row = el("div", "msg " + e.kind + (e.from === st.user ? " mine" : "") + (cont ? " cont" : ""));
    row.dataset.from = e.from;
    row.dataset.pos = String(e.pos);
    row.appendChild(avatar(e.from));
    const body = el("div", "body");
    if (!cont) {
      const head = el("div", "head");
      const nick = el("span", "nick", e.from);
      nick.style.color = colorOf(e.from);
      head.appendChild(nick);
      head.appendChild(el("span", "time", hhmm(e.ts)));
      body.appendChild(head);
    }
    body.appendChild(el("div", "text", e.text));
    body.title = new Date(e.ts).toLocaleString();
    row.appendChild(body);
    return row;
  }

  function renderTyping() {
    const key = st.current;
    const now = Date.now();
    let who = [];
    if (key.startsWith("#")) {
      const r = room(key.slice(1));
      for (const [u, until] of r.typing) {
        if (until > now) who.push(u);
        else r.typing.delete(u);
      }
    } else {
      const d = dm(key.slice(1));
      if (d.typing > now) who = [d.with];
    }
    const t = $("typing");
    t.textContent = "";
    if (who.length === 0) return;
    t.appendChild(el("span", "dots"));
    t.appendChild(document.createTextNode(
      who.length === 1 ? who[0] + " is typing…" : who.length === 2 ? who[0] + " and " + who[1] + " are typing…" : "several people are typing…"));
  }

  function renderSide() {
    renderRooms();
    renderDMs();
    updateTitle();
  }

  function badge(n) {
    return el("span", "badge", n > 99 ? "99+" : String(n));
  }

  // same tells whether a list would render as it is: then it is left
  // alone (a click on it is not lost to a rebuild).
  const shown = {};
  function same(id, sig) {
    if (shown[id] === sig) return true;
    shown[id] = sig;
    return false;
  }

  function renderRooms() {
    const names = [...st.rooms.keys()].sort();
    const sig = st.current + "|" + names.map((n) => {
      const r = st.rooms.get(n);
      return [n, r.member, r.count, r.unread].join(",");
    }).join(";");
    if (same("rooms", sig)) return;
    const ul = $("rooms");
    ul.textContent = "";
    for (const name of names) {
      const r = st.rooms.get(name);
      const li = el("li", (r.member ? "" : "not-joined") + (st.current === "#" + name ? " active" : "") + (r.unread ? " has-unread" : ""));
      li.dataset.room = name;
      li.appendChild(el("span", "hash", "#"));
      li.appendChild(el("span", "name", name));
      if (r.unread && st.current !== "#" + name) li.appendChild(badge(r.unread));
      if (r.member) {
        const meta = el("span", "meta pill", String(r.count));
        meta.title = r.count + (r.count === 1 ? " user online" : " users online");
        li.appendChild(meta);
        const x = el("button", "leave-btn", "×");
        x.type = "button";
        x.title = "leave #" + name;
        x.setAttribute("aria-label", "leave #" + name);
        x.onclick = (ev) => {
          ev.stopPropagation();
          send({ type: "leave", room: name });
        };
        li.appendChild(x);
      } else {
        li.appendChild(el("span", "meta", "join"));
      }
      li.onclick = () => {
        if (!r.member) {
          r.member = true;
          joinRoom(r);
        }
        select("#" + name);
      };
      ul.appendChild(li);
    }
  }

  function renderDMs() {
    const list = [...st.dms.values()].sort((a, b) => (b.last ? b.last.id : 0) - (a.last ? a.last.id : 0) || (a.with < b.with ? -1 : 1));
    const sig = st.current + "|" + st.user + "|" + list.map((d) => [d.with, d.unread, d.online, d.last ? d.last.id : 0].join(",")).join(";");
    if (same("dms", sig)) return;
    const ul = $("dms");
    ul.textContent = "";
    $("dms-empty").hidden = st.dms.size > 0;
    for (const d of list) {
      const li = el("li", (st.current === "@" + d.with ? "active" : "") + (d.unread ? " has-unread" : ""));
      li.dataset.dm = d.with;
      const a = avatar(d.with);
      a.classList.add("small");
      if (d.online) a.classList.add("on");
      li.appendChild(a);
      const text = el("span", "name");
      text.appendChild(el("span", "who", d.with));
      if (d.last) text.appendChild(el("span", "preview", (d.last.from === st.user ? "you: " : "") + d.last.text));
      li.appendChild(text);
      if (d.unread && st.current !== "@" + d.with) li.appendChild(badge(d.unread));
      li.onclick = () => select("@" + d.with);
      ul.appendChild(li);
    }
  }

  function renderMembers() {
    const key = st.current;
    const c = convOf(key);
    const sig = key + "|" + st.user + "|" + (key.startsWith("#") ? [...c.members].join(";") + c.joined : c.online);
    if (same("members", sig)) return;
    const ul = $("members");
    ul.textContent = "";
    const empty = $("members-empty");
    empty.textContent = "";
    if (!key.startsWith("#")) {
      const d = dm(key.slice(1));
      $("members-count").textContent = "";
      $("members-n").textContent = "";
      for (const u of [st.user, d.with]) ul.appendChild(memberRow(u, u === st.user ? true : d.online));
      return;
    }
    const r = room(key.slice(1));
    const names = [...r.members.keys()].sort((a, b) => (r.members.get(b) - r.members.get(a)) || (a < b ? -1 : 1));
    const online = onlineCount(r);
    $("members-count").textContent = "· " + online + " online";
    $("members-n").textContent = String(online);
    if (names.length === 0) empty.textContent = r.joined ? "Nobody here yet." : "Join the room to see who is in it.";
    for (const u of names) ul.appendChild(memberRow(u, r.members.get(u)));
  }

  function memberRow(u, online) {
    const li = el("li", online ? "online" : "offline");
    li.dataset.nick = u;
    li.appendChild(avatar(u));
    li.appendChild(el("span", "name", u));
    if (u === st.user) li.appendChild(el("span", "you", "you"));
    const dot = el("span", "presence");
    dot.title = online ? "online" : "offline";
    li.appendChild(dot);
    li.title = u === st.user ? "you" : "send a private message to " + u;
    li.onclick = () => {
      if (u === st.user) return;
      dm(u);
      select("@" + u);
    };
    return li;
  }

  function select(key) {
    flushRead();
    st.current = key;
    try {
      sessionStorage.setItem("imscript.current", key);
    } catch (e) { /* private mode */ }
    const isRoom = key.startsWith("#");
    const c = convOf(key);
    if (!isRoom && !c.loaded && !c.loading && st.online) {
      c.loading = true;
      send({ type: "pm_history", with: c.with });
    }
    $("conv-title").textContent = isRoom ? key : "@" + key.slice(1);
    $("conv-sub").textContent = isRoom ? "room" : c.online ? "private conversation · online" : "private conversation";
    $("input").placeholder = "Message " + (isRoom ? key : c.with);
    closeDrawers();
    renderQueued = true;
    render();
    renderMembers();
    scheduleRead();
  }

  function updateTitle() {
    let n = 0;
    for (const r of st.rooms.values()) if (st.current !== "#" + r.name) n += r.unread;
    for (const d of st.dms.values()) if (st.current !== "@" + d.with) n += d.unread;
    document.title = (n ? "(" + n + ") " : "") + "imscript chat";
    const b = $("nav-badge");
    b.hidden = n === 0;
    b.textContent = n > 99 ? "99+" : String(n);
  }

  function loadOlder() {
    const key = st.current;
    const c = convOf(key);
    if (c.loadingOlder || !c.more) return;
    const first = c.items.find((x) => x.kind !== "notice");
    if (!first) return;
    c.loadingOlder = true;
    if (key.startsWith("#")) send({ type: "history", room: c.name, before: first.pos });
    else send({ type: "pm_history", with: c.with, before: first.pos });
    render(true);
  }

  function toast(text) {
    const t = $("toast");
    t.textContent = text;
    t.hidden = false;
    clearTimeout(st.timers.toast);
    st.timers.toast = setTimeout(() => (t.hidden = true), 4000);
  }

  // ---- drawers (narrow screens) ----

  function closeDrawers() {
    $("app").classList.remove("nav-open", "members-open");
  }

  $("open-nav").addEventListener("click", () => {
    const app = $("app");
    app.classList.remove("members-open");
    app.classList.toggle("nav-open");
  });
  $("open-members").addEventListener("click", () => {
    const app = $("app");
    app.classList.remove("nav-open");
    app.classList.toggle("members-open");
  });
  $("backdrop").addEventListener("click", closeDrawers);

  // ---- user input ----

  function submit(text) {
    text = text.trim();
    if (!text) return;
    if (text.startsWith("/")) {
      const [cmd, arg, ...rest] = text.slice(1).split(/\s+/);
      switch (cmd) {
        case "join": {
          if (!ROOM_RE.test(arg || "")) return notice(st.current, "usage: /join room", "error");
          const r = room(arg);
          if (!r.member) {
            r.member = true;
            joinRoom(r);
          }
          select("#" + arg);
          return;
        }
        case "leave": {
          const r = arg || (st.current.startsWith("#") ? st.current.slice(1) : "");
          if (!r) return notice(st.current, "usage: /leave room", "error");
          send({ type: "leave", room: r });
          return;
        }
        case "msg":
          if (!USER_RE.test(arg || "") || rest.length === 0) return notice(st.current, "usage: /msg user text", "error");
          dm(arg);
          send({ type: "pm", to: arg, text: rest.join(" ") });
          select("@" + arg);
          return;
        default:
          return notice(st.current, "unknown command /" + cmd, "error");
      }
    }
    if (st.current.startsWith("#")) send({ type: "say", room: st.current.slice(1), text });
    else send({ type: "pm", to: st.current.slice(1), text });
    st.lastTyping = 0;
  }

  $("send-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const input = $("input");
    if (input.disabled) return;
    submit(input.value);
    input.value = "";
  });
  $("input").addEventListener("input", () => {
    const v = $("input").value;
    if (!v || v.startsWith("/") || Date.now() - st.lastTyping < TYPING_EVERY) return;
    st.lastTyping = Date.now();
    if (st.current.startsWith("#")) send({ type: "typing", room: st.current.slice(1) });
    else send({ type: "typing", to: st.current.slice(1) });
  });
  $("join-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const name = $("join-room").value.trim();
    if (!ROOM_RE.test(name)) return toast("room names are 1-24 letters, digits, _ or -");
    $("join-room").value = "";
    const r = room(name);
    if (!r.member) {
      r.member = true;
      joinRoom(r);
    }
    select("#" + name);
  });
  $("dm-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const name = $("dm-user").value.trim();
    if (!USER_RE.test(name) || name === st.user) return toast("enter another user's name");
    $("dm-user").value = "";
    dm(name);
    select("@" + name);
  });
  $("messages").addEventListener("scroll", () => {
    if ($("messages").scrollTop < 40) {
      const c = convOf(st.current);
      if (c.more && !c.loadingOlder && c.items.length > 0) loadOlder();
    }
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") scheduleRead();
  });
  window.addEventListener("online", () => {
    // The network came back: retry now instead of waiting out the backoff.
    if (st.user && !st.ws) {
      st.attempt = 0;
      connect();
    }
  });

  // ---- accounts ----

  let mode = "login";
  function setMode(m) {
    mode = m;
    $("tab-login").classList.toggle("active", m === "login");
    $("tab-register").classList.toggle("active", m === "register");
    $("tab-login").setAttribute("aria-selected", String(m === "login"));
    $("tab-register").setAttribute("aria-selected", String(m === "register"));
    $("auth-submit").textContent = m === "login" ? "Log in" : "Create account";
    $("auth-pass").autocomplete = m === "login" ? "current-password" : "new-password";
    $("auth-hint").innerHTML = m === "login" ? "New here? Choose <b>Create account</b>." : "1–24 letters, digits, <code>_ . -</code>; a password of at least 8 characters.";
    $("auth-error").textContent = "";
  }
  $("tab-login").addEventListener("click", () => setMode("login"));
  $("tab-register").addEventListener("click", () => setMode("register"));

  $("auth-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const user = $("auth-user").value.trim();
    const password = $("auth-pass").value;
    if (!USER_RE.test(user)) {
      $("auth-error").textContent = "user names are 1–24 letters, digits, _ . or -";
      return;
    }
    $("auth-submit").disabled = true;
    $("auth-error").textContent = "";
    const r = await api("POST", mode === "login" ? "/api/login" : "/api/register", { user, password });
    $("auth-submit").disabled = false;
    if (r.status !== 200 && r.status !== 201) {
      $("auth-error").textContent = r.data.message || "could not log in (" + r.status + ")";
      return;
    }
    $("auth-pass").value = "";
    signedIn(r.data.user);
  });

  function signedIn(user) {
    if (st.user && st.user !== user) reset();
    st.user = user;
    st.attempt = 0;
    $("auth").hidden = true;
    connect();
  }

  function reset() {
    for (const k of Object.keys(shown)) delete shown[k];
    st.rooms.clear();
    st.dms.clear();
    st.inbox = { seq: 0, epoch: "" };
    st.current = "#lobby";
    $("messages").textContent = "";
    $("members").textContent = "";
  }

  // signedOut shows the log-in form (with why, when there is a reason).
  function signedOut(why) {
    clearTimers();
    const ws = st.ws;
    st.ws = null;
    st.online = false;
    if (ws) ws.close();
    st.user = null;
    reset();
    renderSide();
    setStatus("offline", "offline");
    setMode("login");
    $("auth-error").textContent = why || "";
    $("auth").hidden = false;
    $("auth-user").focus();
  }

  $("logout").addEventListener("click", async () => {
    await api("POST", "/api/logout");
    signedOut("");
  });

  // ---- start ----

  try {
    st.current = sessionStorage.getItem("imscript.current") || "#lobby";
  } catch (e) { /* private mode */ }
  setStatus("offline", "offline");
  api("GET", "/api/me").then((r) => {
    if (r.status === 200 && r.data.user) {
      signedIn(r.data.user);
      return;
    }
    const why = r.status === 401 && r.data.message && r.data.message !== "not logged in" ? r.data.message : "";
    signedOut(why);
  });
})();
