package host_test

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imscript/imscript/host"
)

// lineServer is a line-protocol TCP server with a few commands.
const lineServer = `
local srv = imscript.server{ host = "127.0.0.1", port = 0, open_eof_split = true, package_eof = "\n" }
srv:on("connect", function(srv, fd) print("connect " .. fd) end)
srv:on("close", function(srv, fd) print("close " .. fd .. " exist=" .. tostring(srv:exist(fd))) end)
srv:on("receive", function(srv, fd, data)
  local cmd = data:sub(1, -2)
  if cmd == "info" then
    local i = srv:info(fd)
    srv:send(fd, imscript.json.encode({ fd = i.fd == fd, ip = i.remote_ip, port = i.server_port == srv.port,
      worker = i.worker_id == imscript.worker_id, exist = srv:exist(fd), conns = srv:connections() }) .. "\n")
  elseif cmd == "stats" then
    srv:send(fd, imscript.json.encode(srv:stats()) .. "\n")
  elseif cmd == "boom" then
    error("boom in receive")
  elseif cmd == "spin" then
    while true do end
  elseif cmd == "bye" then
    srv:send(fd, "bye\n")
    srv:close(fd)
  else
    srv:send(fd, "Swoole TCP Server: " .. data)
  end
end)
`

func TestTCPEchoAndServerMethods(t *testing.T) {
	t.Parallel()
	r := startHost(t, "echo.lua", lineServer, host.Config{})
	c := dial(t, r.port(0))
	if got := c.ask("hello"); got != "Swoole TCP Server: hello" {
		t.Fatalf("reply %q", got)
	}
	var info struct {
		Fd, Port, Worker, Exist bool
		IP                      string
		Conns                   []int64
	}
	if err := json.Unmarshal([]byte(c.ask("info")), &info); err != nil {
		t.Fatal(err)
	}
	if !info.Fd || !info.Port || !info.Worker || !info.Exist || info.IP != "127.0.0.1" || len(info.Conns) != 1 {
		t.Errorf("info: %+v", info)
	}
	var all map[string]any
	if err := json.Unmarshal([]byte(c.ask("stats")), &all); err != nil {
		t.Fatal(err)
	}
	stats := map[string]float64{}
	for k, v := range all {
		if f, ok := v.(float64); ok {
			stats[k] = f
		}
	}
	if all["node"] == "" || all["node"] == nil || stats["cluster_nodes"] != 1 {
		t.Errorf("stats: node %v, cluster_nodes %v, want a name and 1", all["node"], stats["cluster_nodes"])
	}
	for k, want := range map[string]float64{"connection_num": 1, "accept_count": 1, "close_count": 0, "worker_num": 2, "reload_count": 0} {
		if got, ok := stats[k]; !ok || got != want {
			t.Errorf("stats.%s = %v (present %v), want %v", k, got, ok, want)
		}
	}
	if stats["request_count"] != 3 || stats["bytes_in"] != float64(len("hello\ninfo\nstats\n")) || stats["start_time"] == 0 {
		t.Errorf("stats: %v", stats)
	}
	// A handler error is logged with file:line; the connection and host go on.
	c.send("boom\n")
	r.waitLog(fmt.Sprintf("echo.lua:%d:", lineOf(t, lineServer, "boom in receive")))
	if got := c.ask("still"); got != "Swoole TCP Server: still" {
		t.Fatalf("after a handler error: %q", got)
	}
	if !strings.Contains(r.logs.String(), "boom in receive") || !strings.Contains(r.logs.String(), "handler=receive") {
		t.Error("the handler error is not logged with its message and handler")
	}
	// srv:close after send: the reply arrives, then the close.
	if got := c.ask("bye"); got != "bye" {
		t.Fatalf("bye: %q", got)
	}
	c.closed()
	r.waitStdout("exist=false")
	out := r.stdout.String()
	if !strings.HasPrefix(out, "connect ") || !strings.Contains(out, "close ") {
		t.Errorf("connect/close events: %q", out)
	}
}

func TestWatchdogInReceiveHandler(t *testing.T) {
	t.Parallel()
	src := strings.Replace(lineServer, `package_eof = "\n" }`, `package_eof = "\n", max_exec_ms = 100 }`, 1)
	r := startHost(t, "spin.lua", src, host.Config{})
	c := dial(t, r.port(0))
	c.send("spin\n")
	if got := c.ask("after"); got != "Swoole TCP Server: after" {
		t.Fatalf("after the loop: %q", got)
	}
	r.waitLog("handler interrupted")
	if !strings.Contains(r.logs.String(), "handler=receive") {
		t.Error("the interrupt does not name the handler")
	}
}

