-- Bench Redis (tests/bench): GET /get?k=KEY answers the value of KEY as
-- text, one Redis GET per request, in the suspending style (no callback:
-- the handler waits for the reply).
--   BENCH_REDIS=redis://127.0.0.1:6379/0 BENCH_POOL=4 PORT=9501 imscript run --workers 2 --no-watch tests/bench/http_redis.lua
local r = imscript.redis.open(imscript.env.BENCH_REDIS,
    { pool_size = tonumber(imscript.env.BENCH_POOL or "4") })

local srv = imscript.server{
    host = "127.0.0.1",
    port = tonumber(imscript.env.PORT or "9501"),
    type = "http",
    worker_num = 2,
}

srv:route("GET", "/get", function(req, res)
    local v, err = r:call("GET", req.query.k or "")
    if err then
        return res:status(500):send(tostring(err))
    end
    if v == nil then
        return res:status(404):send("not found")
    end
    res:header("Content-Type", "text/plain")
    res:send(v)
end)
