-- Processes: a TCP line server that hands every line to another process
-- and answers with what that process said.
--   imscript run scripts/lua/process.lua      then: telnet 127.0.0.1 9508
--
--   hello                 -> hello            (echoed by the Python child, python3 echo.py)
--   vm hello world        -> vm: 2 words, 11 bytes (message #1)
--                                             (answered by spawn_child.lua, a script in its own VM)
--
-- Each worker starts its own Python child (imscript.process.exec) and its own
-- spawned script (imscript.process.spawn) when it loads this file. They
-- belong to this version of the script: a reload or stopping the host kills
-- them, and the new version starts new ones.
local port = tonumber(imscript.env.PORT or "9508")

local srv = imscript.server{
    host = "0.0.0.0",
    port = port,
    type = "tcp",
    worker_num = 2,
    -- one line per receive event
    open_eof_check = true,
    open_eof_split = true,
    package_eof = "\n",
}

-- The Python echo child. It answers lines in the order it got them, so the
-- fds waiting for an answer form a queue.
local echo
local waiting = {}
local pending = "" -- its output not yet cut into lines

local function startEcho()
    echo = imscript.process.exec{
        cmd = "python3",
        args = { "echo.py" },
        cwd = "../python", -- relative to this script's folder
        env = { PYTHONUNBUFFERED = "1" },
    }
    echo:on("stdout", function(data)
        pending = pending .. data
        while true do
            local nl = pending:find("\n", 1, true)
            if not nl then break end
            local line = pending:sub(1, nl)
            pending = pending:sub(nl + 1)
            local fd = table.remove(waiting, 1)
            if fd then srv:send(fd, line) end
        end
    end)
    echo:on("stderr", function(data)
        imscript.log.warn("echo.py wrote to stderr", { text = data })
    end)
    echo:on("exit", function(code, signal)
        imscript.log.warn("echo.py exited; starting a new one", { code = code, signal = signal })
        for _, fd in ipairs(waiting) do srv:send(fd, "ERR the echo child exited\n") end
        waiting, pending = {}, ""
        imscript.after(1000, startEcho)
    end)
end
startEcho()

-- The spawned script: spawn_child.lua beside this file, in its own VM on its
-- own goroutine. Messages are deep copies of plain values.
local child = imscript.process.spawn("spawn_child.lua", { worker = imscript.worker_id })
child:on("message", function(msg)
    srv:send(msg.fd, string.format("vm: %d words, %d bytes (message #%d)\n", msg.words, msg.bytes, msg.n))
end)
child:on("exit", function(code)
    imscript.log.warn("spawn_child.lua exited", { code = code })
end)

srv:on("start", function(srv)
    print("process server listening on port " .. srv.port)
end)

srv:on("receive", function(srv, fd, data)
    local line = data:gsub("\r?\n$", "")
    local text = line:match("^vm (.*)$")
    if text then
        child:send({ fd = fd, text = text })
        return
    end
    if echo:write(data) then
        waiting[#waiting + 1] = fd
    else
        srv:send(fd, "ERR the echo child is not running\n")
    end
end)