func TestJSEchoIsBinarySafe(t *testing.T) {
	t.Parallel()
	src := `
const srv = imscript.server({ host: "127.0.0.1", port: 0 });
srv.on("receive", (srv, fd, data) => {
  if (data.length === 5 && data.toString() === "hello") {
    srv.send(fd, "Server: " + data);
    return;
  }
  srv.send(fd, data);
});`
	r := startHost(t, "echo.js", src, host.Config{})
	c := dial(t, r.port(0))
	c.send("hello")
	buf := make([]byte, len("Server: hello"))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "Server: hello" {
		t.Fatalf("reply %q, %v", buf, err)
	}
	// Every byte value and invalid UTF-8 come back unchanged.
	payload := make([]byte, 0, 64<<10)
	for len(payload) < cap(payload) {
		payload = append(payload, byte(len(payload)*7), 0xff, 0xc3)
	}
	go func() { _, _ = c.Write(payload) }()
	got := make([]byte, len(payload))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if string(got) != string(payload) {
		t.Fatal("the JS echo changed the bytes")
	}
}

func TestLengthFramingOverTCP(t *testing.T) {
	t.Parallel()
	src := `
local srv = imscript.server{ host = "127.0.0.1", port = 0, open_length_check = true,
  package_length_type = "N", package_body_offset = 4, package_max_length = 1024 }
srv:on("receive", function(srv, fd, pkg) srv:send(fd, #pkg .. ":" .. pkg:sub(5) .. "\n") end)
`
	r := startHost(t, "framed.lua", src, host.Config{})
	pkg := func(body string) []byte {
		return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
	}
	c := dial(t, r.port(0))
	// Three packages in one write, then one split into single bytes.
	var joined []byte
	for _, b := range []string{"one", "", "three"} {
		joined = append(joined, pkg(b)...)
	}
	c.send(string(joined))
	for _, want := range []string{"7:one", "4:", "9:three"} {
		if got := c.line(); got != want {
			t.Fatalf("coalesced: got %q, want %q", got, want)
		}
	}
	for _, b := range pkg("split") {
		c.send(string([]byte{b}))
	}
	if got := c.line(); got != "9:split" {
		t.Fatalf("split: got %q", got)
	}

	// An oversized package closes only that connection.
	other := dial(t, r.port(0))
	c.send(string(binary.BigEndian.AppendUint32(nil, 5000)))
	c.closed()
	r.waitLog("package exceeds package_max_length")
	other.send(string(pkg("fine")))
	if got := other.line(); got != "8:fine" {
		t.Fatalf("the other connection: %q", got)
	}
}

func TestEOFFramingOverTCP(t *testing.T) {
	t.Parallel()
	src := `
local srv = imscript.server{ host = "127.0.0.1", port = 0, open_eof_split = true, package_eof = "\r\n", package_max_length = 64 }
srv:on("receive", function(srv, fd, data) srv:send(fd, "[" .. data:sub(1, -3) .. "]\n") end)
`
	r := startHost(t, "eof.lua", src, host.Config{})
	c := dial(t, r.port(0))
	c.send("a\r\nbb\r\nccc\r")
	for _, want := range []string{"[a]", "[bb]"} {
		if got := c.line(); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	c.send("\n")
	if got := c.line(); got != "[ccc]" {
		t.Fatalf("got %q", got)
	}
	c.send(strings.Repeat("x", 100))
	c.closed()
}

func TestMaxConnection(t *testing.T) {
	t.Parallel()
	src := `
local srv = imscript.server{ host = "127.0.0.1", port = 0, max_connection = 2 }
srv:on("connect", function(srv, fd) print("connect") end)
srv:on("receive", function(srv, fd, data) srv:send(fd, data) end)
`
	r := startHost(t, "max.lua", src, host.Config{})
	a, b := dial(t, r.port(0)), dial(t, r.port(0))
	a.send("a\n")
	b.send("b\n")
	if a.line() != "a" || b.line() != "b" {
		t.Fatal("the first two connections are not served")
	}
	third := dial(t, r.port(0))
	third.closed()
	if n := strings.Count(r.stdout.String(), "connect"); n != 2 {
		t.Errorf("%d connect events, want 2 (the refused one fires none)", n)
	}
	// Once one leaves, a new connection is accepted.
	a.Close()
	r.eventually("a connection to be accepted after one closed", func() bool {
		c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port(0))))
		if err != nil {
			return false
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(waitLimit))
		if _, err := c.Write([]byte("again\n")); err != nil {
			return false
		}
		buf := make([]byte, 6)
		_, err = io.ReadFull(c, buf)
		return err == nil && string(buf) == "again\n"
	})
}

func TestHeartbeatClosesIdleConnections(t *testing.T) {
	t.Parallel()
	src := `
local srv = imscript.server{ host = "127.0.0.1", port = 0, heartbeat_check_interval = 0.05, heartbeat_idle_time = 0.2 }
srv:on("close", function(srv, fd) print("closed " .. fd) end)
`
	r := startHost(t, "hb.lua", src, host.Config{})
	c := dial(t, r.port(0))
	c.closed()
	r.waitStdout("closed ")
}

