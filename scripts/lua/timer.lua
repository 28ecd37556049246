-- Timers (Swoole's timer chapter): a tick every TICK_MS (default 1000) ms,
-- a one-off after 3 ticks' time, and the tick cleared after 5 runs.
-- A TCP server on PORT answers any line with the tick count so far.
--   imscript run scripts/lua/timer.lua
-- Each worker runs its own copy of this script, as in Swoole: a plain local
-- variable is per worker. The count lives in imscript.atomic, which every
-- worker shares, so each connection sees the same number.
local port = tonumber(imscript.env.PORT or "9503")
local every = tonumber(imscript.env.TICK_MS or "1000")

local srv = imscript.server{ host = "0.0.0.0", port = port, worker_num = 2 }
local ticks = imscript.atomic("timer.ticks")

srv:on("workerStart", function(srv, workerId)
    if workerId ~= 0 then return end -- timers belong to a worker: run them once
    imscript.tick(every, function(timerId)
        local n = ticks:add(1)
        print("tick-" .. every .. "ms #" .. n)
        if n == 5 then
            print("clear tick: " .. tostring(imscript.clear(timerId)))
        end
    end)
    imscript.after(every * 3, function()
        print("after " .. (every * 3) .. "ms.")
    end)
end)

srv:on("receive", function(srv, fd, data)
    srv:send(fd, "ticks " .. ticks:get() .. " (worker " .. imscript.worker_id .. ")\n")
end)
