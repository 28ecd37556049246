-- A node of a cluster (tests/cluster_test.go): WebSocket clients bind a uid,
-- join rooms (recovering with since/epoch), publish, send to uids, ask for
-- presence; presence events go to this node's members of "events".
local srv = imscript.server{ host = "127.0.0.1", port = tonumber(imscript.env.PORT), type = "websocket",
  worker_num = 2, history_size = 1000, presence_events = true }
srv:on("open", function(s, req)
  local q = req.query
  local rec = nil
  if q.since then rec = { since = tonumber(q.since), epoch = q.epoch } end
  if q.uid then s:bind(req.fd, q.uid) end
  for room in (q.rooms or ""):gmatch("[^,]+") do
    local r = s:join(req.fd, room, rec)
    s:push(req.fd, "joined " .. room .. " " .. r.seq .. " " .. r.epoch .. " " .. tostring(r.recovered))
  end
  s:push(req.fd, "ready")
end)
srv:on("presence", function(s, room, uid, what)
  for _, fd in ipairs(s:members("events")) do s:push(fd, "presence " .. room .. " " .. uid .. " " .. what) end
end)
srv:on("message", function(s, f)
  local cmd, a, b = f.data:match("^(%S+) ?(%S*) ?(.*)$")
  if cmd == "pub" then
    s:publish(a, { text = b })
  elseif cmd == "pubr" then -- publish and say what it returned
    local n, why = s:publish(a, { text = b })
    s:push(f.fd, "published " .. tostring(n) .. (n == false and (" " .. why) or ""))
  elseif cmd == "hist" then -- read the history and say how many, or why not
    local items, why = s:history(a)
    s:push(f.fd, "history " .. (items and tostring(#items) or ("false " .. why)))
  elseif cmd == "who" then
    s:push(f.fd, "who " .. imscript.worker_id)
  elseif cmd == "waiting" then
    s:push(f.fd, "waiting " .. s:stats().broker_waiting)
  elseif cmd == "errors" then
    s:push(f.fd, "errors " .. s:stats().broker_errors)
  elseif cmd == "echo" then
    s:push(f.fd, "echo " .. a)
  elseif cmd == "dm" then
    s:sendToUid(a, { text = b })
  elseif cmd == "presence" then
    s:push(f.fd, "presence " .. table.concat(s:presence(a), ","))
  elseif cmd == "stats" then
    local st = s:stats()
    s:push(f.fd, "stats " .. tostring(st.node) .. " " .. tostring(st.cluster_nodes))
  end
end)
