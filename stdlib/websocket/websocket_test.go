package websocket_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/imscript/imscript/internal/testutil"
	"github.com/imscript/imscript/script/scripttest"
)

// gorillaPeer is a gorilla WebSocket server: it greets with the request's
// X-Token header and subprotocol, echoes text as "echo: ..." and binary
// reversed, and closes with 4001 "bye" when told "close-me".
func gorillaPeer(t *testing.T) *httptest.Server {
	up := websocket.Upgrader{Subprotocols: []string{"chat.v1"}}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ws" {
			http.NotFound(w, r)
			return
		}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.WriteMessage(websocket.TextMessage, []byte("hello "+r.Header.Get("X-Token")+" "+c.Subprotocol()))
		for {
			op, data, err := c.ReadMessage()
			if err != nil {
				return
			}
			switch {
			case op == websocket.TextMessage && string(data) == "close-me":
				_ = c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(4001, "bye"))
			case op == websocket.TextMessage:
				_ = c.WriteMessage(websocket.TextMessage, append([]byte("echo: "), data...))
			default:
				for i, j := 0, len(data)-1; i < j; i, j = i+1, j-1 {
					data[i], data[j] = data[j], data[i]
				}
				_ = c.WriteMessage(websocket.BinaryMessage, data)
			}
		}
	}))
}

const luaScript = `
local base = imscript.env.BASE
local function hex(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end
local function run(name, url, after, closeByMe)
  local ws = imscript.websocket.connect{ url = url, headers = { ["X-Token"] = "t0k" }, subprotocols = { "chat.v1" } }
  print(name .. " state " .. ws.state)
  ws:on("open", function(w)
    print(name .. " open " .. tostring(w == ws) .. " " .. w.state .. " " .. w.protocol)
  end)
  local n = 0
  ws:on("message", function(w, f)
    n = n + 1
    local data = f.opcode == "binary" and hex(f.data) or f.data
    print(name .. " message " .. f.opcode .. " " .. data .. " " .. tostring(f.finish))
    if n == 1 then
      w:send("hi")
      w:send("\1\2\3", "binary")
    elseif n == 3 then
      if closeByMe then print(name .. " close() " .. tostring(w:close(1000, "done"))) else w:send("close-me") end
    end
  end)
  ws:on("error", function(w, err) print(name .. " error " .. err:gsub(base, "BASE")) end)
  ws:on("close", function(w, code, reason)
    print(name .. " close " .. code .. " [" .. reason .. "] " .. w.state)
    if after then after() end
  end)
end
run("peer", base .. "/ws", function()
  run("me", base .. "/ws", function()
    run("missing", base .. "/nope", function() print("done") end)
  end, true)
end)
`

const jsScript = `
const base = imscript.env.BASE;
const hex = (b) => Array.from(b).map((x) => x.toString(16).padStart(2, "0")).join("");
function run(name, url, after, closeByMe) {
  const ws = imscript.websocket.connect({ url, headers: { "X-Token": "t0k" }, subprotocols: ["chat.v1"] });
  console.log(name + " state " + ws.state);
  ws.on("open", (w) => console.log(name + " open " + (w === ws) + " " + w.state + " " + w.protocol));
  let n = 0;
  ws.on("message", (w, f) => {
    n++;
    const data = f.opcode === "binary" ? hex(f.data) : f.data;
    console.log(name + " message " + f.opcode + " " + data + " " + f.finish);
    if (n === 1) {
      w.send("hi");
      w.send(Buffer.from([1, 2, 3]));
    } else if (n === 3) {
      if (closeByMe) console.log(name + " close() " + w.close(1000, "done")); else w.send("close-me");
    }
  });
  ws.on("error", (w, err) => console.log(name + " error " + err.split(base).join("BASE")));
  ws.on("close", (w, code, reason) => {
    console.log(name + " close " + code + " [" + reason + "] " + w.state);
    if (after) after();
  });
}
run("peer", base + "/ws", () => run("me", base + "/ws", () => run("missing", base + "/nope", () => console.log("done")), true));
`

// Against a gorilla server: headers and subprotocols go out, text and
// binary frames both ways, a close from the peer, a close from the script,
// a refused handshake.
func TestConnectGorilla(t *testing.T) {
	srv := gorillaPeer(t)
	defer srv.Close()
	base := "ws" + strings.TrimPrefix(srv.URL, "http")
	// The close event carries the peer's close frame: gorilla answers a
	// close with the code only.
	want := `peer state connecting
peer open true open chat.v1
peer message text hello t0k chat.v1 true
peer message text echo: hi true
peer message binary 030201 true
peer close 4001 [bye] closed
me state connecting
me open true open chat.v1
me message text hello t0k chat.v1 true
me message text echo: hi true
me message binary 030201 true
me close() true
me close 1000 [] closed
missing state connecting
missing error connect BASE/nope: handshake refused: HTTP 404 Not Found
missing close 1006 [] closed
done
`
	for _, lang := range scripttest.Langs {
		t.Run(lang, func(t *testing.T) {
			src := luaScript
			if lang == "js" {
				src = jsScript
			}
			h := scripttest.Start(t, scripttest.Options{Lang: lang, Src: src, Env: map[string]string{"BASE": base}})
			h.Expect("done", want)
		})
	}
}

