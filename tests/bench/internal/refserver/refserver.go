// Package refserver is the start-up the bench's reference servers (gnetecho
// and goref) share, so that both are measured under the same conditions:
// the same -cpuprofile flag and signal handling, the same open-file limit
// and the same PORT convention as the imscript rows.
package refserver

import (
	"flag"
	"os"
	"os/signal"
	"syscall"

	"github.com/imscript/imscript/tests/bench/internal/sigprof"
)

// DefaultPort is the port served when PORT is not set.
const DefaultPort = "9501"

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
	port = os.Getenv("PORT")
	if port == "" {
		port = DefaultPort
	}
	return port
}