func TestSlowReaderPastBufferOutputSize(t *testing.T) {
	t.Parallel()
	src := `
local srv = imscript.server{ host = "127.0.0.1", port = 0, buffer_output_size = 65536 }
local chunk = string.rep("x", 32768)
srv:on("receive", function(srv, fd, data)
  for i = 1, 4000 do
    local ok, why = srv:send(fd, chunk)
    if not ok then
      print("refused after " .. (i - 1) .. ": " .. why .. " exist=" .. tostring(srv:exist(fd)))
      return
    end
  end
  print("never refused")
end)
srv:on("close", function(srv, fd) print("close") end)
`
	r := startHost(t, "slow.lua", src, host.Config{})
	c := dial(t, r.port(0))
	c.send("go") // and never read
	r.waitStdout("refused after ")
	out := r.stdout.String()
	if !strings.Contains(out, "output buffer full exist=false") && !strings.Contains(out, "connection closed exist=false") {
		t.Fatalf("send refused with %q", out)
	}
	c.closed()
	r.waitStdout("close\n")
}

func TestUDPServer(t *testing.T) {
	t.Parallel()
	src := `
local srv = imscript.server{ host = "127.0.0.1", port = 0, type = "udp" }
srv:on("packet", function(srv, data, addr)
  srv:sendto(addr.address, addr.port, "Swoole UDP Server: " .. data)
end)
`
	r := startHost(t, "udp.lua", src, host.Config{})
	conn, err := net.Dial("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port(0))))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	buf := make([]byte, 1024)
	deadline := time.Now().Add(waitLimit)
	for {
		// Datagrams may be lost: ask again until one comes back.
		if _, err := conn.Write([]byte("ping\x00\xff")); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		n, err := conn.Read(buf)
		if err == nil {
			if got := string(buf[:n]); got != "Swoole UDP Server: ping\x00\xff" {
				t.Fatalf("reply %q", got)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no UDP reply")
		}
	}
}

func TestSeveralServersShareWorkers(t *testing.T) {
	t.Parallel()
	src := `
local function serve(name)
  local srv = imscript.server{ host = "127.0.0.1", port = 0, open_eof_split = true, package_eof = "\n" }
  srv:on("receive", function(srv, fd, data) srv:send(fd, name .. " fd=" .. fd .. " worker=" .. imscript.worker_id .. "\n") end)
end
serve("first")
serve("second")
imscript.server{ host = "127.0.0.1", port = 0, type = "udp" }
`
	r := startHost(t, "multi.lua", src, host.Config{})
	srvs := r.h.Servers()
	if len(srvs) != 3 || srvs[0].Type() != "tcp" || srvs[1].Type() != "tcp" || srvs[2].Type() != "udp" {
		t.Fatalf("servers %v", srvs)
	}
	if srvs[0].Port() == srvs[1].Port() || srvs[0].Port() == 0 || srvs[2].Port() == 0 {
		t.Fatalf("ports %d %d %d", srvs[0].Port(), srvs[1].Port(), srvs[2].Port())
	}
	// fds are unique across the host; a connection stays on one worker.
	seen := map[string]string{}
	for i := 0; i < 6; i++ {
		name := []string{"first", "second"}[i%2]
		c := dial(t, r.port(i%2))
		first := c.ask("x")
		var fd, worker int
		if _, err := fmt.Sscanf(first, name+" fd=%d worker=%d", &fd, &worker); err != nil {
			t.Fatalf("reply %q: %v", first, err)
		}
		if prev, dup := seen[strconv.Itoa(fd)]; dup {
			t.Fatalf("fd %d given twice (%s and %s)", fd, prev, name)
		}
		seen[strconv.Itoa(fd)] = name
		for j := 0; j < 5; j++ {
			if got := c.ask("x"); got != first {
				t.Fatalf("the connection moved: %q then %q", first, got)
			}
		}
	}
}

// remoteScripts print a connection's peer address as srv:info gives it, at
// connect and in its close handler (after the peer has gone).
var remoteScripts = map[string]string{
	"lua": `local srv = imscript.server{ host = "127.0.0.1", port = 0 }
local function peer(what, fd)
  local i = srv:info(fd)
  print(what .. " " .. tostring(i and i.remote_ip) .. ":" .. tostring(i and i.remote_port))
end
srv:on("connect", function(srv, fd) peer("connect", fd) end)
srv:on("close", function(srv, fd) peer("close", fd) end)
`,
	"js": `const srv = imscript.server({ host: "127.0.0.1", port: 0 });
function peer(what, fd) {
  const i = srv.info(fd);
  console.log(what + " " + (i && i.remote_ip) + ":" + (i && i.remote_port));
}
srv.on("connect", (srv, fd) => peer("connect", fd));
srv.on("close", (srv, fd) => peer("close", fd));
`,
}

// TestRemoteAddressInCloseHandler: the peer's address is the
// connection's for its whole life, in its close handler too, after the
// transport has let go of the socket.
func TestRemoteAddressInCloseHandler(t *testing.T) {
	t.Parallel()
	for lang, src := range remoteScripts {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			r := startHost(t, "main."+lang, src, host.Config{Workers: 1})
			c := dial(t, r.port(0))
			peer := c.LocalAddr().String()
			r.waitStdout("connect " + peer)
			c.Close()
			r.waitStdout("close " + peer)
		})
	}
}
