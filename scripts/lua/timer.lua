-- Timers (Swoole's timer chapter): a tick every TICK_MS (default 1000) ms,
-- a one-off after 3 ticks' time, and the tick cleared after 5 runs.
-- A TCP server on PORT answers "ticks" with the count so far.
--   imscript run scripts/lua/timer.lua
local port = tonumber(imscript.env.PORT or "9503")
local every = tonumber(imscript.env.TICK_MS or "1000")

local srv = imscript.server{ host = "0.0.0.0", port = port, worker_num = 2 }
local ticks = 0

srv:on("workerStart", function(srv, workerId)
    if workerId ~= 0 then return end -- timers belong to a worker: run them once
    local id
    id = imscript.tick(every, function(timerId)
        ticks = ticks + 1
        print("tick-" .. every .. "ms #" .. ticks)
        if ticks == 5 then
            print("clear tick: " .. tostring(imscript.clear(timerId)))
        end
    end)
    imscript.after(every * 3, function()
        print("after " .. (every * 3) .. "ms.")
    end)
end)

srv:on("receive", function(srv, fd, data)
    -- Each worker has its own counter; only worker 0 ticks.
    srv:send(fd, "worker " .. imscript.worker_id .. " ticks " .. ticks .. "\n")
end)
