-- Bench echo (tests/bench): every byte comes back unchanged, no prefix, so
-- the imscript rows do the same work as the bare gnet and Node echo servers.
--   PORT=9501 imscript run --workers 2 --no-watch tests/bench/echo.lua
local srv = imscript.server{
    host = "127.0.0.1",
    port = tonumber(imscript.env.PORT or "9501"),
    type = "tcp",
    worker_num = 2,
}

srv:on("receive", function(srv, fd, data)
    srv:send(fd, data)
end)
