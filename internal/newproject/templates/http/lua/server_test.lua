-- The tests of server.lua: `imscript test` starts the server on a free
-- port (imscript.env.PORT), then runs each test.it in order. A failed
-- t.equal, t.ok or any error fails the test.
local t = imscript.test
local json = imscript.json
local base = "http://127.0.0.1:" .. (imscript.env.PORT or "8080")

-- request makes an HTTP request; the test waits for the answer.
local function request(method, path, body)
    local res, err = imscript.http.request{
        method = method, url = base .. path, body = body,
        headers = body and { ["Content-Type"] = "application/json" } or nil,
    }
    t.ok(res, err)
    return res
end

t.it("GET / says hello", function()
    local res = request("GET", "/")
    t.equal(res.status, 200)
    t.equal(res.body, "Hello from imscript\n")
end)

t.it("GET /hello/:name greets in JSON", function()
    local res = request("GET", "/hello/ada")
    t.equal(res.status, 200)
    t.equal(json.decode(res.body), { greeting = "Hello, ada!" })
end)

t.it("POST /sum adds the numbers", function()
    local res = request("POST", "/sum", json.encode({ numbers = { 1, 2, 3.5 } }))
    t.equal(res.status, 200)
    t.equal(json.decode(res.body), { sum = 6.5 })
end)

t.it("POST /sum refuses a body that is not JSON", function()
    t.equal(request("POST", "/sum", "{not json").status, 400)
end)

t.it("an unknown path is 404", function()
    t.equal(request("GET", "/nowhere").status, 404)
end)
