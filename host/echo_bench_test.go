package host_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/panjf2000/gnet/v2"

	"github.com/imscript/imscript/host/internal/wire/wsframe"
	"github.com/imscript/imscript/script/scripttest"
)

// The echo hot paths through real sockets: a TCP echo (receive → send)
// and a WebSocket echo (message → push) in both languages, next to the
// same echo on bare gnet (tcp) and gorilla/websocket (ws) in this process,
// with one 64-byte message in flight per connection (depth 1, as the
// bench's ws section) and pipelined (depth 16, as its tcp section). The
// load runs in a child process (this test binary, TestEchoLoad), so the
// server's figures are this process's alone:
//
//	go test ./host -run '^$' -bench 'Echo(TCP|WS)' -benchtime 100000x
//
// per message: ns/msg (wall), cpu-ns/msg (this process: the server),
// load-ns/msg (the child's CPU), allocs/msg and B/msg (the server's heap),
// ctxsw/msg (the server's threads' context switches).

var echoScripts = map[string]string{
	"tcp.lua": `local srv = imscript.server{ host = "127.0.0.1", port = 0, type = "tcp" }
srv:on("receive", function(srv, fd, data) srv:send(fd, data) end)`,
	"tcp.js": `const srv = imscript.server({ host: "127.0.0.1", port: 0, type: "tcp" });
srv.on("receive", (srv, fd, data) => { srv.send(fd, data); });`,
	"ws.lua": `local srv = imscript.server{ host = "127.0.0.1", port = 0, type = "websocket" }
srv:on("message", function(srv, frame) srv:push(frame.fd, frame.data, frame.opcode) end)`,
	"ws.js": `const srv = imscript.server({ host: "127.0.0.1", port: 0, type: "websocket" });
srv.on("message", (srv, frame) => { srv.push(frame.fd, frame.data, frame.opcode); });`,
}

const (
	echoConns = 32
	echoSize  = 64
)

func BenchmarkEchoTCP(b *testing.B) { benchEcho(b, "tcp", "gnet", gnetEcho) }

func BenchmarkEchoWS(b *testing.B) { benchEcho(b, "ws", "gorilla", gorillaEcho) }

// benchEcho runs the echo of kind (tcp, ws) in each language and in the
// reference server ref (started by refEcho), at depths 1 and 16.
func benchEcho(b *testing.B, kind, ref string, refEcho func(*testing.B) int) {
	for _, row := range append(slicesOf(scripttest.Langs), ref) {
		for _, depth := range []int{1, 16} {
			b.Run(row+"/depth"+strconv.Itoa(depth), func(b *testing.B) {
				var port int
				if row == ref {
					port = refEcho(b)
				} else {
					r := scripttest.Start(b, scripttest.Options{Name: kind + "." + row, Src: echoScripts[kind+"."+row], Workers: 2})
					port = r.Port(0)
				}
				runEcho(b, kind, port, depth)
			})
		}
	}
}

func slicesOf(s []string) []string { return append([]string(nil), s...) }

// runEcho runs b.N messages against the server on port from a child
// process: echoConns connections, each writing depth messages and reading
// their echoes back, round after round.
func runEcho(b *testing.B, kind string, port, depth int) {
	rounds := b.N/(echoConns*depth) + 1
	cmd := exec.Command(os.Args[0], "-test.run=^TestEchoLoad$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("ECHO_LOAD=%s %d %d %d", kind, port, depth, rounds))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	rd := bufio.NewReader(stdout)
	if line, err := rd.ReadString('\n'); err != nil || line != "ready\n" {
		b.Fatalf("load: %q %v", line, err)
	}
	var ms0, ms1 runtime.MemStats
	var ru0, ru1 syscall.Rusage
	runtime.ReadMemStats(&ms0)
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	cs0 := ctxSwitches()
	b.ResetTimer()
	_, _ = io.WriteString(stdin, "go\n")
	out, _ := io.ReadAll(rd)
	if err := cmd.Wait(); err != nil {
		b.Fatalf("load: %v\n%s", err, out)
	}
	b.StopTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cs1 := ctxSwitches()
	runtime.ReadMemStats(&ms1)
	msgs := float64(rounds * echoConns * depth)
	cpu := func(r syscall.Rusage) float64 {
		return float64(r.Utime.Nano() + r.Stime.Nano())
	}
	load := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/msgs, "ns/msg")
	b.ReportMetric((cpu(ru1)-cpu(ru0))/msgs, "cpu-ns/msg")
	b.ReportMetric(float64(load.Nanoseconds())/msgs, "load-ns/msg")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/msgs, "allocs/msg")
	if cs0 >= 0 && cs1 >= 0 {
		b.ReportMetric(float64(cs1-cs0)/msgs, "ctxsw/msg")
	}
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/msgs, "B/msg")
}

