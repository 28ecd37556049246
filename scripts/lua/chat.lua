-- imscript chat: a small IM service (accounts, rooms with history,
-- private messages, unread counts, read receipts, typing, presence) that
-- serves its own web client.
--   imscript run --data chat-data scripts/lua/chat.lua   then open http://127.0.0.1:8080/
--
-- The page (index.html, chat.js, chat.css in scripts/web/chat/) is served
-- from document_root; scripts/js/chat.js is the same server in JavaScript.
-- Storage: accounts, sessions, room memberships, read pointers and private
-- messages in SQLite (DATA/chat.db, DATA = the --data folder, or CHAT_DATA;
-- without either, an in-memory database; CHAT_DB=sqlite:PATH names the
-- database file instead, so that the nodes of a cluster on one machine
-- share their accounts); room history and each user's personal channel in
-- the host's channel history (on disk with --data, cluster-wide in a
-- cluster).
--
-- HTTP (JSON): POST /api/register {user, password}, POST /api/login
-- {user, password} -> {user} and an HttpOnly SameSite=Lax cookie holding
-- a signed session (JWT HS256; the key is made once and kept in the
-- database); POST /api/logout; GET /api/me. Errors: {error, message}
-- (401 bad_credentials — the same answer, after the same password check,
-- for an unknown user and a wrong password —, 409 taken, 422, 429
-- rate_limited: login and register attempts per IP).
-- WebSocket (any path): the handshake is refused with 401 without a valid
-- session cookie (403 for a page of another origin). Then one JSON object
-- per text frame, with a "type":
--   client -> server
--     hello {inbox?={since, epoch}}   -> binds the connection to its user (recovering
--                                        the personal channel after since) -> welcome
--     join {room, since?, epoch?}     -> joined {room, seq, epoch, recovered?, read,
--                                        members, history? (the last 50), more?}
--     leave {room}                    -> left {room} (every tab of the user)
--     say {room, text}                -> the room gets msg {room, from, text, seq, ts}
--     history {room, before}          -> history {room, messages, more}
--     pm {to, text}                   -> both users' tabs get pm {id, from, to, text, seq, ts}
--     pm_history {with, before?}      -> pm_history {with, messages, more, seen, read}
--     read {room, seq} | {with, id}   -> read pointer stored; other tabs get read; the
--                                        other user gets seen {by, id}
--     typing {room} | {to}            -> typing {room?, from, to?}, never stored
--     rooms / members {room} / ping {t} -> rooms / members / pong
--   server -> client also: presence {room, user, online}, error {code, message, request}
--   codes: bad_json, bad_type, not_logged_in, logged_in, bad_room, not_in_room, bad_text,
--   bad_user, no_such_user, bad_seq, rate_limited (messages per user per second), server_error.
-- Recovery: a client keeps, per room and for its personal channel, the last
-- seq and the epoch it saw and re-joins / binds with {since, epoch}; the
-- missed messages arrive first, in order, each once; recovered = false means
-- history no longer reaches back: the client reloads the last 50.
-- Full text: scripts/web/chat/PROTOCOL.md.
local json = imscript.json
local crypto, jwt = imscript.crypto, imscript.jwt
local EMPTY = json.empty_array
local env = imscript.env

local port = tonumber(env.PORT or "8080")
local DATA = imscript.data_dir or env.CHAT_DATA
local HEARTBEAT = 60
local MAX_TEXT = 4000
local PAGE = 50
local SESSION_TTL = tonumber(env.CHAT_SESSION_TTL or "") or 7 * 24 * 3600
local COOKIE = "chat_session"
local DEFAULT_ROOMS = { "lobby", "random", "dev" }
local MSG_RATE = tonumber(env.CHAT_MSG_RATE or "") or 5
local MSG_BURST = tonumber(env.CHAT_MSG_BURST or "") or 10
local LOGINS_PER_MIN = tonumber(env.CHAT_LOGINS_PER_MIN or "") or 5

local srv = imscript.server{
    host = "0.0.0.0",
    port = port,
    type = "websocket",
    worker_num = 2,
    document_root = imscript.script_dir .. "/../web/chat",
    heartbeat_check_interval = 15,
    heartbeat_idle_time = HEARTBEAT,
    package_max_length = 64 * 1024,
    history_size = tonumber(env.CHAT_HISTORY or "") or 1000,
    presence_events = true,
}

