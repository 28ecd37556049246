// Command gnetecho is the bench's ceiling: a bare gnet v2 TCP echo with no
// script, configured as the imscript host configures gnet (multicore event
// loops, SO_REUSEADDR, TCP_NODELAY).
//
//	PORT=9501 gnetecho [-cpuprofile PREFIX]
//
// With -cpuprofile, SIGUSR1 starts a CPU profile and SIGUSR2 writes it (see
// tests/bench/internal/sigprof).
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/panjf2000/gnet/v2"

	"github.com/imscript/imscript/tests/bench/internal/sigprof"
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

func main() {
	prefix := flag.String("cpuprofile", "", "on SIGUSR1/SIGUSR2, write CPU profiles PREFIX-N.pprof")
	flag.Parse()
	prof := sigprof.Start(*prefix)
	if *prefix != "" {
		// Finish writing a running profile before going down.
		term := make(chan os.Signal, 1)
		signal.Notify(term, syscall.SIGTERM, syscall.SIGINT)
		go func() {
			<-term
			prof.Stop()
			os.Exit(0)
		}()
	}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err == nil && rl.Cur < rl.Max {
		rl.Cur = rl.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "9501"
	}
	addr := fmt.Sprintf("tcp://127.0.0.1:%s", port)
	err := gnet.Run(&echo{}, addr,
		gnet.WithMulticore(true),
		gnet.WithReuseAddr(true),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
	)
	if err != nil {
		log.Fatalf("gnetecho %s: %v", addr, err)
	}
}
