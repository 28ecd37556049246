-- Bench WebSocket echo (tests/bench): every message is pushed back
-- unchanged, as node_ws.js and the gorilla/websocket reference do.
--   PORT=9501 imscript run --workers 2 --no-watch tests/bench/ws_echo.lua
local srv = imscript.server{
    host = "127.0.0.1",
    port = tonumber(imscript.env.PORT or "9501"),
    type = "websocket",
    worker_num = 2,
}

srv:on("message", function(srv, frame)
    srv:push(frame.fd, frame.data, frame.opcode)
end)
