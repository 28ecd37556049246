-- Test helper for hot reload: a line server ("\n"-framed) that answers each
-- line with PREFIX .. ":" .. line. The tests rewrite the PREFIX line.
-- "stats" answers "reload_count=N".
local PREFIX = "A"

local srv = imscript.server{
    host = "127.0.0.1",
    port = tonumber(imscript.env.PORT),
    open_eof_check = true,
    open_eof_split = true,
    package_eof = "\n",
}

srv:on("receive", function(srv, fd, line)
    if line == "stats\n" then
        srv:send(fd, "reload_count=" .. srv:stats().reload_count .. "\n")
        return
    end
    srv:send(fd, PREFIX .. ":" .. line)
end)