// Against the project's own WebSocket server, declared by the same script.
func TestConnectOwnServer(t *testing.T) {
	srcs := map[string]string{
		"lua": `
local function hex(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end
local srv = imscript.server{ type = "websocket", host = "127.0.0.1", port = 0 }
srv:on("open", function(srv, req) srv:push(req.fd, "welcome " .. (req.header["x-token"] or "?")) end)
srv:on("message", function(srv, f)
  if f.data == "bye" then srv:disconnect(f.fd, 4000, "later") else srv:push(f.fd, "server: " .. f.data, f.opcode) end
end)
srv:on("start", function(srv)
  local ws = imscript.websocket.connect{ url = "ws://127.0.0.1:" .. srv.port .. "/", headers = { ["X-Token"] = "abc" } }
  ws:on("open", function(w) w:send("one"); w:send("\0\255", "binary") end)
  ws:on("message", function(w, f)
    print(f.opcode .. " " .. (f.opcode == "binary" and hex(f.data) or f.data))
    if f.opcode == "binary" then w:send("bye") end
  end)
  ws:on("close", function(w, code, reason) print("close " .. code .. " " .. reason) end)
end)
`,
		"js": `
const hex = (b) => Array.from(b).map((x) => x.toString(16).padStart(2, "0")).join("");
const srv = imscript.server({ type: "websocket", host: "127.0.0.1", port: 0 });
srv.on("open", (srv, req) => srv.push(req.fd, "welcome " + (req.header["x-token"] || "?")));
srv.on("message", (srv, f) => {
  if (f.data === "bye") srv.disconnect(f.fd, 4000, "later");
  else srv.push(f.fd, Buffer.concat([Buffer.from("server: "), Buffer.from(f.data)]), f.opcode);
});
srv.on("start", (srv) => {
  const ws = imscript.websocket.connect({ url: "ws://127.0.0.1:" + srv.port + "/", headers: { "X-Token": "abc" } });
  ws.on("open", (w) => { w.send("one"); w.send(Buffer.from([0, 255])); });
  ws.on("message", (w, f) => {
    console.log(f.opcode + " " + (f.opcode === "binary" ? hex(f.data) : f.data));
    if (f.opcode === "binary") w.send("bye");
  });
  ws.on("close", (w, code, reason) => console.log("close " + code + " " + reason));
});
`,
	}
	want := "text welcome abc\ntext server: one\nbinary 7365727665723a2000ff\nclose 4000 later\n"
	for _, lang := range scripttest.Langs {
		t.Run(lang, func(t *testing.T) {
			h := scripttest.Start(t, scripttest.Options{Lang: lang, Src: srcs[lang]})
			h.Expect("close 4000 later", want)
		})
	}
}

// Misuse is an error at the call.
func TestUsage(t *testing.T) {
	srcs := map[string]string{"lua": `
local function try(name, f)
  local ok, err = pcall(f)
  print(name .. ": " .. tostring(err):gsub("^.-:%d+: ", ""))
end
try("url", function() imscript.websocket.connect{ url = "http://x/" } end)
try("event", function() imscript.websocket.connect{ url = "ws://127.0.0.1:1/" }:on("data", function() end) end)
try("code", function() imscript.websocket.connect{ url = "ws://127.0.0.1:1/" }:close(1006) end)
local ws = imscript.websocket.connect{ url = "ws://127.0.0.1:1/" }
print("send: " .. tostring(select(2, ws:send("x"))))
print("done")
`, "js": `
function tryIt(name, f) {
  try { f(); console.log(name + ": no error?!"); } catch (e) { console.log(name + ": " + e.message); }
}
tryIt("url", () => imscript.websocket.connect({ url: "http://x/" }));
tryIt("event", () => imscript.websocket.connect({ url: "ws://127.0.0.1:1/" }).on("data", () => {}));
tryIt("code", () => imscript.websocket.connect({ url: "ws://127.0.0.1:1/" }).close(1006));
const ws = imscript.websocket.connect({ url: "ws://127.0.0.1:1/" });
console.log("send: " + (ws.send("x") === false ? "not open" : "?"));
console.log("done");
`}
	for _, lang := range scripttest.Langs {
		t.Run(lang, func(t *testing.T) {
			h := scripttest.Start(t, scripttest.Options{Lang: lang, Src: srcs[lang]})
			out := h.WaitStdout("done")
			testutil.WantAll(t, "out", out,
				`url: websocket.connect: option url: "http://x/" is not a ws:// or wss:// URL`,
				`event: websocket.on: unknown event "data" (open, message, close, error)`,
				`code: websocket.close: 1006 is not a close code a client may send (1000, 3000-4999)`,
				`send: not open`,
			)
		})
	}
}
