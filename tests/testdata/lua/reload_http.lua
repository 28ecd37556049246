-- Test helper for TestReloadDrainsRequests: an HTTP server whose answers
-- name its version (the test rewrites the VERSION line and saves).
--   /slow    answers "slow <version>" 400 ms later, from a timer
--   /never   never answers
--   /        answers "<version>"
-- Each request prints "got <path> <version>" when its handler runs.
-- Env: PORT.
VERSION = "v1"
local srv = imscript.server{
    host = "127.0.0.1",
    port = tonumber(imscript.env.PORT),
    type = "http",
    worker_num = 2,
    max_wait_time = 1.5,
}

srv:on("request", function(req, res)
    local version = VERSION
    print("got " .. req.path .. " " .. version)
    if req.path == "/slow" then
        imscript.after(400, function()
            res:send("slow " .. version)
        end)
    elseif req.path ~= "/never" then
        res:send(version)
    end
end)
