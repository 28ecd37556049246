-- History on disk (tests/history_test.go): a WebSocket server whose room
-- keeps its messages; ?since=&epoch= recovers on join.
local srv = imscript.server{ host = "127.0.0.1", port = tonumber(imscript.env.PORT), type = "websocket",
  worker_num = 2, history_size = 1000 }
srv:on("open", function(s, req)
  local q = req.query
  local rec = nil
  if q.since then rec = { since = tonumber(q.since), epoch = q.epoch } end
  local r = s:join(req.fd, "room", rec)
  s:push(req.fd, "joined " .. r.seq .. " " .. r.epoch .. " " .. tostring(r.recovered) .. " " .. tostring(imscript.data_dir))
end)
srv:on("message", function(s, f)
  s:publish("room", { text = f.data })
end)
