// Command gnetecho is the bench's ceiling: a bare gnet v2 TCP echo with no
// script, configured as the imscript host configures gnet (multicore event
// loops, SO_REUSEADDR, TCP_NODELAY). With -http it is instead the event-loop
// ceiling of the HTTP hello rows: it answers every request (whatever ends
// in an empty line; no body, no parsing beyond that) with a fixed 200
// "hello world" response, on the event loop.
//
//	PORT=9501 gnetecho [-http] [-cpuprofile PREFIX]
//
// With -cpuprofile, SIGUSR1 starts a CPU profile and SIGUSR2 writes it (see
// tests/bench/internal/sigprof); the flags, signals, open-file limit and
// PORT are handled as in goref (see tests/bench/internal/refserver).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"

	"github.com/panjf2000/gnet/v2"

	"github.com/imscript/imscript/tests/bench/internal/refserver"
)

type echo struct{ gnet.BuiltinEventEngine }

// OnTraffic writes back whatever arrived, on the event loop.
func (*echo) OnTraffic(c gnet.Conn) gnet.Action {
	buf, _ := c.Next(-1)
	if len(buf) > 0 {
		_, _ = c.Write(buf)
	}
	return gnet.None
}

// hello answers requests with a fixed response.
type hello struct{ gnet.BuiltinEventEngine }

var helloResponse = []byte("HTTP/1.1 200 OK\r\nServer: gnetecho\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world")

var crlfcrlf = []byte("\r\n\r\n")

// OnTraffic answers every whole request head buffered so far.
func (*hello) OnTraffic(c gnet.Conn) gnet.Action {
	buf, _ := c.Peek(-1)
	used, n := 0, 0
	for {
		i := bytes.Index(buf[used:], crlfcrlf)
		if i < 0 {
			break
		}
		used += i + 4
		n++
	}
	if n == 0 {
		if len(buf) > 16<<10 {
			return gnet.Close
		}
		return gnet.None
	}
	_, _ = c.Discard(used)
	if n == 1 {
		_, _ = c.Write(helloResponse)
	} else {
		_, _ = c.Write(bytes.Repeat(helloResponse, n))
	}
	return gnet.None
}

func main() {
	httpMode := flag.Bool("http", false, "answer HTTP requests with 200 \"hello world\" instead of echoing")
	port := refserver.Start()
	addr := fmt.Sprintf("tcp://127.0.0.1:%s", port)
	var handler gnet.EventHandler = &echo{}
	if *httpMode {
		handler = &hello{}
	}
	err := gnet.Run(handler, addr,
		gnet.WithMulticore(true),
		gnet.WithReuseAddr(true),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
	)
	if err != nil {
		log.Fatalf("gnetecho %s: %v", addr, err)
	}
}
