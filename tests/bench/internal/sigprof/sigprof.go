// Package sigprof lets the bench profile a server's measured window: after
// Start, SIGUSR1 starts a CPU profile and SIGUSR2 stops it and writes
// PREFIX-N.pprof (N = 1, 2, ...), and a heap profile PREFIX-N.heap.pprof.
package sigprof

import (
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"syscall"
)

// Profiler takes CPU profiles on SIGUSR1 / SIGUSR2.
type Profiler struct {
	mu     sync.Mutex
	prefix string
	n      int
	f      *os.File
}

// MemProfileRateEnv, when set in the environment (bytes), becomes
// runtime.MemProfileRate, for exact heap profiles. Call Start first thing
// in main for it to see every allocation.
const MemProfileRateEnv = "BENCH_MEMPROFILERATE"

// Start installs the signal handlers. An empty prefix does nothing.
func Start(prefix string) *Profiler {
	p := &Profiler{prefix: prefix}
	if prefix == "" {
		return p
	}
	if n, err := strconv.Atoi(os.Getenv(MemProfileRateEnv)); err == nil && n > 0 {
		runtime.MemProfileRate = n
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGUSR2)
	go func() {
		for s := range sigs {
			if s == syscall.SIGUSR1 {
				p.start()
			} else {
				p.Stop()
			}
		}
	}()
	return p
}

func (p *Profiler) start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.f != nil {
		return
	}
	p.n++
	f, err := os.Create(fmt.Sprintf("%s-%d.pprof", p.prefix, p.n))
	if err != nil {
		fmt.Fprintln(os.Stderr, "sigprof:", err)
		return
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "sigprof:", err)
		_ = f.Close()
		return
	}
	p.f = f
}

// Stop ends a running profile and writes it.
func (p *Profiler) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.f == nil {
		return
	}
	pprof.StopCPUProfile()
	_ = p.f.Close()
	p.f = nil
	// The heap profile is as of the last GC: one now makes it what the
	// process holds at this moment (the idle connections of a memory row),
	// not what it held whenever a cycle last ended.
	runtime.GC()
	h, err := os.Create(fmt.Sprintf("%s-%d.heap.pprof", p.prefix, p.n))
	if err != nil {
		fmt.Fprintln(os.Stderr, "sigprof:", err)
		return
	}
	if err := pprof.Lookup("heap").WriteTo(h, 0); err != nil {
		fmt.Fprintln(os.Stderr, "sigprof:", err)
	}
	_ = h.Close()
}
