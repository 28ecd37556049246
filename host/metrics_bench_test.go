package host_test

import (
	"bytes"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"

	"github.com/imscript/imscript"
	"github.com/imscript/imscript/script/scripttest"
)

// BenchmarkEchoMetrics is a pipelined TCP echo (4 connections, 16
// messages of 64 bytes in flight on each, two workers) with the metrics
// off and on: ns/op is per message. Compare the two lines of one run.
func BenchmarkEchoMetrics(b *testing.B) {
	src := `local srv = imscript.server{ host = "127.0.0.1", port = 0, open_eof_split = true, package_eof = "\n" }
srv:on("receive", function(s, fd, data) s:send(fd, data) end)`
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run(name, func(b *testing.B) {
			r := scripttest.Start(b, scripttest.Options{Name: "echo.lua", Src: src, Workers: 2, Config: func(c *imscript.Config) {
				if on {
					c.MetricsAddr = "127.0.0.1:0"
				}
			}})
			addr := "127.0.0.1:" + strconv.Itoa(r.Port(0))
			const conns, depth = 4, 16
			msg := append(bytes.Repeat([]byte("x"), 63), '\n')
			batch := bytes.Repeat(msg, depth)
			var cs []net.Conn
			for range conns {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				cs = append(cs, c)
			}
			rounds := b.N/(conns*depth) + 1
			b.ResetTimer()
			var wg sync.WaitGroup
			for _, c := range cs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					buf := make([]byte, len(batch))
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
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rounds*conns*depth), "ns/msg")
		})
	}
}
