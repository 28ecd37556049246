-- WebSocket server (Swoole's WebSocket server example): every message comes
-- back to its sender as "server: " .. data (binary frames stay binary).
-- Plain HTTP GETs on the same port get a tiny page that talks to it.
--   imscript run scripts/lua/ws_echo.lua      then open http://127.0.0.1:9506/
local port = tonumber(imscript.env.PORT or "9506")

local srv = imscript.server{
    host = "0.0.0.0",
    port = port,
    type = "websocket",
    worker_num = 2,
}

local PAGE = [[<!doctype html>
<meta charset="utf-8"><title>imscript WebSocket echo</title>
<h1>imscript WebSocket echo</h1>
<p><input id="t" value="hello" autofocus> <button id="b">send</button></p>
<pre id="log"></pre>
<script>
const ws = new WebSocket("ws://" + location.host + "/");
const log = (s) => (document.getElementById("log").textContent += s + "\n");
ws.onopen = () => log("open");
ws.onmessage = (e) => log("< " + e.data);
ws.onclose = () => log("closed");
document.getElementById("b").onclick = () => {
  const v = document.getElementById("t").value;
  log("> " + v);
  ws.send(v);
};
</script>
]]

srv:on("start", function(srv)
    print("websocket echo on ws://127.0.0.1:" .. srv.port .. "/")
end)

srv:on("open", function(srv, req)
    print("server: handshake success with fd" .. req.fd)
end)

srv:on("message", function(srv, frame)
    local shown = frame.opcode == "text" and frame.data or ("(" .. #frame.data .. " bytes)")
    print("receive from " .. frame.fd .. ":" .. shown .. ",opcode:" .. frame.opcode
        .. ",fin:" .. tostring(frame.finish))
    srv:push(frame.fd, "server: " .. frame.data, frame.opcode)
end)

srv:on("close", function(srv, fd)
    print("client " .. fd .. " closed")
end)

srv:on("request", function(req, res)
    res:header("Content-Type", "text/html; charset=utf-8")
    res:send(PAGE)
end)