local db = imscript.sql.open(env.CHAT_DB or (DATA and ("sqlite:" .. DATA .. "/chat.db")) or "sqlite::memory:")
local msg_limit = imscript.limit("chat_msg", { rate = MSG_RATE, burst = MSG_BURST })
local login_limit = imscript.limit("chat_login", { rate = LOGINS_PER_MIN / 60, burst = LOGINS_PER_MIN })
local typing_limit = imscript.limit("chat_typing", { rate = 2, burst = 4 })
-- Who each WebSocket is (from its session cookie), for every worker.
local conns = imscript.table("chat_conns",
    { size = 4096, columns = { user = { "string", 32 }, jti = { "string", 64 } } })

local function now() return math.floor(imscript.now()) end
local function now_s() return math.floor(imscript.now() / 1000) end

local function list(t)
    if #t == 0 then return EMPTY end
    return t
end

local function contains(t, v)
    for _, x in ipairs(t) do
        if x == v then return true end
    end
    return false
end

-- ---- database ----

local function q(sql, ...)
    local rows, err = db:query(sql, ...)
    if not rows then error("sql: " .. tostring(err), 0) end
    return rows
end

local function row(sql, ...)
    local r, err = db:queryRow(sql, ...)
    if err then error("sql: " .. tostring(err), 0) end
    return r
end

local function exec(sql, ...)
    local r, err = db:exec(sql, ...)
    if not r then error("sql: " .. tostring(err), 0) end
    return r
end

local SCHEMA = {
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    [[CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE, hash TEXT NOT NULL, created INTEGER NOT NULL)]],
    [[CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, user TEXT NOT NULL,
        created INTEGER NOT NULL, expires INTEGER NOT NULL)]],
    [[CREATE TABLE IF NOT EXISTS memberships (user TEXT NOT NULL, room TEXT NOT NULL,
        joined INTEGER NOT NULL, PRIMARY KEY (user, room))]],
    "CREATE INDEX IF NOT EXISTS memberships_room ON memberships (room, user)",
    [[CREATE TABLE IF NOT EXISTS reads (user TEXT NOT NULL, conv TEXT NOT NULL,
        seq INTEGER NOT NULL, epoch TEXT NOT NULL DEFAULT '', PRIMARY KEY (user, conv))]],
    [[CREATE TABLE IF NOT EXISTS pms (id INTEGER PRIMARY KEY AUTOINCREMENT, sender TEXT NOT NULL,
        recipient TEXT NOT NULL, text TEXT NOT NULL, ts INTEGER NOT NULL)]],
    "CREATE INDEX IF NOT EXISTS pms_sender ON pms (sender, recipient, id)",
    "CREATE INDEX IF NOT EXISTS pms_recipient ON pms (recipient, sender, id)",
}

-- setup makes the tables, the session key (once, kept in the database so
-- sessions outlive a restart) and a dummy password hash (checked when a
-- login names no account, so that it takes as long as a wrong password).
-- Once per worker, on first use: the main chunk cannot wait for a query.
local secret, dummy_hash
local function setup()
    if secret then return end
    if DATA and not imscript.data_dir then imscript.fs.mkdir(DATA) end
    for _, s in ipairs(SCHEMA) do exec(s) end
    exec("INSERT OR IGNORE INTO meta (key, value) VALUES ('jwt_secret', ?)", crypto.hex(crypto.random_bytes(32)))
    local key = row("SELECT value FROM meta WHERE key = 'jwt_secret'").value
    dummy_hash = dummy_hash or crypto.password_hash(crypto.hex(crypto.random_bytes(16)))
    secret = key
end

-- ---- validation ----

local function valid_user(s)
    return type(s) == "string" and #s >= 1 and #s <= 24 and s:match("^[A-Za-z0-9_%.%-]+$") ~= nil
end

local function valid_room(s)
    return type(s) == "string" and #s >= 1 and #s <= 24 and s:match("^[A-Za-z0-9_%-]+$") ~= nil
end

local function valid_password(s)
    return type(s) == "string" and #s >= 8 and #s <= 200
end

local function clean_text(s)
    if type(s) ~= "string" then return nil end
    s = s:match("^%s*(.-)%s*$")
    if #s == 0 or #s > MAX_TEXT then return nil end
    return s
end

