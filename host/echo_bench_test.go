package host_test

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/imscript/imscript/host/internal/wire/wsframe"
	"github.com/imscript/imscript/script/scripttest"
)

// The echo hot paths, driven through real sockets by clients that
// allocate nothing per message, so allocs/msg is the server's: a TCP echo
// (receive → send) and a WebSocket echo (message → push) in both
// languages, with one message in flight per connection (depth 1, as the
// bench's ws section) and pipelined (depth 16, as its tcp section).
//
//	go test ./host -run '^$' -bench 'Echo(TCP|WS)' -benchmem
//
// ns/msg and allocs/msg are per message echoed.

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
	echoConns = 4
	echoSize  = 64
)

func BenchmarkEchoTCP(b *testing.B) {
	for _, lang := range scripttest.Langs {
		for _, depth := range []int{1, 16} {
			b.Run(lang+"/depth"+strconv.Itoa(depth), func(b *testing.B) {
				r := scripttest.Start(b, scripttest.Options{Name: "tcp." + lang, Src: echoScripts["tcp."+lang], Workers: 2})
				// Messages are raw bytes: with depth > 1 the server may
				// read several at once, so the client counts bytes.
				batch := bytes.Repeat([]byte("x"), echoSize*depth)
				runEcho(b, depth, func() (net.Conn, error) {
					return net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(r.Port(0)))
				}, batch, len(batch))
			})
		}
	}
}

func BenchmarkEchoWS(b *testing.B) {
	for _, lang := range scripttest.Langs {
		for _, depth := range []int{1, 16} {
			b.Run(lang+"/depth"+strconv.Itoa(depth), func(b *testing.B) {
				r := scripttest.Start(b, scripttest.Options{Name: "ws." + lang, Src: echoScripts["ws."+lang], Workers: 2})
				payload := bytes.Repeat([]byte("x"), echoSize)
				frame := wsframe.MaskedFrame(0x81, payload, [4]byte{1, 2, 3, 4})
				batch := bytes.Repeat(frame, depth)
				reply := wsframe.EncodedLen(echoSize) * depth
				runEcho(b, depth, func() (net.Conn, error) { return wsDialRaw(r.Port(0)) }, batch, reply)
			})
		}
	}
}

// runEcho runs b.N messages (depth per write) over echoConns connections:
// each writes batch and reads reply bytes back, until its share is done.
func runEcho(b *testing.B, depth int, dial func() (net.Conn, error), batch []byte, reply int) {
	var cs []net.Conn
	for range echoConns {
		c, err := dial()
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		cs = append(cs, c)
	}
	rounds := b.N/(echoConns*depth) + 1
	// Warm up: every connection's first round (buffers, the VM's caches).
	for _, c := range cs {
		buf := make([]byte, reply)
		_ = c.SetDeadline(time.Now().Add(waitLimit))
		if _, err := c.Write(batch); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			b.Fatal(err)
		}
	}
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	b.ResetTimer()
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, reply)
			for range rounds {
				if _, err := c.Write(batch); err != nil {
					b.Error(err)
					return
				}
				if _, err := io.ReadFull(c, buf); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	runtime.ReadMemStats(&ms1)
	msgs := float64(rounds * echoConns * depth)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/msgs, "ns/msg")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/msgs, "allocs/msg")
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/msgs, "B/msg")
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
		return nil, &net.OpError{Op: "upgrade", Err: io.ErrUnexpectedEOF}
	}
	return c, nil
}

// oneByte reads one byte at a time.
type oneByte struct{ r io.Reader }

func (o oneByte) Read(p []byte) (int, error) { return o.r.Read(p[:min(len(p), 1)]) }
