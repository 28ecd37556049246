-- TCP echo server (Swoole's first example): every message comes back
-- prefixed with "Swoole TCP Server: ".
--   imscript run scripts/lua/echo.lua      then: telnet 127.0.0.1 9501
local port = tonumber(imscript.env.PORT or "9501")

local srv = imscript.server{
    host = "0.0.0.0",
    port = port,
    type = "tcp",
    worker_num = 2,
}

srv:on("start", function(srv)
    print("echo server listening on port " .. srv.port)
end)

srv:on("connect", function(srv, fd)
    imscript.log.info("client connected", { fd = fd })
end)

srv:on("receive", function(srv, fd, data)
    srv:send(fd, "Swoole TCP Server: " .. data)
end)

srv:on("close", function(srv, fd)
    imscript.log.info("client closed", { fd = fd })
end)
