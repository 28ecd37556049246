-- Test helper for TLS on a TCP server: echoes every chunk unchanged over
-- TLS and prints its connect and close events.
-- Env: PORT, CERT, KEY.
local srv = imscript.server{
    host = "127.0.0.1",
    port = tonumber(imscript.env.PORT),
    worker_num = 2,
    ssl_cert_file = imscript.env.CERT,
    ssl_key_file = imscript.env.KEY,
}

srv:on("connect", function(srv, fd)
    print("connect " .. fd)
end)

srv:on("receive", function(srv, fd, data)
    srv:send(fd, data)
end)

srv:on("close", function(srv, fd)
    print("close " .. fd)
end)
