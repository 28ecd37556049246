-- Test helper: the bench's HTTP hello (tests/bench/http_hello.lua), every
-- request answered 200 "hello world" with one header set. Env: PORT.
local srv = imscript.server{
    host = "127.0.0.1",
    port = tonumber(imscript.env.PORT),
    type = "http",
    worker_num = 2,
}

srv:on("request", function(req, res)
    res:header("Content-Type", "text/plain")
    res:send("hello world")
end)
