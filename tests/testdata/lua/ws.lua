-- Test helper for the WebSocket and IM tests. Every message is echoed with
-- its opcode, except text messages starting with "/", which are commands
-- answered with one text frame "=<command> <result>":
--   /fd                 "=fd <fd> <worker id>"
--   /version            "=version <VERSION>" (the reload test rewrites it)
--   /bye                disconnect(fd, 4000, "bye")
--   /est <fd>           "=est <isEstablished(fd)>"
--   /pushto <fd> <msg>  "=pushto <push(fd, msg)>"
--   /bind <uid>         "=bind <bind(fd, uid)>" (/bindn binds the number)
--   /unbind             "=unbind"
--   /uid <fd>           "=uid <uid> <type>" or "=uid none"
--   /fds <uid>          "=fds <fd>,<fd>,..."
--   /touid <uid> <msg>  "=touid <sendToUid(uid, msg)>"
--   /join <room>, /leave <room>   "=join <room>", "=leave <room>"
--   /rooms <fd>, /members <room>, /presence <room>   "=<cmd> <a>,<b>,..."
--   /pub <room> <msg>   "=pub <publish(room, msg)>"
--   /pubx <room> <msg>  "=pubx <publish(room, msg, fd)>"
--   /frame              "=frame <k>=<v>,..." the frame's fields (frame:pairs()), sorted
-- Plain HTTP requests are answered "plain http fd=<fd>". open and close
-- events are printed. With PORT2 set, a second websocket server on it only
-- accepts the Origin http://good.example.
-- Env: PORT, PORT2 (optional), CERT and KEY (TLS, optional).
local VERSION = "A"

local srv = imscript.server{
    host = "127.0.0.1",
    port = tonumber(imscript.env.PORT),
    type = "websocket",
    worker_num = 2,
    package_max_length = 256 * 1024,
    websocket_subprotocols = { "chat.v2", "chat.v1" },
    ssl_cert_file = imscript.env.CERT,
    ssl_key_file = imscript.env.KEY,
}

local function list(l)
    local out = {}
    for i, v in ipairs(l) do
        out[i] = tostring(v)
    end
    return table.concat(out, ",")
end

local commands = {}

commands.fd = function(srv, fd)
    return fd .. " " .. imscript.worker_id
end
commands.version = function()
    return VERSION
end
commands.bye = function(srv, fd)
    srv:disconnect(fd, 4000, "bye")
end
commands.est = function(srv, fd, a)
    return tostring(srv:isEstablished(tonumber(a)))
end
commands.pushto = function(srv, fd, a, rest)
    return tostring(srv:push(tonumber(a), rest))
end
commands.bind = function(srv, fd, a)
    return tostring(srv:bind(fd, a))
end
commands.bindn = function(srv, fd, a)
    return tostring(srv:bind(fd, tonumber(a)))
end
commands.unbind = function(srv, fd)
    srv:unbind(fd)
    return ""
end
commands.uid = function(srv, fd, a)
    local uid = srv:uid(tonumber(a))
    if uid == nil then
        return "none"
    end
    return tostring(uid) .. " " .. type(uid)
end
commands.fds = function(srv, fd, a)
    return list(srv:fds(a))
end
commands.touid = function(srv, fd, a, rest)
    return tostring(srv:sendToUid(a, rest))
end
commands.join = function(srv, fd, a)
    srv:join(fd, a)
    return a
end
commands.leave = function(srv, fd, a)
    srv:leave(fd, a)
    return a
end
commands.rooms = function(srv, fd, a)
    return list(srv:rooms(tonumber(a)))
end
commands.members = function(srv, fd, a)
    return list(srv:members(a))
end
commands.presence = function(srv, fd, a)
    return list(srv:presence(a))
end
commands.pub = function(srv, fd, a, rest)
    return tostring(srv:publish(a, rest))
end
commands.pubx = function(srv, fd, a, rest)
    return tostring(srv:publish(a, rest, fd))
end

srv:on("open", function(srv, req)
    print("open " .. req.fd .. " " .. req.path)
end)

srv:on("message", function(srv, frame)
    local data = frame.data
    if data == "/frame" then
        local kv = {}
        for k, v in frame:pairs() do
            kv[#kv + 1] = k .. "=" .. tostring(v)
        end
        table.sort(kv)
        srv:push(frame.fd, "=frame " .. table.concat(kv, ","))
        return
    end
    if frame.opcode == "text" and data:sub(1, 1) == "/" then
        local cmd, a, rest = data:match("^/(%S+)%s*(%S*)%s?(.*)$")
        local fn = commands[cmd]
        if not fn then
            srv:push(frame.fd, "=unknown " .. data)
            return
        end
        local result = fn(srv, frame.fd, a, rest)
        if result ~= nil then
            srv:push(frame.fd, "=" .. cmd .. " " .. result)
        end
        return
    end
    srv:push(frame.fd, data, frame.opcode)
end)

srv:on("close", function(srv, fd)
    print("close " .. fd)
end)

srv:on("request", function(req, res)
    res:header("Content-Type", "text/plain")
    res:send("plain http fd=" .. req.fd)
end)

if imscript.env.PORT2 then
    local guarded = imscript.server{
        host = "127.0.0.1",
        port = tonumber(imscript.env.PORT2),
        type = "websocket",
        websocket_origins = { "http://good.example" },
    }
    guarded:on("message", function(srv, frame)
        srv:push(frame.fd, "guarded " .. frame.data)
    end)
end
