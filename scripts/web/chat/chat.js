// imscript chat — the browser client (plain JS, no build step).
// Protocol: PROTOCOL.md in this folder. One WebSocket per tab; reconnects
// with exponential backoff and then logs in again and re-joins its rooms.
(function () {
  "use strict";

  const PING_EVERY = 20000; // ms between pings
  const PONG_WAIT = 10000; // ms without a pong before the socket is deemed dead
  const BACKOFF_MIN = 500;
  const BACKOFF_MAX = 15000;
  const KEEP = 500; // messages kept per conversation
  const NICK_RE = /^[A-Za-z0-9_.-]{1,24}$/;
  const ROOM_RE = /^[A-Za-z0-9_-]{1,24}$/;

  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const asList = (x) => (Array.isArray(x) ? x : []);

  const st = {
    nick: null, // logged-in nickname (wanted, also while reconnecting)
    ws: null,
    online: false,
    rejoining: new Set(), // rooms being re-joined after a reconnect
    attempt: 0,
    retryAt: 0,
    timers: { retry: 0, countdown: 0, ping: 0, pong: 0, rooms: 0 },
    rooms: new Map(), // name -> {name, count, joined, unread}
    want: new Set(), // rooms to be in (re-joined after a reconnect)
    members: new Map(), // room -> Map(nick -> tabs)
    dms: new Map(), // nick -> {nick, unread}
    convs: new Map(), // "#room" | "@nick" -> [entries]
    current: "#lobby",
  };

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
    ws.onopen = () => {
      if (st.ws !== ws) return;
      send({ type: "login", nick: st.nick });
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
    ws.onclose = () => {
      if (st.ws !== ws) return;
      st.ws = null;
      const was = st.online;
      st.online = false;
      clearTimers();
      if (!st.nick) {
        setStatus("offline", "offline");
        return;
      }
      if (was) notice(st.current, "connection lost — reconnecting", "error");
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
    clearInterval(st.timers.rooms);
  }

  function startHeartbeat() {
    st.timers.ping = setInterval(() => {
      send({ type: "ping", t: Date.now() });
      clearTimeout(st.timers.pong);
      st.timers.pong = setTimeout(() => {
        if (st.ws) st.ws.close(); // no pong: reconnect
      }, PONG_WAIT);
    }, PING_EVERY);
    st.timers.rooms = setInterval(() => send({ type: "rooms" }), 30000);
  }

  // ---- messages from the server ----

  function handle(m) {
    switch (m.type) {
      case "welcome":
        st.online = true;
        st.rejoining = new Set(st.want); // after a reconnect: re-joins
        st.attempt = 0;
        setStatus("online", "online");
        $("login").hidden = true;
        $("me-nick").textContent = m.nick;
        $("logout").hidden = false;
        try { sessionStorage.setItem("imscript.nick", m.nick); } catch (e) { /* private mode */ }
        try { localStorage.setItem("imscript.nick", m.nick); } catch (e) { /* private mode */ }
        setRooms(asList(m.rooms));
        startHeartbeat();
        if (st.want.size === 0) st.want.add("lobby");
        for (const r of st.want) send({ type: "join", room: r });
        $("input").focus();
        break;
      case "joined": {
        const r = room(m.room);
        r.joined = true;
        st.want.add(m.room);
        setMembers(m.room, asList(m.members));
        r.count = st.members.get(m.room).size;
        notice("#" + m.room, (st.rejoining.delete(m.room) ? "reconnected, back in #" : "you joined #") + m.room);
        if (st.current === "#" + m.room || !isConv(st.current)) select("#" + m.room);
        else renderRooms();
        break;
      }
      case "left": {
        const r = room(m.room);
        r.joined = false;
        st.members.delete(m.room);
        notice("#" + m.room, "you left #" + m.room);
        renderRooms();
        if (st.current === "#" + m.room) renderMembers();
        break;
      }
      case "join": {
        const ms = st.members.get(m.room);
        if (ms && ms.has(m.nick)) break; // a duplicate (two tabs entering at once)
        if (ms) ms.set(m.nick, 1);
        room(m.room).count = ms ? ms.size : room(m.room).count + 1;
        notice("#" + m.room, m.nick + " joined", "", m.ts);
        renderRooms();
        if (st.current === "#" + m.room) renderMembers();
        break;
      }
      case "leave": {
        const ms = st.members.get(m.room);
        if (ms && !ms.has(m.nick)) break; // a duplicate (two tabs leaving at once)
        if (ms) ms.delete(m.nick);
        room(m.room).count = ms ? ms.size : Math.max(0, room(m.room).count - 1);
        notice("#" + m.room, m.nick + " left", "", m.ts);
        renderRooms();
        if (st.current === "#" + m.room) renderMembers();
        // Notices about one user can come from two server workers (an old
        // tab closing, a new one joining) and cross on the way: ask for the
        // room's members so the list ends up right whatever the order.
        send({ type: "members", room: m.room });
        break;
      }
      case "msg":
        add("#" + m.room, { kind: "msg", from: m.from, text: m.text, ts: m.ts });
        break;
      case "pm": {
        const other = m.from === st.nick ? m.to : m.from;
        if (!st.dms.has(other)) st.dms.set(other, { nick: other, unread: 0 });
        add("@" + other, { kind: "pm", from: m.from, text: m.text, ts: m.ts });
        renderDMs();
        break;
      }
      case "rooms":
        setRooms(asList(m.rooms));
        break;
      case "members":
        setMembers(m.room, asList(m.members));
        if (st.current === "#" + m.room) renderMembers();
        break;
      case "pong":
        clearTimeout(st.timers.pong);
        break;
      case "error":
        if (!st.online && m.request === "login") {
          // A refused nickname: back to the login form, no reconnect.
          st.nick = null;
          $("login").hidden = false;
          $("login-error").textContent = m.message || m.code;
          if (st.ws) st.ws.close();
          setStatus("offline", "offline");
          return;
        }
        notice(st.current, (m.message || m.code), "error");
        break;
    }
  }

  // ---- state helpers ----

  function room(name) {
    let r = st.rooms.get(name);
    if (!r) {
      r = { name, count: 0, joined: false, unread: 0 };
      st.rooms.set(name, r);
    }
    return r;
  }

  function setRooms(list) {
    for (const x of list) {
      if (!x || typeof x.name !== "string") continue;
      room(x.name).count = Number(x.count) || 0;
    }
    renderRooms();
  }

  function setMembers(name, list) {
    const ms = new Map();
    for (const x of list) if (x && x.nick !== undefined) ms.set(String(x.nick), Number(x.tabs) || 1);
    st.members.set(name, ms);
  }

  function isConv(key) {
    if (key.startsWith("#")) return room(key.slice(1)).joined;
    return st.dms.has(key.slice(1));
  }

  function add(key, entry) {
    let list = st.convs.get(key);
    if (!list) st.convs.set(key, (list = []));
    list.push(entry);
    if (list.length > KEEP) list.splice(0, list.length - KEEP);
    if (key === st.current) {
      appendEntry(entry, list[list.length - 2]);
    } else if (entry.kind !== "notice") {
      const target = key.startsWith("#") ? st.rooms.get(key.slice(1)) : st.dms.get(key.slice(1));
      if (target) target.unread++;
      renderRooms();
      renderDMs();
    }
    updateTitle();
  }

  function notice(key, text, cls, ts) {
    add(key, { kind: "notice", text, cls: cls || "", ts: ts || Date.now() });
  }

  // ---- rendering ----

  const COLORS = ["#e5484d", "#f76b15", "#c2410c", "#16a34a", "#0d9488", "#0284c7", "#4f46e5", "#9333ea", "#db2777", "#65a30d"];
  function colorOf(nick) {
    let h = 0;
    for (let i = 0; i < nick.length; i++) h = (h * 31 + nick.charCodeAt(i)) >>> 0;
    return COLORS[h % COLORS.length];
  }

  function avatar(nick) {
    const a = el("span", "avatar", nick.slice(0, 1));
    a.style.background = colorOf(nick);
    return a;
  }

  function hhmm(ts) {
    const d = new Date(ts || Date.now());
    return String(d.getHours()).padStart(2, "0") + ":" + String(d.getMinutes()).padStart(2, "0");
  }

  function appendEntry(e, prev) {
    const box = $("messages");
    const empty = box.querySelector(".empty");
    if (empty) empty.remove();
    const stick = box.scrollTop + box.clientHeight >= box.scrollHeight - 40;
    box.appendChild(renderEntry(e, prev));
    if (stick) box.scrollTop = box.scrollHeight;
  }

  function renderEntry(e, prev) {
    if (e.kind === "notice") {
      const n = el("div", "notice " + e.cls);
      n.appendChild(el("span", "", e.text + " · " + hhmm(e.ts)));
      return n;
    }
    const cont = prev && prev.kind === e.kind && prev.from === e.from && e.ts - prev.ts < 120000;
    const row = el("div", "msg " + e.kind + (e.from === st.nick ? " mine" : "") + (cont ? " cont" : ""));
    row.dataset.from = e.from;
    row.appendChild(avatar(e.from));
    const body = el("div", "body");
    const head = el("div", "head");
    const nick = el("span", "nick", e.from);
    nick.style.color = colorOf(e.from);
    head.appendChild(nick);
    head.appendChild(el("span", "time", hhmm(e.ts)));
    body.appendChild(head);
    body.appendChild(el("div", "text", e.text));
    body.title = new Date(e.ts).toLocaleString();
    row.appendChild(body);
    return row;
  }

  function renderMessages() {
    const box = $("messages");
    box.textContent = "";
    const list = st.convs.get(st.current) || [];
    if (list.length === 0) {
      const p = el("p", "empty");
      if (st.current.startsWith("@")) {
        p.append("This is the start of your private conversation with ", el("b", "", st.current.slice(1)), ".");
      } else {
        p.append("No messages in ", el("b", "", st.current), " yet. Say hello!");
      }
      box.appendChild(p);
    }
    let prev;
    for (const e of list) {
      box.appendChild(renderEntry(e, prev));
      prev = e;
    }
    box.scrollTop = box.scrollHeight;
  }

  function renderRooms() {
    const ul = $("rooms");
    ul.textContent = "";
    const names = [...st.rooms.keys()].sort();
    for (const name of names) {
      const r = st.rooms.get(name);
      const li = el("li", (r.joined ? "" : "not-joined") + (st.current === "#" + name ? " active" : ""));
      li.dataset.room = name;
      li.appendChild(el("span", "name", "# " + name));
      if (r.unread) li.appendChild(el("span", "badge", String(r.unread)));
      const meta = el("span", r.joined ? "meta pill" : "meta", r.joined ? String(r.count) : "join");
      meta.title = r.joined ? r.count + (r.count === 1 ? " user here" : " users here") : "click to join";
      li.appendChild(meta);
      if (r.joined) {
        const x = el("button", "leave-btn", "×");
        x.type = "button";
        x.title = "leave #" + name;
        x.onclick = (ev) => {
          ev.stopPropagation();
          st.want.delete(name);
          send({ type: "leave", room: name });
        };
        li.appendChild(x);
      }
      li.onclick = () => {
        if (!r.joined) send({ type: "join", room: name });
        select("#" + name);
      };
      ul.appendChild(li);
    }
  }

  function renderDMs() {
    const ul = $("dms");
    ul.textContent = "";
    $("dms-empty").hidden = st.dms.size > 0;
    for (const nick of [...st.dms.keys()].sort()) {
      const d = st.dms.get(nick);
      const li = el("li", st.current === "@" + nick ? "active" : "");
      li.dataset.dm = nick;
      li.appendChild(el("span", "name", "@ " + nick));
      if (d.unread) li.appendChild(el("span", "badge", String(d.unread)));
      li.onclick = () => select("@" + nick);
      ul.appendChild(li);
    }
  }

  function renderMembers() {
    const ul = $("members");
    ul.textContent = "";
    const isRoom = st.current.startsWith("#");
    const ms = isRoom ? st.members.get(st.current.slice(1)) : null;
    $("members-count").textContent = ms ? "· " + ms.size + " online" : "";
    if (!ms) return;
    for (const nick of [...ms.keys()].sort()) {
      const li = el("li");
      li.dataset.nick = nick;
      li.appendChild(avatar(nick));
      li.appendChild(el("span", "name", nick));
      if (nick === st.nick) li.appendChild(el("span", "you", "you"));
      const tabs = ms.get(nick);
      if (tabs > 1) li.appendChild(el("span", "meta", tabs + " tabs"));
      const dot = el("span", "presence");
      dot.title = "online";
      li.appendChild(dot);
      li.title = nick === st.nick ? "you" : "send a private message to " + nick;
      li.onclick = () => {
        if (nick === st.nick) return;
        if (!st.dms.has(nick)) st.dms.set(nick, { nick, unread: 0 });
        select("@" + nick);
      };
      ul.appendChild(li);
    }
  }

  function select(key) {
    st.current = key;
    const target = key.startsWith("#") ? st.rooms.get(key.slice(1)) : st.dms.get(key.slice(1));
    if (target) target.unread = 0;
    $("conv-title").textContent = key.startsWith("#") ? key : "@" + key.slice(1);
    $("conv-sub").textContent = key.startsWith("#") ? "room" : "private conversation";
    $("input").placeholder = "Message " + key;
    renderRooms();
    renderDMs();
    renderMessages();
    renderMembers();
    updateTitle();
  }

  function updateTitle() {
    let n = 0;
    for (const r of st.rooms.values()) n += r.unread;
    for (const d of st.dms.values()) n += d.unread;
    document.title = (n ? "(" + n + ") " : "") + "imscript chat";
  }

  // ---- user input ----

  function submit(text) {
    text = text.trim();
    if (!text) return;
    if (text.startsWith("/")) {
      const [cmd, arg, ...rest] = text.slice(1).split(/\s+/);
      switch (cmd) {
        case "join":
          if (!ROOM_RE.test(arg || "")) return notice(st.current, "usage: /join room", "error");
          send({ type: "join", room: arg });
          select("#" + arg);
          return;
        case "leave": {
          const r = arg || (st.current.startsWith("#") ? st.current.slice(1) : "");
          if (!r) return notice(st.current, "usage: /leave room", "error");
          st.want.delete(r);
          send({ type: "leave", room: r });
          return;
        }
        case "msg":
          if (!NICK_RE.test(arg || "") || rest.length === 0) return notice(st.current, "usage: /msg nick text", "error");
          if (!st.dms.has(arg)) st.dms.set(arg, { nick: arg, unread: 0 });
          send({ type: "pm", to: arg, text: rest.join(" ") });
          select("@" + arg);
          return;
        default:
          return notice(st.current, "unknown command /" + cmd, "error");
      }
    }
    if (st.current.startsWith("#")) send({ type: "say", room: st.current.slice(1), text });
    else send({ type: "pm", to: st.current.slice(1), text });
  }

  function login(nick) {
    nick = nick.trim();
    if (!NICK_RE.test(nick)) {
      $("login-error").textContent = "1–24 letters, digits, _ . or -";
      return;
    }
    $("login-error").textContent = "";
    st.nick = nick;
    st.attempt = 0;
    connect();
  }

  function logout() {
    try { sessionStorage.removeItem("imscript.nick"); } catch (e) { /* private mode */ }
    st.nick = null;
    st.want.clear();
    st.rooms.clear();
    st.members.clear();
    st.dms.clear();
    st.convs.clear();
    clearTimers();
    if (st.ws) st.ws.close();
    st.ws = null;
    st.online = false;
    setStatus("offline", "offline");
    $("me-nick").textContent = "";
    $("logout").hidden = true;
    $("login").hidden = false;
    select("#lobby");
    $("login-nick").focus();
  }

  $("login-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    login($("login-nick").value);
  });
  $("send-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const input = $("input");
    if (input.disabled) return;
    submit(input.value);
    input.value = "";
  });
  $("join-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const name = $("join-room").value.trim();
    if (!ROOM_RE.test(name)) return;
    $("join-room").value = "";
    send({ type: "join", room: name });
    select("#" + name);
  });
  $("logout").addEventListener("click", logout);
  window.addEventListener("online", () => {
    // The network came back: retry now instead of waiting out the backoff.
    if (st.nick && !st.ws) {
      st.attempt = 0;
      connect();
    }
  });

  select("#lobby");
  let saved = "";
  try {
    saved = sessionStorage.getItem("imscript.nick") || "";
    $("login-nick").value = saved || localStorage.getItem("imscript.nick") || "";
  } catch (e) { /* private mode */ }
  if (saved) login(saved); // a reload of a logged-in tab logs in again
})();