-- seq reads a seq or an id: a whole number >= min.
local function seq(v, min)
    if type(v) ~= "number" or v ~= math.floor(v) or v < (min or 0) or v > 2 ^ 53 then return nil end
    return v
end

-- recover_opts reads {since, epoch} for join and bind, or nil.
local function recover_opts(t)
    if type(t) ~= "table" or not seq(t.since) then return nil end
    return { since = t.since, epoch = type(t.epoch) == "string" and t.epoch or nil }
end

-- ---- sessions ----

local function session_token(user)
    local jti = crypto.uuid()
    local t = now_s()
    exec("INSERT INTO sessions (id, user, created, expires) VALUES (?, ?, ?, ?)", jti, user, t, t + SESSION_TTL)
    exec("DELETE FROM sessions WHERE expires < ?", t)
    return jwt.sign({ sub = user, jti = jti }, secret, { alg = "HS256", expires_in = SESSION_TTL })
end

-- session returns the user of a request's session cookie, or nil and why;
-- with check_db the session must still be in the database (not logged out).
local function session(req, check_db)
    setup()
    local token = req.cookie and req.cookie[COOKIE]
    if type(token) ~= "string" or token == "" then return nil, "not logged in" end
    local claims = jwt.verify(token, secret, { alg = "HS256" })
    if not claims then
        -- Genuine but too old? (the same check in both languages)
        if jwt.verify(token, secret, { alg = "HS256", leeway = 100 * 365 * 86400 }) then
            return nil, "your session has expired: log in again"
        end
        return nil, "invalid session: log in again"
    end
    if type(claims.sub) ~= "string" or type(claims.jti) ~= "string" then
        return nil, "invalid session: log in again"
    end
    if check_db then
        local s = row("SELECT user FROM sessions WHERE id = ? AND expires >= ?", claims.jti, now_s())
        if not s or s.user ~= claims.sub then return nil, "your session has ended: log in again" end
    end
    return { user = claims.sub, jti = claims.jti }
end

local function cookie_opts(max_age)
    return { path = "/", httponly = true, samesite = "Lax", max_age = max_age }
end

-- ---- HTTP API ----

local function api_fail(res, status, code, message)
    return res:status(status):json{ error = code, message = message }
end

-- api wraps a route: a JSON object body (with_body), JSON 500 on errors.
local function api(fn, with_body)
    return function(req, res)
        local input = {}
        if with_body then
            input = req:json() -- a body that is not JSON has been answered 400
            if type(input) ~= "table" then
                return api_fail(res, 400, "bad_request", "the body must be a JSON object")
            end
        end
        local ok, err = pcall(fn, req, res, input)
        if not ok then
            imscript.log.error("chat: api failed", { path = req.path, err = tostring(err) })
            api_fail(res, 500, "server_error", "the server could not do that; try again")
        end
    end
end

local function too_many(res)
    return api_fail(res, 429, "rate_limited", "too many attempts from your address: wait a minute and try again")
end

local function logged_in(res, user, status)
    local token = session_token(user)
    res:status(status):cookie(COOKIE, token, cookie_opts(SESSION_TTL)):json{ user = user }
end

srv:route("POST", "/api/register", api(function(req, res, input)
    if not login_limit:allow(req.remote_ip) then return too_many(res) end
    local user, password = input.user, input.password
    if not valid_user(user) then
        return api_fail(res, 422, "bad_user", "user names are 1-24 letters, digits, _ . or -")
    end
    if not valid_password(password) then
        return api_fail(res, 422, "bad_password", "passwords are 8 to 200 characters")
    end
    setup()
    -- Where #lobby stands, before the account exists: if the history cannot
    -- be read the registration fails whole and can be tried again.
    local pos, why = srv:position("lobby")
    if not pos then error("position failed: " .. tostring(why), 0) end
    local hash = crypto.password_hash(password)
    local r, err, code = db:exec("INSERT INTO users (name, hash, created) VALUES (?, ?, ?)", user, hash, now_s())
    if not r then
        if tostring(code):find("CONSTRAINT") then
            return api_fail(res, 409, "taken", "that user name is taken")
        end
        error(err, 0)
    end
    exec("INSERT OR IGNORE INTO memberships (user, room, joined) VALUES (?, 'lobby', ?)", user, now())
    exec("INSERT OR IGNORE INTO reads (user, conv, seq, epoch) VALUES (?, '#lobby', ?, ?)", user, pos.seq, pos.epoch)
    logged_in(res, user, 201)
end, true))

