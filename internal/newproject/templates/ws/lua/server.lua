-- A WebSocket echo server: every message comes back to its sender, text
-- as text, binary as binary.
--   imscript run server.lua        then connect to ws://127.0.0.1:9502/
local port = tonumber(imscript.env.PORT or "9502")

local srv = imscript.server{
    host = "127.0.0.1",      -- "0.0.0.0" to accept other machines
    port = port,
    type = "websocket",
}

srv:on("start", function(srv)
    print("websocket server on ws://127.0.0.1:" .. srv.port .. "/")
end)

srv:on("open", function(srv, req)
    print("open: fd " .. req.fd .. " from " .. req.remote_ip)
end)

srv:on("message", function(srv, frame)
    srv:push(frame.fd, frame.data, frame.opcode)
end)

-- A plain HTTP request (not an upgrade) gets a line of help.
srv:on("request", function(req, res)
    res:header("Content-Type", "text/plain; charset=utf-8")
    res:send("a WebSocket echo server: connect to ws://" .. (req.header.host or "127.0.0.1") .. "/\n")
end)
