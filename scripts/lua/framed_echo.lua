-- Length-prefixed echo: each package is a 4-byte big-endian body length
-- followed by the body (Swoole's open_length_check with type "N").
-- The host reassembles packages however TCP splits or joins them; the reply
-- is a package of the same form whose body is "echo: " .. body.
--   imscript run scripts/lua/framed_echo.lua
local port = tonumber(imscript.env.PORT or "9504")

local srv = imscript.server{
    host = "0.0.0.0",
    port = port,
    worker_num = 2,
    open_length_check = true,
    package_length_type = "N",
    package_length_offset = 0,
    package_body_offset = 4,
    package_max_length = 1024 * 1024 + 4,
}

local function u32be(n)
    return string.char(math.floor(n / 16777216) % 256, math.floor(n / 65536) % 256,
        math.floor(n / 256) % 256, n % 256)
end

srv:on("receive", function(srv, fd, pkg)
    local body = "echo: " .. pkg:sub(5)     -- the package includes its header
    srv:send(fd, u32be(#body) .. body)
end)
