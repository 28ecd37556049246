-- Test helper for reloads of required files: a line server ("\n"-framed)
-- that answers each line with the prefix of the module beside it
-- (reload_prefix.lua), which the tests rewrite.
local mod = require("reload_prefix")

local srv = imscript.server{
    host = "127.0.0.1",
    port = tonumber(imscript.env.PORT),
    open_eof_check = true,
    open_eof_split = true,
    package_eof = "\n",
}

srv:on("receive", function(srv, fd, line)
    srv:send(fd, mod.PREFIX .. ":" .. line)
end)
