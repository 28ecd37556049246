-- WebSocket chat (IM) server that also serves its own web client.
--   imscript run scripts/lua/chat.lua      then open http://127.0.0.1:8080/ in two tabs
--
-- The page (index.html, chat.js, chat.css in scripts/web/chat/) is served
-- from document_root; the same folder serves scripts/js/chat.js.
-- Users, rooms and fan-out are the host's IM primitives, shared by every
-- worker: srv:bind (nickname = uid; several tabs of one nick are one user),
-- join/leave/presence/members (rooms), publish (room messages, fanned out in
-- Go), sendToUid (private messages to every tab of a user).
--
-- Protocol (scripts/web/chat/PROTOCOL.md has the full text): one JSON object
-- per WebSocket text frame, with a "type".
--   client -> server
--     {type="login", nick}           -> welcome {nick, fd, heartbeat, rooms=[{name, count}]}
--     {type="join", room}            -> joined {room, members=[{nick, tabs}]}; the room gets join {room, nick, ts}
--     {type="leave", room}           -> left {room}; the room gets leave {room, nick, ts}
--     {type="say", room, text}       -> every member connection (sender too) gets msg {room, from, text, ts}
--     {type="pm", to, text}          -> every tab of `to` and of the sender gets pm {from, to, text, ts}
--     {type="rooms"}                 -> rooms {rooms=[{name, count}]}
--     {type="members", room}         -> members {room, members=[{nick, tabs}]}
--     {type="ping", t}               -> pong {t}
--   errors: error {code, message, request}; codes: bad_json, bad_type,
--   not_logged_in, logged_in, bad_nick, bad_room, bad_text, not_in_room, offline.
--   nick: [A-Za-z0-9_.-]{1,24}; room: [A-Za-z0-9_-]{1,24}; text: 1..4000 bytes
--   after trimming; ts: server time in ms since the epoch. join/leave notices
--   are sent when a user's first tab enters / last tab leaves a room.
--   Heartbeat: clients ping every 20 s; connections silent for 60 s are closed.
local json = imscript.json

local port = tonumber(imscript.env.PORT or "8080")
local HEARTBEAT = 60
local MAX_TEXT = 4000
local DEFAULT_ROOMS = { "lobby", "random", "dev" }

local srv = imscript.server{
    host = "0.0.0.0",
    port = port,
    type = "websocket",
    worker_num = 2,
    document_root = imscript.script_dir .. "/../web/chat",
    heartbeat_check_interval = 15,
    heartbeat_idle_time = HEARTBEAT,
    package_max_length = 64 * 1024,
}

-- Lua tables have no "empty list": an empty table encodes as {}. The lists
-- below hold only validated names, so this marker cannot come from a user.
local EMPTY = "\1[]"
local function list(t)
    if #t == 0 then return EMPTY end
    return t
end

local function encode(msg)
    return (json.encode(msg):gsub('"\\u0001%[%]"', "[]"))
end

local function now() return os.time() * 1000 end

local function contains(t, v)
    for _, x in ipairs(t) do
        if x == v then return true end
    end
    return false
end

local function push(fd, msg) srv:push(fd, encode(msg)) end

local function fail(fd, req, code, message)
    push(fd, { type = "error", code = code, message = message, request = req })
end

local function valid_nick(s)
    return type(s) == "string" and #s >= 1 and #s <= 24 and s:match("^[A-Za-z0-9_%.%-]+$") ~= nil
end

local function valid_room(s)
    return type(s) == "string" and #s >= 1 and #s <= 24 and s:match("^[A-Za-z0-9_%-]+$") ~= nil
end

local function clean_text(s)
    if type(s) ~= "string" then return nil end
    s = s:match("^%s*(.-)%s*$")
    if #s == 0 or #s > MAX_TEXT then return nil end
    return s
end