// ctxSwitches sums this process's threads' context switches (Linux; -1
// elsewhere). Threads that ended meanwhile are not counted.
func ctxSwitches() int64 {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return -1
	}
	var n int64
	for _, t := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + t.Name() + "/status")
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.HasSuffix(k, "ctxt_switches") {
				x, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				n += x
			}
		}
	}
	return n
}

// TestEchoLoad is the load of the echo benchmarks, in the child process
// they start (ECHO_LOAD="kind port depth rounds"): it connects, warms up
// with one round, says "ready", waits for "go", runs the rounds, exits.
func TestEchoLoad(t *testing.T) {
	spec := os.Getenv("ECHO_LOAD")
	if spec == "" {
		t.Skip("the echo benchmarks' load process")
	}
	f := strings.Fields(spec)
	port, _ := strconv.Atoi(f[1])
	depth, _ := strconv.Atoi(f[2])
	rounds, _ := strconv.Atoi(f[3])
	payload := bytes.Repeat([]byte("x"), echoSize)
	batch, reply := bytes.Repeat(payload, depth), echoSize*depth
	if f[0] == "ws" {
		batch = bytes.Repeat(wsframe.MaskedFrame(0x81, payload, [4]byte{1, 2, 3, 4}), depth)
		reply = wsframe.EncodedLen(echoSize) * depth
	}
	var cs []net.Conn
	for range echoConns {
		var c net.Conn
		var err error
		if f[0] == "ws" {
			c, err = wsDialRaw(port)
		} else {
			c, err = net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		}
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Minute))
		cs = append(cs, c)
	}
	round := func(c net.Conn, buf []byte) {
		if _, err := c.Write(batch); err != nil {
			t.Error(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Error(err)
		}
	}
	buf := make([]byte, reply)
	for _, c := range cs {
		round(c, buf)
	}
	fmt.Println("ready")
	if line, _ := bufio.NewReader(os.Stdin).ReadString('\n'); line != "go\n" {
		t.Fatalf("got %q, want go", line)
	}
	done := make(chan struct{})
	for _, c := range cs {
		go func() {
			defer func() { done <- struct{}{} }()
			buf := make([]byte, reply)
			for range rounds {
				round(c, buf)
			}
		}()
	}
	for range cs {
		<-done
	}
}

// gnetEcho is the bare gnet echo (tests/bench/gnetecho) in this process.
func gnetEcho(b *testing.B) int {
	port := freePortB(b)
	e := &gnetEchoServer{booted: make(chan struct{})}
	go func() {
		_ = gnet.Run(e, "tcp://127.0.0.1:"+strconv.Itoa(port), gnet.WithMulticore(true),
			gnet.WithReuseAddr(true), gnet.WithTCPNoDelay(gnet.TCPNoDelay))
	}()
	<-e.booted
	b.Cleanup(func() { _ = e.eng.Stop(context.Background()) })
	return port
}

type gnetEchoServer struct {
	gnet.BuiltinEventEngine
	eng    gnet.Engine
	booted chan struct{}
}

func (e *gnetEchoServer) OnBoot(eng gnet.Engine) gnet.Action {
	e.eng = eng
	close(e.booted)
	return gnet.None
}

func (*gnetEchoServer) OnTraffic(c gnet.Conn) gnet.Action {
	buf, _ := c.Next(-1)
	if len(buf) > 0 {
		_, _ = c.Write(buf)
	}
	return gnet.None
}

// gorillaEcho is the gorilla/websocket echo (tests/bench/goref -mode ws)
// in this process.
func gorillaEcho(b *testing.B) int {
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			mt, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(mt, msg); err != nil {
				return
			}
		}
	})}
	go func() { _ = srv.Serve(l) }()
	b.Cleanup(func() { _ = srv.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

func freePortB(b *testing.B) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// wsDialRaw opens a WebSocket connection and returns the socket after the
// 101, for frames written and read by hand.
func wsDialRaw(port int) (net.Conn, error) {
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(waitLimit))
	req := "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
	if _, err := c.Write([]byte(req)); err != nil {
		c.Close()
		return nil, err
	}
	// Read the 101 byte by byte: nothing of a frame may stay in a reader.
	rd := bufio.NewReaderSize(oneByte{c}, 16)
	resp, err := http.ReadResponse(rd, nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		c.Close()
		return nil, fmt.Errorf("upgrade: HTTP %d", resp.StatusCode)
	}
	return c, nil
}

// oneByte reads one byte at a time.
type oneByte struct{ r io.Reader }

func (o oneByte) Read(p []byte) (int, error) { return o.r.Read(p[:min(len(p), 1)]) }
