-- UDP echo server (Swoole's UDP example): each datagram comes back to its
-- sender prefixed with "Swoole UDP Server: ".
--   imscript run scripts/lua/udp_echo.lua
local port = tonumber(imscript.env.PORT or "9502")

local srv = imscript.server{ host = "0.0.0.0", port = port, type = "udp", worker_num = 2 }

srv:on("start", function(srv)
    print("udp echo server listening on port " .. srv.port)
end)

srv:on("packet", function(srv, data, addr)
    srv:sendto(addr.address, addr.port, "Swoole UDP Server: " .. data)
end)
