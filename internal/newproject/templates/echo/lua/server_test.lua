-- The tests of server.lua: `imscript test` starts the server on a free
-- port (imscript.env.PORT), then runs each test.it in order. A failed
-- t.equal, t.ok or any error fails the test.
local t = imscript.test
local port = tonumber(imscript.env.PORT or "9501")

-- connect opens a client to the server; its events go into an inbox, which
-- the test takes them from in order (inbox:take() waits up to 5 s).
local function connect()
    local inbox = t.inbox()
    local cli = imscript.client{
        type = "tcp", host = "127.0.0.1", port = port,
        open_eof_split = true, package_eof = "\n",
    }
    cli:on("connect", function() inbox:push("connected") end)
    cli:on("receive", function(cli, data) inbox:push(data) end)
    cli:on("error", function(cli, err) inbox:push("error: " .. err) end)
    cli:connect()
    t.equal(inbox:take(), "connected")
    return cli, inbox
end

t.it("echoes a line back", function()
    local cli, inbox = connect()
    cli:send("hello\n")
    t.equal(inbox:take(), "hello\n")
    cli:close()
end)

t.it("echoes lines in the order they were sent", function()
    local cli, inbox = connect()
    cli:send("one\ntwo\n")
    t.equal(inbox:take(), "one\n")
    t.equal(inbox:take(), "two\n")
    cli:close()
end)
