// Package refserver is the start-up the bench's reference servers (gnetecho
// and goref) share, so that both are measured under the same conditions:
// the same -cpuprofile flag and signal handling, the same open-file limit
// and the same PORT convention as the imscript rows.
package refserver

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"runtime/metrics"
	"syscall"

	"github.com/imscript/imscript/tests/bench/internal/sigprof"
)

// DefaultPort is the port served when PORT is not set.
const DefaultPort = "9501"

// MetricsEnv names the variable that, set to HOST:PORT, makes the server
// also serve http://HOST:PORT/metrics: go_memstats_mallocs_total, the Go
// runtime's count of heap allocations, as imscript's --metrics exports it.
const MetricsEnv = "BENCH_METRICS"

// Start adds -cpuprofile to the command's own flags and parses them, so
// call it after defining those and before reading them. With -cpuprofile,
// SIGUSR1 and SIGUSR2 take CPU profiles (see sigprof), and SIGTERM or
// SIGINT first finishes writing a running profile and then exits with
// status 0; without it those signals keep their default action, so the
// signal simply ends an unprofiled server. Start also raises the soft
// open-file limit to the hard one, so that a server started by hand (as in
// the command lines the bench prints) holds as many connections as one the
// bench starts with its own raised limit. It returns the port to listen
// on: PORT, or DefaultPort when PORT is unset.
func Start() (port string) {
	prefix := flag.String("cpuprofile", "", "on SIGUSR1/SIGUSR2, write CPU profiles PREFIX-N.pprof")
	flag.Parse()
	prof := sigprof.Start(*prefix)
	if *prefix != "" {
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
	if addr := os.Getenv(MetricsEnv); addr != "" {
		go serveMetrics(addr)
	}
	port = os.Getenv("PORT")
	if port == "" {
		port = DefaultPort
	}
	return port
}

// serveMetrics serves the allocation count on addr, in Prometheus' text
// format. The count is that of client_golang's Go collector:
// /gc/heap/allocs:objects plus /gc/heap/tiny/allocs:objects.
func serveMetrics(addr string) {
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		s := []metrics.Sample{{Name: "/gc/heap/allocs:objects"}, {Name: "/gc/heap/tiny/allocs:objects"}}
		metrics.Read(s)
		var n uint64
		for _, x := range s {
			if x.Value.Kind() == metrics.KindUint64 {
				n += x.Value.Uint64()
			}
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "# TYPE go_memstats_mallocs_total counter\ngo_memstats_mallocs_total %d\n", n)
	})
	log.Printf("%s %s: %v", MetricsEnv, addr, http.ListenAndServe(addr, mux))
}
