-- Shared tables and atomics (Swoole's Table and Atomic): a TCP server whose
-- workers and task workers keep per-client stats and named counters in
-- imscript.table rows and an imscript.atomic, shared by all of them and
-- kept across reloads.
--   imscript run scripts/lua/table.lua      then: telnet 127.0.0.1 9510
-- One command per line:
--   name <who>          name this connection             -> "hello <who>"
--   hit <counter> [n]   add 1 to a shared counter, n times -> "<counter> <value>"
--   thit <counter> [n]  the same, done by a task worker     -> "<counter> <value>"
--   get <counter>       read a counter                   -> "<counter> <value>"
--   who                 the connected clients            -> "fd=<fd> name=<who> msgs=<n> ..."
--   stats               totals                           -> "clients=<n> messages=<n> counters=<n> reloads=<n>"
local port = tonumber(imscript.env.PORT or "9510")

local srv = imscript.server{
    host = "0.0.0.0",
    port = port,
    worker_num = 2,
    task_worker_num = 2,
    open_eof_split = true, -- one receive event per line
    package_eof = "\n",
}

-- Declaring a table (or an atomic) that exists returns it: every worker,
-- and the next version after a reload, gets the same one.
local clients = imscript.table("clients", {
    size = 1024,
    columns = { name = { "string", 32 }, msgs = "int", bytes = "int" },
})
local counters = imscript.table("counters", { size = 256, max_size = 4096, columns = { value = "int" } })
local messages = imscript.atomic("messages")

srv:on("start", function(srv)
    print("table server listening on port " .. srv.port)
end)

srv:on("connect", function(srv, fd)
    clients:set(fd, { name = "fd" .. fd })
end)

srv:on("close", function(srv, fd)
    clients:del(fd)
end)

local commands = {}

function commands.name(fd, who)
    if who == nil or #who > 32 then return "usage: name <who> (at most 32 bytes)" end
    clients:set(fd, { name = who })
    return "hello " .. who
end

-- hit adds 1 to counter n times and returns the reply line.
local function hit(counter, n)
    local value
    for _ = 1, n do
        value = counters:incr(counter, "value")
        if not value then return "error: the counters table is full" end
    end
    return counter .. " " .. value
end

local function hitArgs(counter, n)
    n = tonumber(n or "1")
    if counter == nil or n == nil or n < 1 or n > 1000000 then return nil end
    return counter, n
end

function commands.hit(fd, counter, n)
    counter, n = hitArgs(counter, n)
    if not counter then return "usage: hit <counter> [n]" end
    return hit(counter, n)
end

function commands.thit(fd, counter, n)
    counter, n = hitArgs(counter, n)
    if not counter then return "usage: thit <counter> [n]" end
    local id, why = srv:task({ counter = counter, n = n }, function(srv, taskId, reply)
        srv:send(fd, reply .. "\n")
    end)
    if not id then return "error: " .. why end
    return nil -- the task's callback answers
end

-- A task worker runs the increments of a thit; its return value reaches
-- the callback above, on the worker that asked.
srv:on("task", function(srv, taskId, fromWorker, job)
    return hit(job.counter, job.n)
end)

function commands.get(fd, counter)
    if counter == nil then return "usage: get <counter>" end
    return counter .. " " .. (counters:get(counter, "value") or 0)
end

function commands.who(fd)
    local rows = {}
    for key, row in clients:pairs() do
        rows[#rows + 1] = { fd = tonumber(key), row = row }
    end
    table.sort(rows, function(a, b) return a.fd < b.fd end)
    local parts = {}
    for i, r in ipairs(rows) do
        parts[i] = string.format("fd=%d name=%s msgs=%d", r.fd, r.row.name, r.row.msgs)
    end
    return table.concat(parts, " ")
end

function commands.stats(fd)
    return string.format("clients=%d messages=%d counters=%d reloads=%d",
        clients:count(), messages:get(), counters:count(), srv:stats().reload_count)
end

srv:on("receive", function(srv, fd, line)
    line = line:gsub("\r?\n$", "")
    messages:add(1)
    clients:incr(fd, "msgs")
    clients:incr(fd, "bytes", #line)
    local words = {}
    for w in line:gmatch("%S+") do words[#words + 1] = w end
    local cmd = commands[words[1] or ""]
    if cmd == nil then
        srv:send(fd, "unknown command; try name, hit, thit, get, who, stats\n")
        return
    end
    local reply = cmd(fd, words[2], words[3])
    if reply then srv:send(fd, reply .. "\n") end
end)
