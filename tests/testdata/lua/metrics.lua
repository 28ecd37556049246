-- A TCP line echo that counts with imscript.metrics (tests/metrics_test.go):
-- "boom" raises, "pub ROOM" joins ROOM and publishes the line to it.
local srv = imscript.server{ host = "127.0.0.1", port = tonumber(imscript.env.PORT),
  open_eof_split = true, package_eof = "\n" }
local lines = imscript.metrics.counter("test_lines_total", "Lines echoed.", {"kind"})
local open = imscript.metrics.gauge("test_open", "Connections the script saw open.")
local sizes = imscript.metrics.histogram("test_line_bytes", "Sizes of the lines echoed.", nil, {4, 16, 64})
srv:on("connect", function(s, fd) open:inc() end)
srv:on("close", function(s, fd) open:dec() end)
srv:on("receive", function(s, fd, data)
  if data == "boom\n" then error("boom asked") end
  local room = data:match("^pub (%S+)")
  if room then
    s:join(fd, room)
    s:publish(room, data)
    return
  end
  lines:inc(1, {"echo"})
  sizes:observe(#data)
  s:send(fd, data)
end)
