-- Bench recovery storm (tests/bench, section storm): ws_room's room with
-- history (HISTORY=100, on disk with --data DIR), where a connection opened
-- with ?ack=1 is answered "joined SEQ EPOCH RECOVERED" and one with
-- &since=SEQ&epoch=E first recovers what it missed.
--   PORT=9501 HISTORY=100 imscript run --workers 2 --no-watch tests/bench/ws_storm.lua
local srv = imscript.server{
    host = "127.0.0.1",
    port = tonumber(imscript.env.PORT or "9501"),
    type = "websocket",
    worker_num = 2,
    history_size = tonumber(imscript.env.HISTORY or "0"),
}

-- With ?ack=1 the join is answered "joined SEQ EPOCH RECOVERED", and with
-- &since=SEQ&epoch=E it first recovers what the connection missed (the
-- recovery storm).
srv:on("open", function(srv, req)
    local q = req.query
    if not q.ack then
        srv:join(req.fd, "room")
        return
    end
    local rec = nil
    if q.since then rec = { since = tonumber(q.since), epoch = q.epoch } end
    local r = srv:join(req.fd, "room", rec)
    srv:push(req.fd, "joined " .. r.seq .. " " .. r.epoch .. " " .. tostring(r.recovered))
end)

srv:on("message", function(srv, frame)
    srv:publish("room", frame.data)
end)
