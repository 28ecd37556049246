-- HTTP server (Swoole's HTTP server example): prints each request's fields,
-- sets a cookie and a header, and answers an HTML page.
--   imscript run scripts/lua/http_hello.lua      then: curl -i 'http://127.0.0.1:9505/hello?name=imscript'
local json = imscript.json
local port = tonumber(imscript.env.PORT or "9505")

local srv = imscript.server{
    host = "0.0.0.0",
    port = port,
    type = "http",
    worker_num = 2,
}

srv:on("start", function(srv)
    print("http server on http://127.0.0.1:" .. srv.port .. "/")
end)

srv:on("request", function(req, res)
    -- Swoole's var_dump($request->get, ...): the fields, one per line.
    print("request: " .. req.method .. " " .. req.uri .. " " .. req.protocol
        .. " from " .. req.remote_ip .. ":" .. req.remote_port .. " fd " .. req.fd)
    print("path: " .. req.path)
    print("header: " .. json.encode(req.header))
    print("get: " .. json.encode(req.query))
    print("cookie: " .. json.encode(req.cookie))
    print("post: " .. json.encode(req.post))
    print("body: " .. #(req.body or "") .. " bytes")

    res:header("X-Powered-By", "imscript")
    res:cookie("imscript_visit", tostring(os.time()), { path = "/", max_age = 3600, httponly = true })
    res:header("Content-Type", "text/html; charset=utf-8")
    res:send("<h1>Hello Swoole. #" .. math.random(1000, 9999) .. "</h1>")
end)
