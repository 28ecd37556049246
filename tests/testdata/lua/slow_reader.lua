-- Test helper for buffer_output_size (256 KiB): a line server ("\n"-framed).
--   "fd"    -> "fd <n>\n"
--   "get"   -> 128 KiB (two 64 KiB sends); a failed send prints a line
--   "flood" -> 64 KiB sends until one returns false (at most 4096 = 256 MiB),
--              then prints how many went out
local srv = imscript.server{
    host = "127.0.0.1",
    port = tonumber(imscript.env.PORT),
    open_eof_check = true,
    open_eof_split = true,
    package_eof = "\n",
    buffer_output_size = 256 * 1024,
}

local chunk = string.rep("x", 64 * 1024)
local reported = {}

srv:on("receive", function(srv, fd, line)
    if line == "fd\n" then
        srv:send(fd, "fd " .. fd .. "\n")
    elseif line == "get\n" then
        for _ = 1, 2 do
            local ok = srv:send(fd, chunk)
            if not ok then
                if not reported[fd] then
                    reported[fd] = true
                    print("get: send false fd=" .. fd)
                end
                return
            end
        end
    elseif line == "flood\n" then
        for n = 0, 4095 do
            local ok = srv:send(fd, chunk)
            if not ok then
                print("flood: send false after " .. n .. " chunks fd=" .. fd)
                return
            end
        end
        print("flood: all 4096 chunks queued fd=" .. fd)
    end
end)

srv:on("close", function(srv, fd)
    reported[fd] = nil
    print("close " .. fd)
end)
