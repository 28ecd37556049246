-- Test helper for error reports and imscript.exit: a line server ("\n"-
-- framed). "index" makes the receive handler fail in a helper function,
-- "later" does so after a sleep, "require" loads a module that fails as
-- it loads, "exit N" ends the host with imscript.exit(N); every line is
-- answered "ok <line>".
local srv = imscript.server{
    host = "127.0.0.1",
    port = tonumber(imscript.env.PORT),
    open_eof_check = true,
    open_eof_split = true,
    package_eof = "\n",
}

local function helper(t)
    return t.missing.field -- LINE:index
end

srv:on("receive", function(srv, fd, line) -- LINE:handler
    local cmd = line:sub(1, -2)
    if cmd == "index" then
        helper({}) -- LINE:call
    elseif cmd == "later" then
        imscript.sleep(0.01) -- the handler suspends, then fails
        helper({}) -- LINE:later
    elseif cmd == "require" then
        require("stack_broken") -- LINE:require
    elseif cmd:sub(1, 5) == "exit " then
        imscript.exit(tonumber(cmd:sub(6)))
    end
    srv:send(fd, "ok " .. cmd .. "\n")
end)

srv:on("shutdown", function(srv)
    print("shutdown handler ran")
end)
