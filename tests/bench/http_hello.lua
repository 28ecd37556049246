-- Bench HTTP hello (tests/bench): every request gets 200 "hello world",
-- the same small fixed answer as node_http.js and the Go ceiling.
--   PORT=9501 imscript run --workers 2 --no-watch tests/bench/http_hello.lua
local srv = imscript.server{
    host = "127.0.0.1",
    port = tonumber(imscript.env.PORT or "9501"),
    type = "http",
    worker_num = 2,
}

srv:on("request", function(req, res)
    res:header("Content-Type", "text/plain")
    res:send("hello world")
end)
