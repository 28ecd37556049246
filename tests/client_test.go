package tests

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/imscript/imscript/internal/testutil"
)

// Outbound clients end to end: scripts run by the imscript binary connect
// with imscript.client / imscript.http.request / imscript.websocket.connect
// to the project's own example servers (other imscript processes), to
// Node.js peers and to Go peers.

// writeScript writes a script into a fresh folder and returns its path.
func writeScript(t *testing.T, name, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// pick returns the Lua or the JS source.
func pick(lang, lua, js string) string {
	if lang == "js" {
		return js
	}
	return lua
}

// wantLines fails unless every line is in text.
func wantLines(t *testing.T, text string, lines ...string) {
	t.Helper()
	have := map[string]bool{}
	for _, l := range strings.Split(text, "\n") {
		have[l] = true
	}
	for _, l := range lines {
		if !have[l] {
			t.Errorf("missing line %q in:\n%s", l, text)
		}
	}
}

const ownServersClientLua = `
if imscript.worker_id ~= 0 then return end
local env = imscript.env
local pending = 4
local function finish(line)
  print(line)
  pending = pending - 1
  if pending == 0 then print("done") end
end
local function u32be(n)
  return string.char(math.floor(n / 16777216) % 256, math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
end

local tcp = imscript.client{ port = tonumber(env.ECHO) }
tcp:on("connect", function(c) c:send("hello") end)
tcp:on("receive", function(c, data) print("tcp " .. data); c:close() end)
tcp:on("close", function() finish("tcp closed") end)
tcp:connect()

local framed = imscript.client{ port = tonumber(env.FRAMED), open_length_check = true, package_length_type = "N", package_body_offset = 4 }
local n = 0
framed:on("connect", function(c) c:send(u32be(3) .. "abc" .. u32be(2) .. "de") end)
framed:on("receive", function(c, pkg)
  n = n + 1
  print("framed " .. n .. " " .. pkg:sub(5) .. " " .. #pkg)
  if n == 2 then c:close() end
end)
framed:on("close", function() finish("framed closed") end)
framed:connect()

local udp = imscript.client{ type = "udp", port = tonumber(env.UDP) }
udp:on("connect", function(c) c:send("ping") end)
udp:on("receive", function(c, data) print("udp " .. data); c:close() end)
udp:on("close", function() finish("udp closed") end)
udp:connect()

local ws = imscript.websocket.connect{ url = "ws://127.0.0.1:" .. env.WS .. "/" }
ws:on("open", function(w) w:send("hi") end)
ws:on("message", function(w, f) print("ws " .. f.opcode .. " " .. f.data); w:close() end)
ws:on("close", function(w, code) finish("ws closed " .. code) end)
`

const ownServersClientJS = `
if (imscript.worker_id === 0) main();
function main() {
  const env = imscript.env;
  let pending = 4;
  const finish = (line) => { console.log(line); if (--pending === 0) console.log("done"); };
  const u32be = (n) => Buffer.from([(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);

  const tcp = imscript.client({ port: Number(env.ECHO) });
  tcp.on("connect", (c) => c.send("hello"));
  tcp.on("receive", (c, data) => { console.log("tcp " + data); c.close(); });
  tcp.on("close", () => finish("tcp closed"));
  tcp.connect();

  const framed = imscript.client({ port: Number(env.FRAMED), open_length_check: true, package_length_type: "N", package_body_offset: 4 });
  let n = 0;
  framed.on("connect", (c) => c.send(Buffer.concat([u32be(3), Buffer.from("abc"), u32be(2), Buffer.from("de")])));
  framed.on("receive", (c, pkg) => {
    n++;
    console.log("framed " + n + " " + pkg.slice(4).toString() + " " + pkg.length);
    if (n === 2) c.close();
  });
  framed.on("close", () => finish("framed closed"));
  framed.connect();

  const udp = imscript.client({ type: "udp", port: Number(env.UDP) });
  udp.on("connect", (c) => c.send("ping"));
  udp.on("receive", (c, data) => { console.log("udp " + data); c.close(); });
  udp.on("close", () => finish("udp closed"));
  udp.connect();

  const ws = imscript.websocket.connect({ url: "ws://127.0.0.1:" + env.WS + "/" });
  ws.on("open", (w) => w.send("hi"));
  ws.on("message", (w, f) => { console.log("ws " + f.opcode + " " + f.data); w.close(); });
  ws.on("close", (w, code) => finish("ws closed " + code));
}
`

// Clients against the project's own servers: the echo, framed_echo,
// udp_echo and ws_echo examples, each in its own imscript process.
func TestClientsAgainstOwnServers(t *testing.T) {
	eachLang(t, func(t *testing.T, lang string) {
		echo := start(t, example(lang, "echo"), runOpts{})
		framed := start(t, example(lang, "framed_echo"), runOpts{})
		udp := start(t, example(lang, "udp_echo"), runOpts{})
		ws := start(t, example(lang, "ws_echo"), runOpts{})
		script := writeScript(t, "client."+lang, pick(lang, ownServersClientLua, ownServersClientJS))
		cli := start(t, script, runOpts{env: map[string]string{
			"ECHO": strconv.Itoa(echo.port), "FRAMED": strconv.Itoa(framed.port),
			"UDP": strconv.Itoa(udp.port), "WS": strconv.Itoa(ws.port),
		}})
		cli.waitStdout("done")
		wantLines(t, cli.stdout.String(),
			"tcp Swoole TCP Server: hello", "tcp closed",
			"framed 1 echo: abc 13", "framed 2 echo: de 12", "framed closed",
			"udp Swoole UDP Server: ping", "udp closed",
			"ws text server: hi", "ws closed 1000",
			"done")
	})
}

// nodePeers is a Node.js program: a TCP server speaking length-prefixed
// packages (4-byte big-endian length, then the body) that answers each
// package with "node: " + body, written one byte at a time, and ends the
// connection after answering "bye"; and a UDP server answering
// "node udp: " + datagram. It prints its two ports.
const nodePeers = `
const net = require("net");
const dgram = require("dgram");
const frame = (body) => { const h = Buffer.alloc(4); h.writeUInt32BE(body.length); return Buffer.concat([h, body]); };
const tcp = net.createServer((sock) => {
  let buf = Buffer.alloc(0);
  sock.on("data", (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
      const body = buf.subarray(4, 4 + buf.readUInt32BE(0));
      buf = buf.subarray(4 + body.length);
      const out = frame(Buffer.concat([Buffer.from("node: "), body]));
      for (let i = 0; i < out.length; i++) sock.write(out.subarray(i, i + 1));
      if (body.toString() === "bye") sock.end();
    }
  });
  sock.on("error", () => {});
});
const udp = dgram.createSocket("udp4");
udp.on("message", (msg, rinfo) => udp.send(Buffer.concat([Buffer.from("node udp: "), msg]), rinfo.port, rinfo.address));
tcp.listen(0, "127.0.0.1", () => {
  udp.bind(0, "127.0.0.1", () => {
    console.log("tcp " + tcp.address().port + " udp " + udp.address().port);
  });
});
`

// startNode runs a Node.js program and returns the first line it prints.
func startNode(t *testing.T, src string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	script := writeScript(t, "peer.js", src)
	cmd := exec.Command(node, script)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	lines := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(out).ReadString('\n')
		lines <- strings.TrimSpace(l)
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case l := <-lines:
		if l == "" {
			t.Fatal("the node peer printed nothing")
		}
		return l
	case <-time.After(startTimeout):
		t.Fatal("the node peer did not start")
	}
	return ""
}

