-- Mail client (the seed's MailClient): connects to the mailer server over
-- TCP, sends one JSON line {address, subject, body} and prints the
-- server's replies (queued, then sent or failed); then it stops.
--   imscript run scripts/lua/mail_client.lua -- alice@example.com "Hello" "How are you?"
-- MAILER_HOST / MAILER_PORT say where the mailer runs (127.0.0.1:9507).

-- A script loads on every worker; one client is enough.
if imscript.worker_id ~= 0 then return end

local json = imscript.json
local args = imscript.args
local env = imscript.env

local request = {
    address = args[1] or env.MAIL_TO or "someone@example.com",
    subject = args[2] or env.MAIL_SUBJECT or "Hello from imscript",
    body = args[3] or env.MAIL_BODY or "This mail was queued by the imscript mailer.",
}

local cli = imscript.client{
    type = "tcp",
    host = env.MAILER_HOST or "127.0.0.1",
    port = tonumber(env.MAILER_PORT or "9507"),
    timeout = 5,
    open_eof_split = true, -- one receive event per reply line
    package_eof = "\n",
}

cli:on("connect", function(cli)
    print("connected, sending mail to " .. request.address)
    cli:send(json.encode(request) .. "\n")
end)

-- The mailer answers "queued" at once and "sent" / "failed" when the SMTP
-- server has answered (from a task worker, so on a busy machine the two
-- may cross); "error" is a final answer on its own.
local queued, final = false, false
cli:on("receive", function(cli, line)
    line = line:sub(1, -2)
    print("server: " .. line)
    local reply = json.decode(line) or { status = "error" }
    if reply.status == "queued" then queued = true else final = true end
    if final and (queued or reply.status == "error") then
        cli:close()
    end
end)

cli:on("error", function(cli, err)
    print("error: " .. err)
    imscript.shutdown()
end)

cli:on("close", function(cli)
    print("connection closed")
    imscript.shutdown()
end)

cli:connect()
