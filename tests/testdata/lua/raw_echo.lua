-- Test helper: a TCP server that echoes every received chunk unchanged (no
-- prefix), so binary and 1 MiB payloads can be compared byte for byte
-- however TCP splits them. It prints its lifecycle events to stdout.
-- Env: PORT, MAX_CONN (optional max_connection), CERT and KEY (optional:
-- TLS with ssl_cert_file and ssl_key_file).
local srv = imscript.server{
    host = "127.0.0.1",
    port = tonumber(imscript.env.PORT),
    worker_num = 2,
    max_connection = tonumber(imscript.env.MAX_CONN), -- nil when unset
    ssl_cert_file = imscript.env.CERT,
    ssl_key_file = imscript.env.KEY,
}

srv:on("start", function(srv)
    print("start " .. srv.port)
end)

srv:on("connect", function(srv, fd)
    print("connect " .. fd)
end)

srv:on("receive", function(srv, fd, data)
    srv:send(fd, data)
end)

srv:on("close", function(srv, fd)
    print("close " .. fd)
end)

srv:on("shutdown", function(srv)
    print("shutdown handler ran")
end)