const nodeClientLua = `
if imscript.worker_id ~= 0 then return end
local env = imscript.env
local function u32be(n)
  return string.char(math.floor(n / 16777216) % 256, math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
end
local all = ""
for i = 0, 255 do all = all .. string.char(i) end

local tcp = imscript.client{ port = tonumber(env.NODE_TCP), open_length_check = true, package_length_type = "N", package_body_offset = 4 }
tcp:on("connect", function(c) c:send(u32be(#all) .. all .. u32be(3) .. "bye") end)
tcp:on("receive", function(c, pkg)
  local body = pkg:sub(5)
  if body == "node: " .. all then print("tcp binary intact " .. #pkg) else print("tcp " .. body) end
end)
tcp:on("error", function(c, err) print("tcp error " .. err) end)
tcp:on("close", function(c) print("tcp closed by peer " .. tostring(c:isConnected())) end)
tcp:connect()

local udp = imscript.client{ type = "udp", port = tonumber(env.NODE_UDP) }
local n = 0
udp:on("connect", function(c) c:send("one"); c:send("two") end)
udp:on("receive", function(c, data)
  n = n + 1
  print("udp " .. data)
  if n == 2 then c:close() end
end)
udp:on("close", function() print("udp closed") end)
udp:connect()
`

const nodeClientJS = `
if (imscript.worker_id === 0) main();
function main() {
  const env = imscript.env;
  const u32be = (n) => Buffer.from([(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

  const tcp = imscript.client({ port: Number(env.NODE_TCP), open_length_check: true, package_length_type: "N", package_body_offset: 4 });
  tcp.on("connect", (c) => c.send(Buffer.concat([u32be(256), all, u32be(3), Buffer.from("bye")])));
  tcp.on("receive", (c, pkg) => {
    const body = pkg.slice(4);
    const want = Buffer.concat([Buffer.from("node: "), all]);
    if (body.length === want.length && body.every((b, i) => b === want[i])) console.log("tcp binary intact " + pkg.length);
    else console.log("tcp " + body);
  });
  tcp.on("error", (c, err) => console.log("tcp error " + err));
  tcp.on("close", (c) => console.log("tcp closed by peer " + c.isConnected()));
  tcp.connect();

  const udp = imscript.client({ type: "udp", port: Number(env.NODE_UDP) });
  let n = 0;
  udp.on("connect", (c) => { c.send("one"); c.send("two"); });
  udp.on("receive", (c, data) => { n++; console.log("udp " + data); if (n === 2) c.close(); });
  udp.on("close", () => console.log("udp closed"));
  udp.connect();
}
`

