// Command imsprof runs a script on the imscript host, as `imscript run
// --no-watch` does, and takes CPU profiles on request: SIGUSR1 starts one,
// SIGUSR2 stops it and writes PREFIX-N.pprof (N = 1, 2, ...). The bench
// (`go run ./tests/bench -profile DIR`) uses it to profile exactly the
// measured window of the imscript rows.
//
//	PORT=9501 imsprof -workers 2 -cpuprofile /tmp/prof/lua tests/bench/echo.lua
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/imscript/imscript"
	"github.com/imscript/imscript/host"
	"github.com/imscript/imscript/tests/bench/internal/sigprof"
)

func main() {
	workers := flag.Int("workers", 2, "worker VMs")
	prefix := flag.String("cpuprofile", "imscript", "profile files are PREFIX-N.pprof")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: imsprof [-workers N] [-cpuprofile PREFIX] SCRIPT")
		os.Exit(2)
	}
	p := sigprof.Start(*prefix)
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	h, err := imscript.New(host.Config{Script: flag.Arg(0), Workers: *workers, Logger: logger})
	if err != nil {
		fmt.Fprintln(os.Stderr, "imsprof:", err)
		os.Exit(1)
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sigs
		p.Stop()
		h.Shutdown()
	}()
	err = h.Run(context.Background())
	p.Stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "imsprof:", err)
		os.Exit(1)
	}
}
