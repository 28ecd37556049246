-- Bench SQLite (tests/bench): GET /user?id=N answers row N of the bench's
-- table as JSON, one point SELECT by primary key per request, in the
-- suspending style (no callback: the handler waits for the row).
--   BENCH_SQLITE=/tmp/bench.db BENCH_POOL=4 PORT=9501 imscript run --workers 2 --no-watch tests/bench/http_sqlite.lua
local db = imscript.sql.open("sqlite:" .. imscript.env.BENCH_SQLITE,
    { max_open = tonumber(imscript.env.BENCH_POOL or "4") })

local srv = imscript.server{
    host = "127.0.0.1",
    port = tonumber(imscript.env.PORT or "9501"),
    type = "http",
    worker_num = 2,
}

srv:route("GET", "/user", function(req, res)
    local id = tonumber(req.query.id)
    if not id then
        return res:json({ error = "bad id" }, 400)
    end
    local row, err = db:queryRow("SELECT id, name, email, created FROM users WHERE id = ?", id)
    if err then
        return res:json({ error = err }, 500)
    end
    if not row then
        return res:json({ error = "not found" }, 404)
    end
    res:json(row)
end)
