-- Mailer (the seed's MailServer): a TCP server that takes one JSON line per
-- mail, {"address": ..., "subject": ..., "body": ...}, queues it as a task
-- and answers at once with {"status": "queued", "id": <task id>}. A task
-- worker sends the mail over SMTP (a text and an HTML part, with the
-- request attached as request.json) and, when the server has answered,
-- tells the client {"status": "sent", "id": ...} or
-- {"status": "failed", "id": ..., "error": ...}. Bad input gets
-- {"status": "error", "error": ...}.
--   imscript run scripts/lua/mailer.lua        then: scripts/lua/mail_client.lua
-- SMTP settings come from the environment: SMTP_HOST (127.0.0.1),
-- SMTP_PORT (587), SMTP_TLS (starttls | tls | none), SMTP_USER, SMTP_PASS,
-- SMTP_CA (a CA certificate file to trust), MAIL_FROM.
local json = imscript.json
local env = imscript.env
local port = tonumber(env.PORT or "9507")

local srv = imscript.server{
    host = "0.0.0.0",
    port = port,
    worker_num = 2,
    task_worker_num = 2,
    open_eof_split = true, -- one receive event per line
    package_eof = "\n",
    package_max_length = 64 * 1024,
}

local smtp = {
    host = env.SMTP_HOST or "127.0.0.1",
    port = tonumber(env.SMTP_PORT or "587"),
    tls = env.SMTP_TLS or "starttls",
    username = env.SMTP_USER,
    password = env.SMTP_PASS,
    ca_file = env.SMTP_CA,
    from = env.MAIL_FROM or "imscript mailer <mailer@localhost>",
}

local function reply(fd, t)
    srv:send(fd, json.encode(t) .. "\n")
end

local function escapeHTML(s)
    return (s:gsub("[&<>\"]", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;" }))
end

srv:on("start", function(srv)
    print("mailer listening on port " .. srv.port .. ", sending through " .. smtp.host .. ":" .. smtp.port)
end)

srv:on("receive", function(srv, fd, line)
    local req = json.decode(line)
    if type(req) ~= "table" or type(req.address) ~= "string" or req.address == "" then
        return reply(fd, { status = "error", error = "want a JSON line {address, subject, body}" })
    end
    local job = {
        fd = fd,
        address = req.address,
        subject = tostring(req.subject or ""),
        body = tostring(req.body or ""),
    }
    local id, why = srv:task(job)
    if id == false then
        return reply(fd, { status = "error", error = "not queued: " .. tostring(why) })
    end
    reply(fd, { status = "queued", id = id })
end)

-- On a task worker: hand the mail to SMTP; the answer goes straight to the
-- client's connection when the server has replied.
srv:on("task", function(srv, id, fromWorker, job)
    imscript.mail.send({
        host = smtp.host,
        port = smtp.port,
        tls = smtp.tls,
        username = smtp.username,
        password = smtp.password,
        ca_file = smtp.ca_file,
        from = smtp.from,
        to = job.address,
        subject = job.subject,
        text = job.body,
        html = "<p>" .. escapeHTML(job.body):gsub("\n", "<br>") .. "</p>",
        attachments = {
            { name = "request.json", type = "application/json",
              content = json.encode({ address = job.address, subject = job.subject, body = job.body }) },
        },
    }, function(ok, err)
        if ok then
            imscript.log.info("mail sent", { id = id, to = job.address })
            reply(job.fd, { status = "sent", id = id })
        else
            imscript.log.warn("mail failed", { id = id, to = job.address, err = err })
            reply(job.fd, { status = "failed", id = id, error = err })
        end
    end)
    return "handed to SMTP"
end)
