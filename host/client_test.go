package host_test

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/imscript/imscript/host"
	"github.com/imscript/imscript/script/scripttest"
)

// lineEcho is a Go TCP peer that answers every line with "echo: <line>".
// It records each connection's end in ended.
type lineEcho struct {
	ln    net.Listener
	mu    sync.Mutex
	conns int
	ended int
}

func newLineEcho(t *testing.T) *lineEcho {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	e := &lineEcho{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.mu.Lock()
			e.conns++
			e.mu.Unlock()
			go func() {
				defer func() {
					c.Close()
					e.mu.Lock()
					e.ended++
					e.mu.Unlock()
				}()
				rd := bufio.NewReader(c)
				for {
					l, err := rd.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := c.Write([]byte("echo: " + l)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return e
}

func (e *lineEcho) port() string { return strconv.Itoa(e.ln.Addr().(*net.TCPAddr).Port) }

func (e *lineEcho) counts() (conns, ended int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.conns, e.ended
}

const clientEchoLua = `
local cli = imscript.client{ type = "tcp", host = "127.0.0.1", port = tonumber(imscript.env.PEER),
  open_eof_split = true, package_eof = "\n", timeout = 5 }
local n = 0
cli:on("connect", function(c)
  print("connect " .. tostring(c == cli) .. " " .. tostring(c:isConnected()))
  c:send("one\ntwo\n")
end)
cli:on("receive", function(c, data)
  n = n + 1
  print("receive " .. (data:gsub("\n", "|")))
  if n == 2 then print("close " .. tostring(c:close())) end
end)
cli:on("error", function(c, err) print("error " .. err) end)
cli:on("close", function(c) print("closed " .. tostring(c:isConnected())) end)
local ok, why = cli:send("early")
print("early " .. tostring(ok) .. " " .. tostring(why))
print("connect() " .. tostring(cli:connect()))
print("again " .. tostring(select(2, cli:connect())))
`

const clientEchoJS = `
const cli = imscript.client({ type: "tcp", host: "127.0.0.1", port: Number(imscript.env.PEER),
  open_eof_split: true, package_eof: "\n", timeout: 5 });
let n = 0;
cli.on("connect", (c) => {
  console.log("connect " + (c === cli) + " " + c.isConnected());
  c.send("one\ntwo\n");
});
cli.on("receive", (c, data) => {
  n++;
  console.log("receive " + data.toString().replace(/\n/g, "|"));
  if (n === 2) console.log("close " + c.close());
});
cli.on("error", (c, err) => console.log("error " + err));
cli.on("close", (c) => console.log("closed " + c.isConnected()));
console.log("early " + cli.send("early") + " not connected");
console.log("connect() " + cli.connect());
console.log("again " + (cli.connect() === false ? "already connecting" : "?"));
`

// A client made and connected by the script's main chunk: its events wait
// until the instance is active, then run in order.
func TestClientTCPEchoFromMainChunk(t *testing.T) {
	for _, lang := range []string{"lua", "js"} {
		t.Run(lang, func(t *testing.T) {
			peer := newLineEcho(t)
			src := clientEchoLua
			if lang == "js" {
				src = clientEchoJS
			}
			r := startHost(t, "main."+lang, src, host.Config{Workers: 1, Env: map[string]string{"PEER": peer.port()}})
			r.waitStdout("closed false")
			want := "early false not connected\nconnect() true\nagain already connecting\n" +
				"connect true true\nreceive echo: one|\nreceive echo: two|\nclose true\nclosed false\n"
			if got := r.stdout.String(); got != want {
				t.Fatalf("stdout:\n%s\nwant:\n%s", got, want)
			}
			r.eventually("the peer to see the close", func() bool { _, ended := peer.counts(); return ended == 1 })
		})
	}
}

// TestClientEngineLogsThroughTheHostLogger: the TCP client engine belongs
// to the host and logs through Config.Logger (here the test's buffer), not
// through the process's default logger.
func TestClientEngineLogsThroughTheHostLogger(t *testing.T) {
	peer := newLineEcho(t)
	var global scripttest.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&global, &slog.HandlerOptions{Level: slog.LevelDebug})))
	defer slog.SetDefault(old)
	r := startHost(t, "main.lua", clientEchoLua, host.Config{Workers: 1, Env: map[string]string{"PEER": peer.port()}})
	r.waitStdout("closed false")
	r.waitLog("component=gnet-client")
	if strings.Contains(global.String(), "gnet") {
		t.Errorf("the client engine logged through the default logger:\n%s", global.String())
	}
}

// The client talks to the script's own TCP server (length-prefixed
// framing both ways, packages written in pieces by the server), and
// reconnects once the server has closed the first connection.
func TestClientAgainstOwnServerLengthFramed(t *testing.T) {
	srcs := map[string]string{
		"lua": luaWithPack(`
local srv = imscript.server{ host = "127.0.0.1", port = 0, open_length_check = true, package_length_type = "N",
  package_length_offset = 0, package_body_offset = 4 }
local function pack(s) return string.pack(">I4", #s) .. s end
srv:on("receive", function(srv, fd, data)
  local reply = pack("got " .. data:sub(5))
  -- write the reply in three pieces, across two timer ticks, then close
  srv:send(fd, reply:sub(1, 2))
  imscript.after(5, function()
    srv:send(fd, reply:sub(3, 6))
    imscript.after(5, function() srv:send(fd, reply:sub(7) .. pack("bye")); srv:close(fd) end)
  end)
end)
srv:on("start", function(srv)
  local cli = imscript.client{ port = srv.port, open_length_check = true, package_length_type = "N", package_body_offset = 4 }
  local round = 0
  cli:on("connect", function(c) round = round + 1; c:send(pack("hello " .. round)) end)
  cli:on("receive", function(c, data) print("client got [" .. data:sub(5) .. "] " .. #data) end)
  cli:on("close", function(c)
    print("client closed " .. round)
    if round == 1 then print("reconnect " .. tostring(c:connect())) end
  end)
  cli:connect()
end)
`),
		"js": `
const srv = imscript.server({ host: "127.0.0.1", port: 0, open_length_check: true, package_length_type: "N",
  package_length_offset: 0, package_body_offset: 4 });
const pack = (s) => { const b = Buffer.from(s); return Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]); };
srv.on("receive", (srv, fd, data) => {
  const reply = pack("got " + data.slice(4).toString());
  srv.send(fd, reply.slice(0, 2));
  imscript.after(5, () => {
    srv.send(fd, reply.slice(2, 6));
    imscript.after(5, () => { srv.send(fd, Buffer.concat([reply.slice(6), pack("bye")])); srv.close(fd); });
  });
});
srv.on("start", (srv) => {
  const cli = imscript.client({ port: srv.port, open_length_check: true, package_length_type: "N", package_body_offset: 4 });
  let round = 0;
  cli.on("connect", (c) => { round++; c.send(pack("hello " + round)); });
  cli.on("receive", (c, data) => console.log("client got [" + data.slice(4).toString() + "] " + data.length));
  cli.on("close", (c) => {
    console.log("client closed " + round);
    if (round === 1) console.log("reconnect " + c.connect());
  });
  cli.connect();
});
`,
	}
	want := "client got [got hello 1] 15\nclient got [bye] 7\nclient closed 1\nreconnect true\n" +
		"client got [got hello 2] 15\nclient got [bye] 7\nclient closed 2\n"
	for _, lang := range []string{"lua", "js"} {
		t.Run(lang, func(t *testing.T) {
			r := startHost(t, "own."+lang, srcs[lang], host.Config{Workers: 2})
			r.waitStdout("client closed 2")
			if got := r.stdout.String(); got != want {
				t.Fatalf("stdout:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// luaWithPack gives gopher-lua (Lua 5.1, no string.pack) the one pack
// format the tests use.
func luaWithPack(src string) string {
	return `string.pack = function(fmt, n)
  return string.char(math.floor(n / 16777216) % 256, math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
end
` + src
}

// Refused connections and connect timeouts are error events; no close
// event follows (Swoole's order).
func TestClientConnectFailures(t *testing.T) {
	// A port with nothing listening.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	// A listener whose accept queue is full: further SYNs are dropped, so
	// a connect hangs until the client's timeout.
	full := fullListener(t)

	for _, lang := range []string{"lua", "js"} {
		t.Run(lang, func(t *testing.T) {
			src := `
local function try(port, timeout, name)
  local cli = imscript.client{ port = port, timeout = timeout }
  cli:on("connect", function() print(name .. " connected?!") end)
  cli:on("close", function() print(name .. " closed?!") end)
  cli:on("error", function(c, err) print(name .. " error: " .. err) end)
  cli:connect()
end
try(tonumber(imscript.env.REFUSED), 5, "refused")
try(tonumber(imscript.env.FULL), 0.3, "timeout")
`
			if lang == "js" {
				src = `
function tryIt(port, timeout, name) {
  const cli = imscript.client({ port, timeout });
  cli.on("connect", () => console.log(name + " connected?!"));
  cli.on("close", () => console.log(name + " closed?!"));
  cli.on("error", (c, err) => console.log(name + " error: " + err));
  cli.connect();
}
tryIt(Number(imscript.env.REFUSED), 5, "refused");
tryIt(Number(imscript.env.FULL), 0.3, "timeout");
`
			}
			r := startHost(t, "fail."+lang, src, host.Config{Workers: 1, Env: map[string]string{
				"REFUSED": strconv.Itoa(refused), "FULL": strconv.Itoa(full),
			}})
			r.waitStdout("refused error: ")
			r.waitStdout("timeout error: ")
			time.Sleep(50 * time.Millisecond)
			out := r.stdout.String()
			if !strings.Contains(out, "refused error: connect 127.0.0.1:"+strconv.Itoa(refused)+": connection refused") {
				t.Errorf("refused: %q", out)
			}
			if !strings.Contains(out, "timeout error: connect 127.0.0.1:"+strconv.Itoa(full)+": timed out after 300ms") {
				t.Errorf("timeout: %q", out)
			}
			if strings.Contains(out, "?!") {
				t.Errorf("unexpected events: %q", out)
			}
		})
	}
}

// fullListener returns the port of a listener with a backlog of 0 whose
// accept queue is filled, so that new connections hang in SYN_SENT.
func fullListener(t *testing.T) int {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "full-listener")
	t.Cleanup(func() { f.Close() })
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	port := sa.(*syscall.SockaddrInet4).Port
	// Fill the queue: connects that complete until one hangs.
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for i := 0; i < 8; i++ {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return port
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Skip("could not fill a listener's accept queue on this system")
	return 0
}

// The peer closing is a close event; a reset is an error event, then close.
func TestClientPeerCloseAndReset(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for i := 0; ; i++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("hi\n"))
			if i%2 == 1 {
				_ = c.(*net.TCPConn).SetLinger(0) // RST
				_, _ = io.ReadFull(c, make([]byte, 3))
			}
			c.Close()
		}
	}()
	srcs := map[string]string{"lua": `
local port = tonumber(imscript.env.PEER)
local function run(name, after)
  local cli = imscript.client{ port = port }
  cli:on("connect", function(c) if name == "reset" then c:send("abc") end end)
  cli:on("receive", function(c, data) print(name .. " receive " .. data:gsub("\n", "")) end)
  cli:on("error", function(c, err) print(name .. " error " .. err) end)
  cli:on("close", function(c) print(name .. " close"); if after then after() end end)
  cli:connect()
end
run("graceful", function() run("reset") end)
`, "js": `
const port = Number(imscript.env.PEER);
function run(name, after) {
  const cli = imscript.client({ port });
  cli.on("connect", (c) => { if (name === "reset") c.send("abc"); });
  cli.on("receive", (c, data) => console.log(name + " receive " + data.toString().replace("\n", "")));
  cli.on("error", (c, err) => console.log(name + " error " + err));
  cli.on("close", (c) => { console.log(name + " close"); if (after) after(); });
  cli.connect();
}
run("graceful", () => run("reset"));
`}
	want := "graceful receive hi\ngraceful close\nreset receive hi\nreset error connection reset by peer\nreset close\n"
	for _, lang := range []string{"lua", "js"} {
		t.Run(lang, func(t *testing.T) {
			r := startHost(t, "peer."+lang, srcs[lang], host.Config{Workers: 1, Env: map[string]string{"PEER": strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)}})
			r.waitStdout("reset close")
			if got := r.stdout.String(); got != want {
				t.Fatalf("stdout:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// UDP: connect is immediate, each datagram is a receive event, close is a
// close event.
func TestClientUDP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo(append([]byte("udp: "), buf[:n]...), from)
		}
	}()
	for _, lang := range []string{"lua", "js"} {
		t.Run(lang, func(t *testing.T) {
			src := `
local cli = imscript.client{ type = "udp", port = tonumber(imscript.env.PEER) }
local n = 0
cli:on("connect", function(c) c:send("a"); c:send("b\0c") end)
cli:on("receive", function(c, data)
  n = n + 1
  print("got " .. data:gsub("%z", "0") .. " " .. #data)
  if n == 2 then c:close() end
end)
cli:on("close", function(c) print("closed") end)
cli:connect()
`
			if lang == "js" {
				src = `
const cli = imscript.client({ type: "udp", port: Number(imscript.env.PEER) });
let n = 0;
cli.on("connect", (c) => { c.send("a"); c.send(Buffer.from([98, 0, 99])); });
cli.on("receive", (c, data) => {
  n++;
  console.log("got " + data.toString().replace(/\0/g, "0") + " " + data.length);
  if (n === 2) c.close();
});
cli.on("close", () => console.log("closed"));
cli.connect();
`
			}
			r := startHost(t, "udp."+lang, src, host.Config{Workers: 1, Env: map[string]string{"PEER": strconv.Itoa(pc.LocalAddr().(*net.UDPAddr).Port)}})
			r.waitStdout("closed")
			want := "got udp: a 6\ngot udp: b0c 8\nclosed\n"
			if got := r.stdout.String(); got != want {
				t.Fatalf("stdout:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// A reload closes the old version's clients (the peer sees the connection
// end) and the new version makes its own.
func TestClientClosedByReload(t *testing.T) {
	srcs := map[string]string{"lua": `
local cli = imscript.client{ port = tonumber(imscript.env.PEER) }
cli:on("connect", function(c) c:send("v1\n") end)
cli:on("receive", function(c, data) print("got " .. data:gsub("\n", "")) end)
cli:on("close", function() print("close event?!") end)
cli:connect()
`, "js": `
const cli = imscript.client({ port: Number(imscript.env.PEER) });
cli.on("connect", (c) => c.send("v1\n"));
cli.on("receive", (c, data) => console.log("got " + data.toString().replace("\n", "")));
cli.on("close", () => console.log("close event?!"));
cli.connect();
`}
	for _, lang := range []string{"lua", "js"} {
		t.Run(lang, func(t *testing.T) {
			peer := newLineEcho(t)
			src := srcs[lang]
			r := startHost(t, "reload."+lang, src, host.Config{Workers: 1, Env: map[string]string{"PEER": peer.port()}})
			r.waitStdout("got echo: v1")
			r.write("reload."+lang, strings.Replace(src, `"v1\n"`, `"v2\n"`, 1))
			if err := r.h.ReloadNow("test"); err != nil {
				t.Fatal(err)
			}
			r.waitStdout("got echo: v2")
			r.eventually("the first connection to end", func() bool { conns, ended := peer.counts(); return conns == 2 && ended == 1 })
			if err := r.stop(); err != nil {
				t.Fatal(err)
			}
			r.eventually("the second connection to end", func() bool { _, ended := peer.counts(); return ended == 2 })
			if strings.Contains(r.stdout.String(), "?!") {
				t.Fatalf("a closed instance got an event: %q", r.stdout.String())
			}
		})
	}
}

// Misuse raises errors that name what is wrong.
func TestClientUsageErrors(t *testing.T) {
	srcs := map[string]string{"lua": `
local function try(name, f)
  local ok, err = pcall(f)
  print(name .. ": " .. tostring(err))
end
try("setting", function() imscript.client{ port = 1, worker_num = 2 } end)
try("type", function() imscript.client{ type = "http", port = 1 } end)
try("udp framing", function() imscript.client{ type = "udp", port = 1, open_eof_check = true } end)
try("event", function() imscript.client{ port = 1 }:on("packet", function() end) end)
try("no port", function() imscript.client{}:connect() end)
print("close idle: " .. tostring(select(2, imscript.client{ port = 1 }:close())))
print("done")
`, "js": `
function tryIt(name, f) {
  try { f(); console.log(name + ": no error?!"); } catch (e) { console.log(name + ": " + e.message); }
}
tryIt("setting", () => imscript.client({ port: 1, worker_num: 2 }));
tryIt("type", () => imscript.client({ type: "http", port: 1 }));
tryIt("udp framing", () => imscript.client({ type: "udp", port: 1, open_eof_check: true }));
tryIt("event", () => imscript.client({ port: 1 }).on("packet", () => {}));
tryIt("no port", () => imscript.client({}).connect());
console.log("close idle: " + imscript.client({ port: 1 }).close());
console.log("done");
`}
	for _, lang := range []string{"lua", "js"} {
		t.Run(lang, func(t *testing.T) {
			r := startHost(t, "usage."+lang, srcs[lang], host.Config{Workers: 1})
			r.waitStdout("done")
			out := r.stdout.String()
			for _, want := range []string{
				`setting: .*imscript.client: unknown setting "worker_num"`,
				`type: .*imscript.client: setting type: "http" is not a client type \(tcp, udp\)`,
				`udp framing: .*imscript.client: framing settings apply to tcp clients, not udp`,
				`event: .*client.on: unknown event "packet" \(connect, receive, error, close\)`,
				`no port: .*client.connect: no port`,
				map[string]string{"lua": "close idle: not connected", "js": "close idle: false"}[lang],
			} {
				if !regexp.MustCompile(want).MatchString(out) {
					t.Errorf("missing %q in:\n%s", want, out)
				}
			}
		})
	}
}
