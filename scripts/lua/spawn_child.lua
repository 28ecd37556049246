-- The spawned half of process.lua: a script in its own VM on its own
-- goroutine (imscript.process.spawn("spawn_child.lua", arg)). It counts the
-- words and bytes of each text its parent sends and sends the counts back.
-- It runs until its parent kills it (a reload or stop) or it calls
-- imscript.process.exit().
local parent = imscript.process.parent
local arg = imscript.process.arg
local count = 0

imscript.log.info("spawn_child started", { for_worker = arg.worker })

parent:on("message", function(msg)
    if msg.stop then
        imscript.process.exit(0)
        return
    end
    count = count + 1
    local words = 0
    for _ in msg.text:gmatch("%S+") do words = words + 1 end
    parent:send({ fd = msg.fd, words = words, bytes = #msg.text, n = count })
end)
