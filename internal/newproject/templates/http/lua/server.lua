-- An HTTP server with three routes.
--   imscript run server.lua        then: curl http://127.0.0.1:8080/hello/you
local port = tonumber(imscript.env.PORT or "8080")

local srv = imscript.server{
    host = "127.0.0.1",      -- "0.0.0.0" to accept other machines
    port = port,
    type = "http",
}

srv:on("start", function(srv)
    print("http server on http://127.0.0.1:" .. srv.port .. "/")
end)

srv:route("GET", "/", function(req, res)
    res:header("Content-Type", "text/plain; charset=utf-8")
    res:send("Hello from imscript\n")
end)

srv:route("GET", "/hello/:name", function(req, res)
    res:json({ greeting = "Hello, " .. req.params.name .. "!" })
end)

-- POST /sum with {"numbers": [1, 2, 3]} answers {"sum": 6}.
srv:route("POST", "/sum", function(req, res)
    local body = req:json()   -- a body that is not JSON answers 400
    local sum = 0
    for _, n in ipairs(body.numbers or {}) do
        if type(n) ~= "number" then
            return res:json({ error = "numbers must hold numbers" }, 400)
        end
        sum = sum + n
    end
    res:json({ sum = sum })
end)
