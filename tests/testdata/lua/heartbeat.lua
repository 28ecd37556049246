-- Test helper for heartbeats: a raw echo server that closes connections
-- idle for 0.8 s, checking every 0.2 s.
local srv = imscript.server{
    host = "127.0.0.1",
    port = tonumber(imscript.env.PORT),
    heartbeat_check_interval = 0.2,
    heartbeat_idle_time = 0.8,
}

srv:on("receive", function(srv, fd, data)
    srv:send(fd, data)
end)

srv:on("close", function(srv, fd)
    print("close " .. fd)
end)