srv:route("POST", "/api/login", api(function(req, res, input)
    if not login_limit:allow(req.remote_ip) then return too_many(res) end
    setup()
    local name = type(input.user) == "string" and input.user or ""
    local password = type(input.password) == "string" and input.password or ""
    local u = nil
    if valid_user(name) then u = row("SELECT name, hash FROM users WHERE name = ?", name) end
    -- The same work whether the account exists or not: verify against a
    -- dummy hash when it does not.
    local ok = crypto.password_verify(password, u and u.hash or dummy_hash)
    if not u or ok ~= true then
        return api_fail(res, 401, "bad_credentials", "wrong user name or password")
    end
    logged_in(res, u.name, 200)
end, true))

srv:route("POST", "/api/logout", api(function(req, res)
    local s = session(req, false)
    if s then
        exec("DELETE FROM sessions WHERE id = ?", s.jti)
        for key, c in conns:pairs() do
            if c.jti == s.jti then srv:disconnect(tonumber(key), 4001, "logged out") end
        end
    end
    res:cookie(COOKIE, "", cookie_opts(0)):json{ ok = true }
end))

srv:route("GET", "/api/me", api(function(req, res)
    local s, why = session(req, true)
    if not s then return api_fail(res, 401, "unauthorized", why) end
    res:json{ user = s.user }
end))

-- ---- WebSocket ----

local function push(fd, msg) srv:push(fd, json.encode(msg)) end

local function fail(fd, req, code, message)
    push(fd, { type = "error", code = code, message = message, request = req })
end

