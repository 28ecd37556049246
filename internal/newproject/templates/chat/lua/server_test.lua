-- The tests of server.lua: `imscript test` starts the server on a free
-- port (imscript.env.PORT), then runs each test.it in order. A failed
-- t.equal, t.ok or any error fails the test.
local t = imscript.test
local json = imscript.json
local port = imscript.env.PORT or "8080"

-- join opens a WebSocket to the chat and waits until the server says it
-- is in the room; the messages it gets, decoded, go into an inbox, which
-- the test takes them from in order.
local function join()
    local inbox = t.inbox()
    local ws = imscript.websocket.connect{ url = "ws://127.0.0.1:" .. port .. "/" }
    ws:on("open", function() inbox:push("open") end)
    ws:on("message", function(ws, frame) inbox:push(json.decode(frame.data)) end)
    ws:on("error", function(ws, err) inbox:push("error: " .. err) end)
    t.equal(inbox:take(), "open")
    t.equal(inbox:take(), { joined = "lobby" })
    return ws, inbox
end

t.it("a message reaches everyone in the room", function()
    local ada, adaInbox = join()
    local bob, bobInbox = join()
    ada:send(json.encode({ nick = "ada", text = "hello bob" }))
    t.equal(bobInbox:take(), { nick = "ada", text = "hello bob" })
    t.equal(adaInbox:take(), { nick = "ada", text = "hello bob" })
    ada:close()
    bob:close()
end)

t.it("a message that is not JSON gets an error back", function()
    local ws, inbox = join()
    ws:send("hello?")
    local reply = inbox:take()
    t.ok(type(reply) == "table" and reply.error, "an error reply")
    ws:close()
end)

t.it("GET / serves the page", function()
    local res = assert(imscript.http.request{ url = "http://127.0.0.1:" .. port .. "/" })
    t.equal(res.status, 200)
    t.contains(res.body, "<title>chat</title>")
end)
