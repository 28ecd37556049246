-- HTTP client: fetches a URL with imscript.http.request and prints the
-- status, two headers and the body; then it stops (exit status 1 when the
-- request failed). The default URL is the http_hello example's.
--   imscript run scripts/lua/http_client.lua -- https://example.com/
-- URL can also come from the environment.

-- A script loads on every worker; one request is enough.
if imscript.worker_id ~= 0 then return end

local url = imscript.args[1] or imscript.env.URL or "http://127.0.0.1:9505/"

-- The main chunk cannot wait for a result; a handler can: this timer's
-- callback suspends in the request until the answer is in (the worker runs
-- other events meanwhile), as a request in an OpenResty handler does.
imscript.after(0, function()
    local res, err = imscript.http.request({
        method = "GET",
        url = url,
        headers = { Accept = "text/html, text/plain;q=0.9, */*;q=0.5" },
        timeout = 10,
    })
    if not res then
        print("request failed: " .. err)
        imscript.exit(1) -- stops the host; `imscript run` exits with 1
        return
    else
        print("status: " .. res.status)
        print("content-type: " .. (res.headers["content-type"] or "-"))
        print("content-length: " .. #res.body)
        print("final url: " .. res.url)
        print("")
        print(res.body)
    end
    imscript.shutdown()
end)