-- Whether a user is online, on any node: each connection of a user is in
-- the user's own room "~name" (not a valid room name for a client), and
-- presence is cluster-wide (srv:fds is this node's connections only).
local function online_room(user) return "~" .. user end
local function online(user) return #srv:presence(online_room(user)) > 0 end

-- members: the room's members (online ones from presence, offline ones
-- from the memberships kept in the database), sorted by name.
local function members(room)
    local out, seen = {}, {}
    for _, u in ipairs(srv:presence(room)) do
        out[#out + 1] = { user = u, online = true }
        seen[u] = true
    end
    for _, r in ipairs(q("SELECT user FROM memberships WHERE room = ? ORDER BY user LIMIT 200", room)) do
        if not seen[r.user] then out[#out + 1] = { user = r.user, online = false } end
    end
    table.sort(out, function(a, b) return a.user < b.user end)
    return out
end

-- room_list: the default rooms and the user's, with their online counts,
-- and for the user's rooms the unread count from the read pointer.
local function room_list(user)
    local member, reads, names, seen = {}, {}, {}, {}
    for _, r in ipairs(q("SELECT room FROM memberships WHERE user = ?", user)) do member[r.room] = true end
    for _, r in ipairs(q("SELECT conv, seq, epoch FROM reads WHERE user = ? AND conv LIKE '#%'", user)) do
        reads[r.conv:sub(2)] = r
    end
    for _, r in ipairs(DEFAULT_ROOMS) do names[#names + 1] = r; seen[r] = true end
    for r in pairs(member) do
        if not seen[r] then names[#names + 1] = r; seen[r] = true end
    end
    table.sort(names)
    local out = {}
    for _, name in ipairs(names) do
        local pos = srv:position(name)
        local e = { name = name, count = #srv:presence(name), member = member[name] == true, seq = pos.seq }
        if e.member then
            local rd = reads[name]
            if rd and rd.epoch == pos.epoch then
                e.unread = math.max(0, pos.seq - rd.seq)
            else
                e.unread = pos.seq
            end
        end
        out[#out + 1] = e
    end
    return out
end

-- conversations: the user's private conversations, newest first, with the
-- last message, the unread count and how far the other user has read.
local function conversations(user)
    local rows = q([[
        SELECT c.other AS other, p.id AS id, p.sender AS sender, p.text AS text, p.ts AS ts,
          (SELECT count(*) FROM pms u WHERE u.sender = c.other AND u.recipient = ?1 AND u.id >
             coalesce((SELECT seq FROM reads WHERE user = ?1 AND conv = '@' || c.other), 0)) AS unread,
          coalesce((SELECT seq FROM reads WHERE user = c.other AND conv = '@' || ?1), 0) AS seen
        FROM (SELECT other, max(id) AS last FROM (
                SELECT recipient AS other, id FROM pms WHERE sender = ?1
                UNION ALL SELECT sender AS other, id FROM pms WHERE recipient = ?1)
              GROUP BY other) c
        JOIN pms p ON p.id = c.last
        ORDER BY p.id DESC LIMIT 100]], user)
    local out = {}
    for i, r in ipairs(rows) do
        local to = r.sender == user and r.other or user
        out[i] = {
            with = r.other,
            online = online(r.other),
            unread = r.unread,
            seen = r.seen,
            last = { id = r.id, from = r.sender, to = to, text = r.text, ts = r.ts },
        }
    end
    return out
end

-- history: a page of the room's messages before `before` (or the last
-- ones), oldest first, and whether older ones are kept.
local function history(room, before)
    local opts = { limit = PAGE + 1 }
    if before then opts.before = before end
    local items = srv:history(room, opts)
    local more = #items > PAGE
    local out = {}
    for i = more and 2 or 1, #items do out[#out + 1] = json.decode(items[i].data) end
    return out, more
end

local function read_pointer(user, conv)
    return row("SELECT seq, epoch FROM reads WHERE user = ? AND conv = ?", user, conv)
end

local handlers = {}

function handlers.hello(fd, m, user)
    if srv:uid(fd) ~= nil then return fail(fd, "hello", "logged_in", "already logged in") end
    setup()
    local pos = srv:bind(fd, user, recover_opts(m.inbox) or {})
    srv:join(fd, online_room(user))
    push(fd, {
        type = "welcome",
        user = user,
        fd = fd,
        heartbeat = HEARTBEAT,
        inbox = { seq = pos.seq, epoch = pos.epoch, recovered = pos.recovered },
        rooms = list(room_list(user)),
        conversations = list(conversations(user)),
        limits = { text = MAX_TEXT, rate = MSG_RATE, burst = MSG_BURST, page = PAGE },
    })
end

function handlers.join(fd, m, user)
    local room = m.room
    if not valid_room(room) then
        return fail(fd, "join", "bad_room", "room names are 1-24 letters, digits, _ or -")
    end
    local opts = recover_opts(m)
    local res
    if contains(srv:rooms(fd), room) then
        -- Joined already on this connection: it has had every message.
        local pos = srv:position(room)
        res = { seq = pos.seq, epoch = pos.epoch }
        if opts then res.recovered = true end
    else
        res = srv:join(fd, room, opts or {})
    end
    local new = exec("INSERT OR IGNORE INTO memberships (user, room, joined) VALUES (?, ?, ?)", user, room, now())
    if new.rows_affected > 0 then
        -- A new member starts with nothing unread.
        exec([[INSERT INTO reads (user, conv, seq, epoch) VALUES (?, ?, ?, ?)
            ON CONFLICT (user, conv) DO UPDATE SET seq = excluded.seq, epoch = excluded.epoch]],
            user, "#" .. room, res.seq, res.epoch)
        srv:sendToUid(user, { type = "rooms", rooms = list(room_list(user)) }, { history = false })
    end
    local rd = read_pointer(user, "#" .. room)
    local reply = {
        type = "joined",
        room = room,
        seq = res.seq,
        epoch = res.epoch,
        recovered = res.recovered,
        read = (rd and rd.epoch == res.epoch) and rd.seq or 0,
        members = list(members(room)),
    }
    if res.recovered ~= true then
        local msgs, more = history(room)
        reply.history, reply.more = list(msgs), more
    end
    push(fd, reply)
end

function handlers.leave(fd, m, user)
    local room = m.room
    if not valid_room(room) then return fail(fd, "leave", "bad_room", "bad room name") end
    local r = exec("DELETE FROM memberships WHERE user = ? AND room = ?", user, room)
    if r.rows_affected == 0 and not contains(srv:rooms(fd), room) then
        return fail(fd, "leave", "not_in_room", "not in #" .. room)
    end
    -- Every tab of the user leaves.
    for _, other in ipairs(srv:fds(user)) do
        if contains(srv:rooms(other), room) then srv:leave(other, room) end
    end
    srv:sendToUid(user, { type = "left", room = room }, { history = false })
end

function handlers.say(fd, m, user)
    if not valid_room(m.room) or not contains(srv:rooms(fd), m.room) then
        return fail(fd, "say", "not_in_room", "join the room first")
    end
    local text = clean_text(m.text)
    if not text then return fail(fd, "say", "bad_text", "messages are 1-" .. MAX_TEXT .. " bytes") end
    if not msg_limit:allow(user) then
        return fail(fd, "say", "rate_limited", "slow down: at most " .. MSG_RATE .. " messages a second")
    end
    srv:publish(m.room, { type = "msg", room = m.room, from = user, text = text })
end

function handlers.history(fd, m)
    if not valid_room(m.room) or not contains(srv:rooms(fd), m.room) then
        return fail(fd, "history", "not_in_room", "join the room first")
    end
    local before = seq(m.before, 1)
    if not before then return fail(fd, "history", "bad_seq", "before: a seq expected") end
    local msgs, more = history(m.room, before)
    push(fd, { type = "history", room = m.room, messages = list(msgs), more = more })
end

-- other_user checks the `to` / `with` of a private message: a user that
-- exists and is not the sender; returns the name as registered.
local function other_user(fd, req, name, user)
    if not valid_user(name) then
        fail(fd, req, "bad_user", "user names are 1-24 letters, digits, _ . or -")
        return nil
    end
    local u = row("SELECT name FROM users WHERE name = ?", name)
    if not u then
        fail(fd, req, "no_such_user", "there is no user " .. name)
        return nil
    end
    if u.name == user then
        fail(fd, req, "bad_user", "that is you")
        return nil
    end
    return u.name
end

function handlers.pm(fd, m, user)
    local text = clean_text(m.text)
    if not text then return fail(fd, "pm", "bad_text", "messages are 1-" .. MAX_TEXT .. " bytes") end
    local to = other_user(fd, "pm", m.to, user)
    if not to then return end
    if not msg_limit:allow(user) then
        return fail(fd, "pm", "rate_limited", "slow down: at most " .. MSG_RATE .. " messages a second")
    end
    local r = exec("INSERT INTO pms (sender, recipient, text, ts) VALUES (?, ?, ?, ?)", user, to, text, now())
    local msg = { type = "pm", id = r.last_insert_id, from = user, to = to, text = text }
    srv:sendToUid(to, msg)
    srv:sendToUid(user, msg)
end

function handlers.pm_history(fd, m, user)
    local with = other_user(fd, "pm_history", m.with, user)
    if not with then return end
    local before = 2 ^ 53
    if m.before ~= nil then
        before = seq(m.before, 1)
        if not before then return fail(fd, "pm_history", "bad_seq", "before: an id expected") end
    end
    local rows = q([[SELECT id, sender, recipient, text, ts FROM pms
        WHERE ((sender = ?1 AND recipient = ?2) OR (sender = ?2 AND recipient = ?1)) AND id < ?3
        ORDER BY id DESC LIMIT ?4]], user, with, before, PAGE + 1)
    local more = #rows > PAGE
    local out = {}
    for i = math.min(#rows, PAGE), 1, -1 do
        local r = rows[i]
        out[#out + 1] = { id = r.id, from = r.sender, to = r.recipient, text = r.text, ts = r.ts }
    end
    local seen = read_pointer(with, "@" .. user)
    local mine = read_pointer(user, "@" .. with)
    push(fd, {
        type = "pm_history",
        with = with,
        messages = list(out),
        more = more,
        seen = seen and seen.seq or 0,
        read = mine and mine.seq or 0,
    })
end

-- advance moves a read pointer forward; true when it moved.
local function advance(user, conv, s, epoch)
    local r = exec([[INSERT INTO reads (user, conv, seq, epoch) VALUES (?, ?, ?, ?)
        ON CONFLICT (user, conv) DO UPDATE SET seq = excluded.seq, epoch = excluded.epoch
        WHERE excluded.seq > reads.seq OR excluded.epoch <> reads.epoch]], user, conv, s, epoch)
    return r.rows_affected > 0
end

function handlers.read(fd, m, user)
    if m.room ~= nil then
        if not valid_room(m.room) then return fail(fd, "read", "bad_room", "bad room name") end
        local s = seq(m.seq)
        if not s then return fail(fd, "read", "bad_seq", "seq: a seq expected") end
        local pos = srv:position(m.room)
        s = math.min(s, pos.seq)
        if advance(user, "#" .. m.room, s, pos.epoch) then
            srv:sendToUid(user, { type = "read", room = m.room, upto = s }, { history = false })
        end
        return
    end
    local with = other_user(fd, "read", m.with, user)
    if not with then return end
    local id = seq(m.id)
    if not id then return fail(fd, "read", "bad_seq", "id: a message id expected") end
    if advance(user, "@" .. with, id, "") then
        srv:sendToUid(with, { type = "seen", by = user, id = id })
        srv:sendToUid(user, { type = "read", with = with, id = id }, { history = false })
    end
end

function handlers.typing(fd, m, user)
    if not typing_limit:allow(user) then return end -- dropped: typing notices are best effort
    if m.room ~= nil then
        if not valid_room(m.room) or not contains(srv:rooms(fd), m.room) then
            return fail(fd, "typing", "not_in_room", "join the room first")
        end
        srv:publish(m.room, { type = "typing", room = m.room, from = user }, { except = fd, history = false })
        return
    end
    if not valid_user(m.to) or m.to == user then return fail(fd, "typing", "bad_user", "bad user name") end
    srv:sendToUid(m.to, { type = "typing", from = user, to = m.to }, { history = false })
end

function handlers.rooms(fd, m, user)
    push(fd, { type = "rooms", rooms = list(room_list(user)) })
end

function handlers.members(fd, m)
    if not valid_room(m.room) then return fail(fd, "members", "bad_room", "bad room name") end
    push(fd, { type = "members", room = m.room, members = list(members(m.room)) })
end

srv:on("start", function(srv)
    print("chat server on http://127.0.0.1:" .. srv.port .. "/"
        .. (DATA and (" (data in " .. DATA .. ")") or " (data in memory)"))
end)

-- The upgrade needs a page of this server (a browser sends its Origin)
-- and a valid session cookie.
srv:on("handshake", function(req, res)
    local origin, host = req.header.origin, req.header.host or ""
    if origin and origin ~= "http://" .. host and origin ~= "https://" .. host then
        res:status(403):header("Content-Type", "application/json; charset=utf-8")
        res:send(json.encode{ error = "forbidden", message = "this page may not open a chat connection" })
        return false
    end
    local s, why = session(req, true)
    if not s then
        res:status(401):header("Content-Type", "application/json; charset=utf-8")
        res:send(json.encode{ error = "unauthorized", message = why })
        return false
    end
end)

srv:on("open", function(srv, req)
    local s = session(req, false)
    if not s then return srv:disconnect(req.fd, 4401, "unauthorized") end
    conns:set(tostring(req.fd), { user = s.user, jti = s.jti })
end)

srv:on("message", function(srv, frame)
    local fd = frame.fd
    local m = json.decode(frame.data)
    if type(m) ~= "table" or type(m.type) ~= "string" then
        return fail(fd, nil, "bad_json", "expected a JSON object with a type")
    end
    if m.type == "ping" then return push(fd, { type = "pong", t = m.t }) end
    local h = handlers[m.type]
    if not h then return fail(fd, m.type, "bad_type", "unknown message type " .. m.type) end
    local who = conns:get(tostring(fd))
    if not who then return srv:disconnect(fd, 4401, "unauthorized") end
    if m.type ~= "hello" and srv:uid(fd) == nil then
        return fail(fd, m.type, "not_logged_in", "send hello first")
    end
    local ok, err = pcall(h, fd, m, who.user)
    if not ok then
        imscript.log.error("chat: handler failed", { type = m.type, err = tostring(err) })
        fail(fd, m.type, "server_error", "the server could not do that; try again")
    end
end)

-- presence_events: a user's first connection entered / last one left a room.
-- Every node with members of the room gets the event (in a cluster too):
-- each tells its own members, so that every tab hears it once.
srv:on("presence", function(srv, room, uid, what)
    if room:sub(1, 1) == "~" then return end -- a user's own room (online)
    local msg = json.encode({ type = "presence", room = room, user = uid, online = what == "join" })
    for _, fd in ipairs(srv:members(room)) do srv:push(fd, msg) end
end)

srv:on("close", function(srv, fd)
    conns:del(tostring(fd))
end)

-- Plain HTTP: the page comes from document_root; anything else is answered here.
srv:on("request", function(req, res)
    if req.path == "/healthz" then
        res:header("Content-Type", "text/plain; charset=utf-8")
        return res:send("ok\n")
    end
    res:status(404)
    res:header("Content-Type", "text/plain; charset=utf-8")
    res:send("not found\n")
end)
