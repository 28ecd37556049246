-- Test helper for the route tests: srv:route, req.params, req:json(),
-- res:json() and chained status/header/cookie.
--   GET    /users/:id            {route="user", id=}
--   GET    /users/new            {route="new"} (declared after /users/:id: the literal wins)
--   DELETE /users/:id            204
--   GET    /notes/:id/tags/:tag  {id=, tag=}
--   GET    /files/*              {route="rest", rest=} (declared before /files/:name)
--   GET    /files/:name          {route="name", name=}
--   *      /any                  {method=}
--   GET    /head                 "body for get" with X-Head: yes (HEAD gets the head)
--   POST   /notes                req:json() + id, 201 with X-Id and a cookie (chained)
--   POST   /echo                 res:json(req:json())
--   POST   /safe                 catches req:json()'s error; prints what it and a later res:json got
--   GET    /created              res:json(v, 201)
--   GET    /chain                status with a reason, header, cookie, json, all chained
--   GET    /late                 send, then status/header on the finished response (still chain)
--   GET    /problem              res:json with the script's own Content-Type and a status
--   GET    /unencodable          res:json of a function: raises (500)
--   GET    /error                raises (500)
--   GET    /                     "root"
--   otherwise                    the request handler: 404 "fallback <path> params=<n>"
-- A websocket server on WSPORT: GET /hello/:name and no request handler.
-- Bad patterns are refused at load: their errors are printed.
local srv = imscript.server{
    host = "127.0.0.1",
    port = tonumber(imscript.env.PORT),
    type = "http",
    worker_num = 2,
}

local function count(t)
    local n = 0
    for _ in pairs(t) do n = n + 1 end
    return n
end

srv:route("GET", "/users/:id", function(req, res)
    res:json{ route = "user", id = req.params.id }
end)

srv:route("GET", "/users/new", function(req, res)
    res:json{ route = "new" }
end)

srv:route("delete", "/users/:id", function(req, res)
    res:status(204):send()
end)

srv:route("GET", "/notes/:id/tags/:tag", function(req, res)
    res:json{ id = req.params.id, tag = req.params.tag }
end)

srv:route("GET", "/files/*", function(req, res)
    res:json{ route = "rest", rest = req.params["*"] }
end)

srv:route("GET", "/files/:name", function(req, res)
    res:json{ route = "name", name = req.params.name }
end)

srv:route("*", "/any", function(req, res)
    res:json{ method = req.method }
end)

srv:route("GET", "/head", function(req, res)
    res:header("X-Head", "yes"):send("body for get")
end)

srv:route("POST", "/notes", function(req, res)
    local note = req:json()
    note.id = 42
    res:status(201):header("X-Id", tostring(note.id)):cookie("last", "42", { path = "/" }):json(note)
end)

srv:route("POST", "/echo", function(req, res)
    res:json(req:json())
end)

srv:route("POST", "/safe", function(req, res)
    local ok, err = pcall(req.json, req)
    if ok then
        res:json{ ok = true }
        return
    end
    print("safe caught: " .. tostring(err))
    print("safe json after the 400: " .. tostring(res:json{ ok = false }))
end)

srv:route("GET", "/created", function(req, res)
    print("created json: " .. tostring(res:json({ created = true }, 201)))
end)

srv:route("GET", "/chain", function(req, res)
    res:status(202, "Accepted Here"):header("X-A", "1"):header("X-B", "2"):cookie("c", "v"):json{ chained = true }
end)

srv:route("GET", "/late", function(req, res)
    res:send("done")
    local r = res:status(500):header("X-Late", "1")
    print("late chain: " .. type(r) .. " " .. tostring(r:send("again")))
end)

srv:route("GET", "/problem", function(req, res)
    res:header("Content-Type", "application/problem+json"):json({ title = "nope" }, 422)
end)

srv:route("GET", "/unencodable", function(req, res)
    res:json{ f = function() end }
end)

srv:route("GET", "/error", function(req, res)
    error("route boom")
end)

srv:route("GET", "/", function(req, res)
    res:send("root")
end)

srv:on("request", function(req, res)
    res:status(404):send("fallback " .. req.path .. " params=" .. count(req.params))
end)

for _, bad in ipairs{ "users", "/a/*/b", "/:id/x/:id", "/x/:", "/files/*.txt" } do
    local ok, err = pcall(srv.route, srv, "GET", bad, function() end)
    print("bad pattern " .. bad .. ": " .. tostring(ok) .. " " .. tostring(err))
end
local ok, err = pcall(srv.route, srv, "GE T", "/x", function() end)
print("bad method: " .. tostring(ok) .. " " .. tostring(err))

local ws = imscript.server{ host = "127.0.0.1", port = tonumber(imscript.env.WSPORT), type = "websocket" }
ws:route("GET", "/hello/:name", function(req, res)
    res:json{ hello = req.params.name }
end)
