-- A TCP line echo that counts with imscript.metrics (tests/metrics_test.go).
-- Commands: "boom" raises; "spin" runs until the watchdog interrupts it;
-- "pub ROOM" joins ROOM and publishes the line to it; "task X" runs a task
-- that answers "done X"; "fetch URL" waits for an HTTP answer (the handler
-- suspends) and sends "fetched STATUS". Anything else is echoed.
local srv = imscript.server{ host = "127.0.0.1", port = tonumber(imscript.env.PORT),
  open_eof_split = true, package_eof = "\n", task_worker_num = 1, max_exec_ms = 500 }
local lines = imscript.metrics.counter("test_lines_total", "Lines echoed.", {"kind"})
local open = imscript.metrics.gauge("test_open", "Connections the script saw open.")
local sizes = imscript.metrics.histogram("test_line_bytes", "Sizes of the lines echoed.", nil, {4, 16, 64})
srv:on("connect", function(s, fd) open:inc() end)
srv:on("close", function(s, fd) open:dec() end)
srv:on("task", function(s, id, from, job) return job end)
srv:on("finish", function(s, id, job) s:send(job.fd, "done " .. job.x .. "\n") end)
srv:on("receive", function(s, fd, data)
  if data == "boom\n" then error("boom asked") end
  if data == "spin\n" then while true do end end
  local cmd, arg = data:match("^(%S+) (%S+)")
  if cmd == "pub" then
    s:join(fd, arg)
    s:publish(arg, data)
    return
  elseif cmd == "task" then
    s:task({ fd = fd, x = arg })
    return
  elseif cmd == "fetch" then
    local res, err = imscript.http.request{ url = arg, timeout = 30 }
    s:send(fd, "fetched " .. (res and res.status or err) .. "\n")
    return
  end
  lines:inc(1, {"echo"})
  sizes:observe(#data)
  s:send(fd, data)
end)
