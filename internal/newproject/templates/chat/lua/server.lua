-- A chat: the page in public/ and a WebSocket that every browser tab
-- joins. A client sends {"nick": "ada", "text": "hi"}; everyone in the
-- room, the sender too, gets {"nick": "ada", "text": "hi"}. A client that
-- connects first gets {"joined": "lobby"}.
--   imscript run server.lua        then open http://127.0.0.1:8080/ in two tabs
local json = imscript.json
local port = tonumber(imscript.env.PORT or "8080")
local ROOM = "lobby"

local srv = imscript.server{
    host = "127.0.0.1",          -- "0.0.0.0" to accept other machines
    port = port,
    type = "websocket",
    document_root = "public",    -- GET / serves public/index.html
}

srv:on("start", function(srv)
    print("chat on http://127.0.0.1:" .. srv.port .. "/")
end)

srv:on("open", function(srv, req)
    srv:join(req.fd, ROOM)
    -- Said once the connection is in the room: from now on it gets
    -- every message published there.
    srv:push(req.fd, json.encode({ joined = ROOM }))
end)

srv:on("message", function(srv, frame)
    local msg = json.decode(frame.data)
    if type(msg) ~= "table" or type(msg.text) ~= "string" or msg.text == "" then
        srv:push(frame.fd, json.encode({ error = 'send {"nick": "...", "text": "..."}' }))
        return
    end
    local nick = msg.nick
    if type(nick) ~= "string" or nick == "" then
        nick = "guest" .. frame.fd
    end
    srv:publish(ROOM, json.encode({ nick = nick:sub(1, 32), text = msg.text:sub(1, 2000) }))
end)