// Clients against Node.js peers: binary-safe length framing over a stream
// the peer writes one byte at a time, the peer ending the connection, and
// UDP datagrams.
func TestClientsAgainstNode(t *testing.T) {
	eachLang(t, func(t *testing.T, lang string) {
		var tcpPort, udpPort int
		if _, err := fmt.Sscanf(startNode(t, nodePeers), "tcp %d udp %d", &tcpPort, &udpPort); err != nil {
			t.Fatal(err)
		}
		script := writeScript(t, "node_client."+lang, pick(lang, nodeClientLua, nodeClientJS))
		cli := start(t, script, runOpts{env: map[string]string{
			"NODE_TCP": strconv.Itoa(tcpPort), "NODE_UDP": strconv.Itoa(udpPort),
		}})
		cli.waitStdout("tcp closed by peer")
		cli.waitStdout("udp closed")
		out := cli.stdout.String()
		wantLines(t, out, "tcp binary intact 266", "tcp node: bye", "tcp closed by peer false", "udp node udp: one", "udp node udp: two", "udp closed")
		if strings.Contains(out, "tcp error") {
			t.Errorf("unexpected error event:\n%s", out)
		}
		if i, j := strings.Index(out, "tcp binary intact"), strings.Index(out, "tcp node: bye"); i > j {
			t.Errorf("packages out of order:\n%s", out)
		}
	})
}

const httpFetchLua = `
local srv = imscript.server{ host = "127.0.0.1", port = tonumber(imscript.env.PORT), open_eof_split = true, package_eof = "\n" }
srv:on("receive", function(srv, fd, line)
  imscript.http.request({ url = imscript.env.BASE .. line:sub(1, -2), headers = { ["X-From"] = "imscript" }, timeout = 2 },
    function(res, err)
      if res then srv:send(fd, res.status .. " " .. res.body .. "\n") else srv:send(fd, "error " .. err .. "\n") end
    end)
end)
`

// JS: an async handler awaiting the request.
const httpFetchJS = `
const srv = imscript.server({ host: "127.0.0.1", port: Number(imscript.env.PORT), open_eof_split: true, package_eof: "\n" });
srv.on("receive", async (srv, fd, line) => {
  try {
    const res = await imscript.http.request({ url: imscript.env.BASE + line.toString().slice(0, -1), headers: { "X-From": "imscript" }, timeout: 2 });
    srv.send(fd, res.status + " " + res.body + "\n");
  } catch (err) {
    srv.send(fd, "error " + err.message + "\n");
  }
});
`

// http.request from inside a TCP handler (JS: async/await), against a Go
// server: headers, redirects, statuses, a timeout; the handler answers
// the TCP client with what it got.
func TestHTTPRequestFromHandler(t *testing.T) {
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/hello":
			fmt.Fprintf(w, "hello %s", r.Header.Get("X-From"))
		case "/moved":
			http.Redirect(w, r, "/hello", http.StatusMovedPermanently)
		case "/slow":
			select {
			case <-time.After(10 * time.Second):
			case <-r.Context().Done():
			}
		default:
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, "nothing here")
		}
	}))
	t.Cleanup(web.Close)
	eachLang(t, func(t *testing.T, lang string) {
		script := writeScript(t, "fetch."+lang, pick(lang, httpFetchLua, httpFetchJS))
		s := start(t, script, runOpts{env: map[string]string{"BASE": web.URL}})
		c := dial(t, s.addr())
		rd := bufio.NewReader(c)
		ask := func(path string) string {
			write(t, c, []byte(path+"\n"))
			_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
			l, err := rd.ReadString('\n')
			if err != nil {
				t.Fatalf("reading the answer to %s: %v", path, err)
			}
			return strings.TrimSuffix(l, "\n")
		}
		for path, want := range map[string]string{
			"/hello": "200 hello imscript",
			"/moved": "200 hello imscript",
			"/gone":  "404 nothing here",
			"/slow":  "error GET " + web.URL + "/slow: timed out after 2s",
		} {
			if got := ask(path); got != want {
				t.Errorf("%s: got %q, want %q", path, got, want)
			}
		}
	})
}

