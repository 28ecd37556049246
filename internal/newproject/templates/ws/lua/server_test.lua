-- The tests of server.lua: `imscript test` starts the server on a free
-- port (imscript.env.PORT), then runs each test.it in order. A failed
-- t.equal, t.ok or any error fails the test.
local t = imscript.test
local port = imscript.env.PORT or "9502"

-- connect opens a WebSocket to the server; its events go into an inbox,
-- which the test takes them from in order (inbox:take() waits up to 5 s).
local function connect()
    local inbox = t.inbox()
    local ws = imscript.websocket.connect{ url = "ws://127.0.0.1:" .. port .. "/" }
    ws:on("open", function() inbox:push("open") end)
    ws:on("message", function(ws, frame) inbox:push({ data = frame.data, opcode = frame.opcode }) end)
    ws:on("error", function(ws, err) inbox:push("error: " .. err) end)
    t.equal(inbox:take(), "open")
    return ws, inbox
end

t.it("echoes a text message", function()
    local ws, inbox = connect()
    ws:send("hello")
    t.equal(inbox:take(), { data = "hello", opcode = "text" })
    ws:close()
end)

t.it("echoes a binary message as binary", function()
    local ws, inbox = connect()
    ws:send("\0\1\2\255", "binary")
    t.equal(inbox:take(), { data = "\0\1\2\255", opcode = "binary" })
    ws:close()
end)

t.it("answers a plain HTTP request with help", function()
    local res = assert(imscript.http.request{ url = "http://127.0.0.1:" .. port .. "/" })
    t.equal(res.status, 200)
    t.contains(res.body, "WebSocket echo server")
end)
