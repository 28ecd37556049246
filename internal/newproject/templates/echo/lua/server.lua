-- A TCP echo server: every line a client sends comes back to it.
--   imscript run server.lua        then: nc 127.0.0.1 9501
local port = tonumber(imscript.env.PORT or "9501")

local srv = imscript.server{
    host = "127.0.0.1",      -- "0.0.0.0" to accept other machines
    port = port,
    type = "tcp",
    open_eof_split = true,   -- one receive event per line...
    package_eof = "\n",      -- ...ending with "\n"
}

srv:on("start", function(srv)
    print("echo server on 127.0.0.1:" .. srv.port)
end)

srv:on("receive", function(srv, fd, line)
    srv:send(fd, line)
end)
