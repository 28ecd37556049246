-- Test helper for the safety rails: a line server ("\n"-framed) whose
-- "boom" raises an error and whose "loop" never returns (max_exec_ms = 200).
-- Any other line is answered "ok:<line> w<worker id>".
local srv = imscript.server{
    host = "127.0.0.1",
    port = tonumber(imscript.env.PORT),
    open_eof_check = true,
    open_eof_split = true,
    package_eof = "\n",
    max_exec_ms = 200,
}

local function fail(msg)
    error(msg) -- LINE:boom
end

srv:on("receive", function(srv, fd, line)
    local cmd = line:sub(1, -2)
    if cmd == "boom" then
        fail("kaboom")
    elseif cmd == "loop" then
        while true do end
    end
    srv:send(fd, "ok:" .. cmd .. " w" .. imscript.worker_id .. "\n")
end)
