-- Test helper for the HTTP server tests: one route per feature.
--   /info       the request fields as JSON (binary parts up to 4 KiB as hex)
--   /body       the raw request body back (application/octet-stream)
--   /upload     the uploaded file of field ?field= back, byte for byte
--   /status     status ?code= with the optional reason ?reason=
--   /headers    a custom header and two cookies (one with every attribute)
--   /redirect   redirect to /target (?code= when given)
--   /target     "target reached"
--   /chain      status 202, a header and a cookie set in one chain; "same"
--               when the chain's result is res itself
--   /chunked    a chunked response: three write()s, then send("!")
--   /stream     write("first "), and 100 ms later write("second ") and send("last")
--   /slow       answers "slow <id>" after ?ms= (default 300) milliseconds
--   /fast       answers "fast <id>" at once
--   /error      raises an error (the host answers 500)
--   /sendfile   sendfile(DOCROOT/<?name=>)
--   /twice      send twice; prints what each send returned
--   otherwise   404 "no route <path>"
-- Env: PORT, DOCROOT (document_root, optional), CERT and KEY (TLS, optional).
local srv = imscript.server{
    host = "127.0.0.1",
    port = tonumber(imscript.env.PORT),
    type = "http",
    worker_num = 2,
    document_root = imscript.env.DOCROOT,
    package_max_length = 256 * 1024,
    http_max_header_size = 8192,
    ssl_cert_file = imscript.env.CERT,
    ssl_key_file = imscript.env.KEY,
}

local function hex(s)
    -- In slices: gopher-lua's table.concat and gsub get slow or overflow on
    -- one huge table / string.
    local parts = {}
    for i = 1, #s, 1024 do
        local slice = s:sub(i, i + 1023)
        parts[#parts + 1] = (slice:gsub(".", function(c) return string.format("%02x", c:byte()) end))
    end
    return table.concat(parts)
end

-- small_hex is hex for up to 4 KiB (bigger contents are checked through
-- /upload and /body), nil beyond.
local function small_hex(s)
    if #s > 4096 then
        return nil
    end
    return hex(s)
end

local routes = {}

routes["/info"] = function(req, res)
    local files = {}
    for field, f in pairs(req.files or {}) do
        files[field] = { name = f.name, type = f.type, size = f.size, hex = small_hex(f.content) }
    end
    res:header("Content-Type", "application/json")
    res:send(imscript.json.encode{
        method = req.method,
        uri = req.uri,
        path = req.path,
        query = req.query,
        header = req.header,
        cookie = req.cookie,
        post = req.post,
        files = files,
        body_hex = small_hex(req.body or ""),
        body_size = #(req.body or ""),
        fd = req.fd,
        remote_ip = req.remote_ip,
        remote_port = req.remote_port,
        protocol = req.protocol,
        worker_id = imscript.worker_id,
    })
end

routes["/body"] = function(req, res)
    res:header("Content-Type", "application/octet-stream")
    res:send(req.body)
end

routes["/upload"] = function(req, res)
    local f = req.files[req.query.field]
    res:header("Content-Type", "application/octet-stream")
    res:header("X-File-Name", f.name)
    res:header("X-File-Type", f.type)
    res:header("X-File-Size", tostring(f.size))
    res:send(f.content)
end

routes["/status"] = function(req, res)
    local code = tonumber(req.query.code)
    if req.query.reason then
        res:status(code, req.query.reason)
    else
        res:status(code)
    end
    res:send("status " .. code)
end

routes["/headers"] = function(req, res)
    res:header("X-Test", "yes")
    res:header("Content-Type", "text/plain")
    res:cookie("plain", "v1")
    res:cookie("full", "v2", {
        expires = 2000000000,
        max_age = 3600,
        path = "/p",
        domain = "example.com",
        secure = true,
        httponly = true,
        samesite = "Strict",
    })
    res:send("headers")
end

routes["/redirect"] = function(req, res)
    if req.query.code then
        res:redirect("/target", tonumber(req.query.code))
    else
        res:redirect("/target")
    end
end

routes["/target"] = function(req, res)
    res:send("target reached")
end

routes["/chain"] = function(req, res)
    local r = res:status(202):header("X-Chain", "1"):cookie("chained", "1")
    res:send(rawequal(r, res) and "same" or "different")
end

routes["/chunked"] = function(req, res)
    res:header("Content-Type", "text/plain")
    res:write("hello ")
    res:write("chunked ")
    res:write("world")
    res:send("!")
end

routes["/stream"] = function(req, res)
    res:header("Content-Type", "text/plain")
    res:write("first ")
    imscript.after(100, function()
        res:write("second ")
        res:send("last")
    end)
end

routes["/slow"] = function(req, res)
    local id = req.query.id or ""
    imscript.after(tonumber(req.query.ms or "300"), function()
        res:send("slow " .. id)
    end)
end

routes["/fast"] = function(req, res)
    res:send("fast " .. (req.query.id or ""))
end

routes["/error"] = function(req, res)
    error("handler boom")
end

routes["/sendfile"] = function(req, res)
    res:sendfile(imscript.env.DOCROOT .. "/" .. req.query.name)
end

routes["/twice"] = function(req, res)
    local a = res:send("first")
    local b = res:send("second")
    print("twice " .. tostring(a) .. " " .. tostring(b))
end

srv:on("request", function(req, res)
    local route = routes[req.path]
    if route then
        return route(req, res)
    end
    res:status(404)
    res:send("no route " .. req.path)
end)