// The http_client example against a Go HTTPS server whose certificate
// comes from a test CA, trusted through SSL_CERT_FILE.
func TestHTTPClientExample(t *testing.T) {
	ca := testutil.NewCA(t)
	web := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "secure hello, %s", r.Header.Get("Accept"))
	}))
	web.TLS = ca.Server
	web.StartTLS()
	t.Cleanup(web.Close)
	eachLang(t, func(t *testing.T, lang string) {
		out, _ := runToEnd(t, example(lang, "http_client"), map[string]string{"URL": web.URL + "/x", "SSL_CERT_FILE": ca.CAFile})
		wantLines(t, out, "status: 200", "content-type: text/plain", "final url: "+web.URL+"/x",
			"secure hello, text/html, text/plain;q=0.9, */*;q=0.5")
	})
}

// runToEnd runs a script that stops by itself (imscript.shutdown()) with
// one worker and returns its stdout and stderr; an exit code other than 0
// is an error of the test.
func runToEnd(t *testing.T, script string, env map[string]string, args ...string) (stdout, stderr string) {
	t.Helper()
	r := docsCommand(t, filepath.Dir(script), env, append([]string{"run", "--no-watch", "--workers", "1", script, "--"}, args...)...)
	if r.code != 0 {
		t.Errorf("%s: exit code %d\nstdout:\n%s\nstderr:\n%s", filepath.Base(script), r.code, r.stdout, r.stderr)
	}
	return r.stdout, r.stderr
}

const wsClientLua = `
if imscript.worker_id ~= 0 then return end
local function run(name, url, after)
  local ws = imscript.websocket.connect{ url = url, headers = { ["X-Token"] = "t" .. name } }
  local n = 0
  ws:on("open", function(w) w:send("text " .. name); w:send("\0\1\2", "binary") end)
  ws:on("message", function(w, f)
    n = n + 1
    print(name .. " " .. f.opcode .. " " .. f.data:gsub("%z", "<0>"):gsub("\1", "<1>"):gsub("\2", "<2>"))
    if n == 2 then w:close(4000, "enough") end
  end)
  ws:on("error", function(w, err) print(name .. " error " .. err) end)
  ws:on("close", function(w, code, reason) print(name .. " close " .. code); if after then after() end end)
end
run("own", "ws://127.0.0.1:" .. imscript.env.WS .. "/", function() run("gorilla", imscript.env.GORILLA) end)
`

const wsClientJS = `
if (imscript.worker_id === 0) run("own", "ws://127.0.0.1:" + imscript.env.WS + "/", () => run("gorilla", imscript.env.GORILLA));
function run(name, url, after) {
  const ws = imscript.websocket.connect({ url, headers: { "X-Token": "t" + name } });
  let n = 0;
  ws.on("open", (w) => { w.send("text " + name); w.send(Buffer.from([0, 1, 2])); });
  ws.on("message", (w, f) => {
    n++;
    const data = f.opcode === "binary" ? Array.from(f.data).map((b) => b >= 32 ? String.fromCharCode(b) : "<" + b + ">").join("") : f.data;
    console.log(name + " " + f.opcode + " " + data);
    if (n === 2) w.close(4000, "enough");
  });
  ws.on("error", (w, err) => console.log(name + " error " + err));
  ws.on("close", (w, code, reason) => { console.log(name + " close " + code); if (after) after(); });
}
`

// websocket.connect against the ws_echo example and a gorilla server.
func TestWebSocketClient(t *testing.T) {
	up := websocket.Upgrader{}
	gorilla := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			op, data, err := c.ReadMessage()
			if err != nil {
				return
			}
			out := append([]byte("gorilla("+r.Header.Get("X-Token")+"): "), data...)
			if err := c.WriteMessage(op, out); err != nil {
				return
			}
		}
	}))
	t.Cleanup(gorilla.Close)
	eachLang(t, func(t *testing.T, lang string) {
		ws := start(t, example(lang, "ws_echo"), runOpts{})
		script := writeScript(t, "ws_client."+lang, pick(lang, wsClientLua, wsClientJS))
		cli := start(t, script, runOpts{env: map[string]string{
			"WS": strconv.Itoa(ws.port), "GORILLA": "ws" + strings.TrimPrefix(gorilla.URL, "http") + "/",
		}})
		cli.waitStdout("gorilla close")
		wantLines(t, cli.stdout.String(),
			"own text server: text own", "own binary server: <0><1><2>", "own close 4000",
			"gorilla text gorilla(tgorilla): text gorilla", "gorilla binary gorilla(tgorilla): <0><1><2>", "gorilla close 4000")
	})
}
