-- Bench room broadcast (tests/bench): every connection joins one room when
-- it opens; every message is published to the whole room (the sender too),
-- the fan-out done by the host in Go.
-- HISTORY=100 keeps the room's last 100 messages (in memory, or on disk
-- with --data DIR).
--   PORT=9501 imscript run --workers 2 --no-watch tests/bench/ws_room.lua
local srv = imscript.server{
    host = "127.0.0.1",
    port = tonumber(imscript.env.PORT or "9501"),
    type = "websocket",
    worker_num = 2,
    history_size = tonumber(imscript.env.HISTORY or "0"),
}

srv:on("open", function(srv, req)
    srv:join(req.fd, "room")
end)

srv:on("message", function(srv, frame)
    srv:publish("room", frame.data)
end)