-- members: the users present in a room, with how many of their tabs are in it.
local function members(room)
    local in_room = {}
    for _, fd in ipairs(srv:members(room)) do in_room[fd] = true end
    local out = {}
    for _, nick in ipairs(srv:presence(room)) do
        local tabs = 0
        for _, fd in ipairs(srv:fds(nick)) do
            if in_room[fd] then tabs = tabs + 1 end
        end
        out[#out + 1] = { nick = nick, tabs = math.max(tabs, 1) }
    end
    table.sort(out, function(a, b) return a.nick < b.nick end)
    return out
end

-- rooms: the default rooms plus the ones fd is in, with their user counts.
local function rooms(fd)
    local names, seen = {}, {}
    for _, r in ipairs(DEFAULT_ROOMS) do names[#names + 1] = r; seen[r] = true end
    for _, r in ipairs(srv:rooms(fd)) do
        if not seen[r] then names[#names + 1] = r; seen[r] = true end
    end
    table.sort(names)
    local out = {}
    for _, r in ipairs(names) do out[#out + 1] = { name = r, count = #srv:presence(r) } end
    return out
end

local function leave_room(fd, nick, room)
    srv:leave(fd, room)
    if not contains(srv:presence(room), nick) then
        srv:publish(room, encode{ type = "leave", room = room, nick = nick, ts = now() })
    end
end

local handlers = {}

function handlers.login(fd, m)
    if srv:uid(fd) ~= nil then return fail(fd, "login", "logged_in", "already logged in") end
    if not valid_nick(m.nick) then
        return fail(fd, "login", "bad_nick", "nicknames are 1-24 letters, digits, _ . or -")
    end
    srv:bind(fd, m.nick)
    print("login " .. m.nick .. " fd " .. fd)
    push(fd, { type = "welcome", nick = m.nick, fd = fd, heartbeat = HEARTBEAT, rooms = list(rooms(fd)) })
end

function handlers.join(fd, m, nick)
    if not valid_room(m.room) then return fail(fd, "join", "bad_room", "room names are 1-24 letters, digits, _ or -") end
    local already = contains(srv:rooms(fd), m.room)
    local present = contains(srv:presence(m.room), nick)
    srv:join(fd, m.room)
    push(fd, { type = "joined", room = m.room, members = list(members(m.room)) })
    if not already and not present then
        srv:publish(m.room, encode{ type = "join", room = m.room, nick = nick, ts = now() }, fd)
    end
end

function handlers.leave(fd, m, nick)
    if not valid_room(m.room) then return fail(fd, "leave", "bad_room", "bad room name") end
    if not contains(srv:rooms(fd), m.room) then return fail(fd, "leave", "not_in_room", "not in #" .. m.room) end
    leave_room(fd, nick, m.room)
    push(fd, { type = "left", room = m.room })
end

function handlers.say(fd, m, nick)
    if not valid_room(m.room) or not contains(srv:rooms(fd), m.room) then
        return fail(fd, "say", "not_in_room", "join the room first")
    end
    local text = clean_text(m.text)
    if not text then return fail(fd, "say", "bad_text", "messages are 1-4000 bytes") end
    srv:publish(m.room, encode{ type = "msg", room = m.room, from = nick, text = text, ts = now() })
end

function handlers.pm(fd, m, nick)
    if not valid_nick(m.to) then return fail(fd, "pm", "bad_nick", "bad nickname") end
    local text = clean_text(m.text)
    if not text then return fail(fd, "pm", "bad_text", "messages are 1-4000 bytes") end
    local out = encode{ type = "pm", from = nick, to = m.to, text = text, ts = now() }
    if srv:sendToUid(m.to, out) == 0 then
        return fail(fd, "pm", "offline", m.to .. " is not online")
    end
    if m.to ~= nick then srv:sendToUid(nick, out) end -- the sender's tabs see it too
end

function handlers.rooms(fd)
    push(fd, { type = "rooms", rooms = list(rooms(fd)) })
end

function handlers.members(fd, m)
    if not valid_room(m.room) then return fail(fd, "members", "bad_room", "bad room name") end
    push(fd, { type = "members", room = m.room, members = list(members(m.room)) })
end

srv:on("start", function(srv)
    print("chat server on http://127.0.0.1:" .. srv.port .. "/")
end)

srv:on("open", function(srv, req)
    imscript.log.info("chat: connection open", { fd = req.fd, remote = req.remote_ip })
end)

srv:on("message", function(srv, frame)
    local fd = frame.fd
    local m = json.decode(frame.data)
    if type(m) ~= "table" or type(m.type) ~= "string" then
        return fail(fd, nil, "bad_json", "expected a JSON object with a type")
    end
    if m.type == "ping" then
        return push(fd, { type = "pong", t = m.t })
    end
    local h = handlers[m.type]
    if not h then return fail(fd, m.type, "bad_type", "unknown message type " .. m.type) end
    local nick = srv:uid(fd)
    if nick == nil and m.type ~= "login" then
        return fail(fd, m.type, "not_logged_in", "log in first")
    end
    h(fd, m, nick)
end)

srv:on("close", function(srv, fd)
    local nick = srv:uid(fd)
    if nick == nil then return end
    for _, room in ipairs(srv:rooms(fd)) do leave_room(fd, nick, room) end
    srv:unbind(fd)
    print("logout " .. nick .. " fd " .. fd)
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
