// Command imscript runs network scripts written in Lua or JavaScript on the
// imscript host: `imscript run FILE`, `imscript check FILE`, `imscript version`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/imscript/imscript"
	natsbroker "github.com/imscript/imscript/broker/nats"
)

const usage = `imscript — network scripting host for Lua and JavaScript

usage:
  imscript run [flags] FILE [-- args...]   run a script (.lua, .js, .mjs, .cjs); reloads it when it changes
  imscript check FILE                      compile a script; exit 1 with file:line on error
  imscript types [--out DIR]               write editor types: imscript.d.ts, imscript.lua, .luacheckrc
  imscript new NAME [--lang js] [--template T]   create a project (echo, http, ws, chat): a server, its test, types
  imscript test [flags] [DIR | FILE...]    run the project's tests (*_test.lua, *.test.js) against its server
  imscript version                         print the version

run flags:
`

func main() {
	if os.Getenv("GOMAXPROCS") == "" {
		// gnet's event loops sit in epoll_wait holding a scheduler slot
		// until sysmon takes it back; spare slots let a worker woken by a
		// loop run at once (measured: +3-7% echo throughput on 2 cores).
		runtime.GOMAXPROCS(2 * runtime.NumCPU())
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printUsage(stderr)
		return 2
	}
	switch args[0] {
	case "version", "-v", "--version":
		fmt.Fprintf(stdout, "imscript %s\n", imscript.Version)
		return 0
	case "check":
		return check(args[1:], stdout, stderr)
	case "run":
		return runScript(args[1:], stdout, stderr)
	case "types":
		return types(args[1:], stdout, stderr)
	case "new":
		return newProject(args[1:], stdout, stderr)
	case "test":
		return testCmd(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		return help(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "imscript: unknown command %q\n", args[0])
	printUsage(stderr)
	return 2
}

// help is `imscript help [COMMAND]`: the usage of imscript or of one
// command, on stdout.
func help(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printUsage(stdout)
		return 0
	}
	switch args[0] {
	case "run":
		printRunUsage(stdout)
		return 0
	case "test":
		printTestUsage(stdout)
		return 0
	case "new":
		printNewUsage(stdout)
		return 0
	case "check", "version":
		printUsage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "imscript help: unknown command %q (run 'imscript help')\n", args[0])
	return 2
}

// printUsage prints the commands and the run flags.
func printUsage(w io.Writer) {
	fmt.Fprint(w, usage)
	fs := runFlags(w)
	fs.PrintDefaults()
}

const runUsage = `usage: imscript run [flags] FILE [-- args...]

Run runs FILE (.lua, .js, .mjs or .cjs) on worker VMs until SIGTERM, SIGINT or the
script's imscript.shutdown() / imscript.exit(code); it reloads the script when
the file changes and on SIGHUP. Flags may come before or after FILE;
arguments after -- are the script's (imscript.args). Exit status: 0 after a
graceful stop, the code given to imscript.exit, 1 when the script fails to
load, 2 for a usage error.

flags:
`

// printRunUsage is the usage of `imscript run` (imscript help run,
// imscript run --help).
func printRunUsage(w io.Writer) {
	fmt.Fprint(w, runUsage)
	runFlags(w).PrintDefaults()
}

// parseInterleaved parses flags that come before and after the positional
// arguments (imscript run chat.lua --workers 1), as Go's own tools do, and
// returns the positional arguments.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// checkRunOpts refuses flag values out of range.
func checkRunOpts() error {
	if opts.workers < 0 {
		return fmt.Errorf("--workers %d: want 0 (automatic) or more", opts.workers)
	}
	if opts.natsPort < 0 || opts.natsPort > 65535 {
		return fmt.Errorf("--nats-port %d: want a port from 0 to 65535", opts.natsPort)
	}
	return nil
}

type runOpts struct {
	workers   int
	logLevel  string
	logFormat string
	noWatch   bool
	gcMinHeap uint64 // MiB
	node      string
	dataDir   string

	cluster     string        // --cluster HOST:PORT: this node's route listener
	peers       string        // --peers A,B,C
	natsURLs    string        // --nats URL[,URL]
	natsCreds   string        // --nats-creds FILE
	natsPort    int           // --nats-port: the embedded server's loopback client port
	replicas    int           // --history-replicas
	presenceTTL time.Duration // --presence-ttl

	metricsAddr string // --metrics HOST:PORT
	adminAddr   string // --admin [HOST:]PORT
	adminToken  string // --admin-token (default $IMSCRIPT_ADMIN_TOKEN)
}

var opts runOpts

func runFlags(out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.IntVar(&opts.workers, "workers", 0, "worker VMs (0: the script's worker_num, else the number of CPUs)")
	fs.StringVar(&opts.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&opts.logFormat, "log-format", "text", "log format: text or json")
	fs.BoolVar(&opts.noWatch, "no-watch", false, "do not reload when the script changes (SIGHUP still reloads)")
	fs.StringVar(&opts.node, "node", "", "this node's name (default: the host name)")
	fs.StringVar(&opts.dataDir, "data", "", "keep channel history on disk in `DIR` (an embedded NATS JetStream store); without it history lives in memory")
	fs.StringVar(&opts.cluster, "cluster", "", "run as a node of an embedded NATS cluster, listening for routes on `HOST:PORT` (needs --peers and --data)")
	fs.StringVar(&opts.peers, "peers", "", "the route addresses of every cluster node, this one may be among them: `A,B,C` (give every node the same list)")
	fs.StringVar(&opts.natsURLs, "nats", "", "use an existing NATS deployment with JetStream (nats-server 2.11+) at `URL[,URL]` instead of an embedded server; user:password may be in a URL")
	fs.StringVar(&opts.natsCreds, "nats-creds", "", "NATS credentials `FILE` for --nats (default $IMSCRIPT_NATS_CREDS)")
	fs.IntVar(&opts.natsPort, "nats-port", 0, "the loopback client `PORT` of a cluster node's embedded NATS server (0: a free one)")
	fs.IntVar(&opts.replicas, "history-replicas", 0, "copies of history and presence (0: 3 with three nodes or more, else 1; with --nats, 3 if the NATS cluster can place them)")
	fs.DurationVar(&opts.presenceTTL, "presence-ttl", 30*time.Second, "in a cluster, how long a dead node's users stay present")
	fs.StringVar(&opts.metricsAddr, "metrics", "", "serve Prometheus metrics at http://`HOST:PORT`/metrics (docs/metrics.md)")
	fs.StringVar(&opts.adminAddr, "admin", "", "serve the read-only status page at `[HOST:]PORT` (loopback unless a host is given)")
	fs.StringVar(&opts.adminToken, "admin-token", "", "require this `TOKEN` on the status page (Authorization: Bearer, or ?token=; default $IMSCRIPT_ADMIN_TOKEN)")
	opts.gcMinHeap = imscript.DefaultGCMinHeap >> 20
	fs.Func("gc-min-heap", fmt.Sprintf("MiB: while busy, let the Go heap grow to this before collecting (0: the runtime's GOGC alone; default %d)", imscript.DefaultGCMinHeap>>20), func(v string) error {
		n, err := strconv.ParseUint(strings.TrimSuffix(strings.ToLower(v), "mib"), 10, 32)
		if err != nil {
			return fmt.Errorf("want a number of MiB, like 64")
		}
		opts.gcMinHeap = n
		return nil
	})
	return fs
}

func newLogger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(opts.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", opts.logLevel)
	}
	ho := &slog.HandlerOptions{Level: level}
	switch opts.logFormat {
	case "text":
		return slog.New(newStackText(w, ho)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, ho)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", opts.logFormat)
}

func runScript(args []string, stdout, stderr io.Writer) int {
	fs := runFlags(stderr)
	var scriptArgs []string
	for i, a := range args {
		if a == "--" {
			scriptArgs = args[i+1:]
			args = args[:i]
			break
		}
	}
	shortUsage := func() {
		fmt.Fprint(stderr, "usage: imscript run [flags] FILE [-- args...]\nRun 'imscript help run' for details.\n")
	}
	fs.Usage = func() {} // -h prints the whole usage on stdout; an error, the short one
	// Flags may also follow the file: imscript run echo.lua --workers 2
	files, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		printRunUsage(stdout)
		return 0
	}
	if err != nil {
		shortUsage()
		return 2
	}
	if len(files) != 1 {
		fmt.Fprintf(stderr, "imscript run: want exactly one script file, got %d\n", len(files))
		shortUsage()
		return 2
	}
	if err := checkRunOpts(); err != nil {
		fmt.Fprintln(stderr, "imscript run:", err)
		return 2
	}
	file := files[0]
	logger, err := newLogger(stderr)
	if err != nil {
		fmt.Fprintln(stderr, "imscript run:", err)
		return 2
	}
	slog.SetDefault(logger)
	cfg := imscript.Config{
		Script:    file,
		Workers:   opts.workers,
		Args:      scriptArgs,
		Logger:    logger,
		Watch:     !opts.noWatch,
		Stdout:    stdout,
		Stderr:    stderr,
		GCMinHeap: opts.gcMinHeap << 20,
		Node:      nodeName(opts.node),
	}
	bcfg, mode, err := brokerConfig(cfg.Node, logger)
	if err != nil {
		fmt.Fprintln(stderr, "imscript run:", err)
		return 2
	}
	if mode != "" {
		// The NATS broker: history on disk, or a cluster. The host closes
		// it when it stops; this Close covers a host that never ran.
		b, err := natsbroker.Open(bcfg)
		if err != nil {
			fmt.Fprintf(stderr, "imscript run: %s: %v\n", mode, err)
			return 1
		}
		defer b.Close()
		cfg.Broker = b
	} else {
		logger.Info("one node: history and presence in memory (--data keeps history on disk; --cluster or --nats run several nodes)")
	}
	cfg.DataDir = opts.dataDir
	cfg.MetricsAddr, cfg.AdminAddr, cfg.AdminToken = opts.metricsAddr, opts.adminAddr, opts.adminToken
	if cfg.AdminToken == "" {
		cfg.AdminToken = os.Getenv("IMSCRIPT_ADMIN_TOKEN")
	}
	h, err := imscript.New(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "imscript run:", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		for s := range sigs {
			if s == syscall.SIGHUP {
				h.Reload("SIGHUP")
				continue
			}
			logger.Info("signal received, stopping", "signal", s.String())
			h.Shutdown()
		}
	}()
	if err := h.Run(ctx); err != nil {
		fmt.Fprintln(stderr, "imscript run:", err)
		return 1
	}
	return h.ExitCode()
}

// brokerConfig is the NATS broker's config from the flags; mode names the
// flags that ask for it ("" when none does: the memory broker).
func brokerConfig(node string, logger *slog.Logger) (natsbroker.Config, string, error) {
	cfg := natsbroker.Config{
		Node:            node,
		DataDir:         opts.dataDir,
		Logger:          logger,
		PresenceTTL:     opts.presenceTTL,
		HistoryReplicas: opts.replicas,
		ClientPort:      opts.natsPort,
	}
	if opts.presenceTTL < time.Second {
		return cfg, "", fmt.Errorf("--presence-ttl %s: want 1s or more", opts.presenceTTL)
	}
	if opts.replicas < 0 || opts.replicas > 5 {
		return cfg, "", fmt.Errorf("--history-replicas %d: want 0 to 5", opts.replicas)
	}
	switch {
	case opts.natsURLs != "":
		if opts.cluster != "" || opts.peers != "" {
			return cfg, "", errors.New("--nats and --cluster/--peers exclude each other")
		}
		cfg.URLs = splitList(opts.natsURLs)
		cfg.Credentials = opts.natsCreds
		if cfg.Credentials == "" {
			cfg.Credentials = os.Getenv("IMSCRIPT_NATS_CREDS")
		}
		cfg.DataDir = "" // nothing embedded; --data stays the host's data_dir
		return cfg, "--nats", nil
	case opts.cluster != "" || opts.peers != "":
		if opts.cluster == "" || opts.peers == "" {
			return cfg, "", errors.New("--cluster and --peers go together")
		}
		if opts.dataDir == "" {
			return cfg, "", errors.New("--cluster needs --data DIR (the node's JetStream store)")
		}
		cfg.ClusterAddr = opts.cluster
		cfg.Peers = splitList(opts.peers)
		return cfg, "--cluster", nil
	case opts.natsCreds != "":
		return cfg, "", errors.New("--nats-creds without --nats")
	case opts.dataDir != "":
		return cfg, "--data", nil
	}
	return cfg, "", nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// nodeName is --node, else the host name, else "n1".
func nodeName(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if name, err := os.Hostname(); err == nil && name != "" {
		return name
	}
	return "n1"
}

func check(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "imscript check: want exactly one script file")
		return 2
	}
	file := args[0]
	ext := strings.ToLower(filepath.Ext(file))
	for _, l := range imscript.Languages() {
		for _, e := range l.Extensions() {
			if e != ext {
				continue
			}
			abs, err := filepath.Abs(file)
			if err != nil {
				fmt.Fprintln(stderr, err)
				return 1
			}
			if _, err := l.Compile(abs); err != nil {
				fmt.Fprintln(stderr, err)
				return 1
			}
			fmt.Fprintf(stdout, "%s: ok\n", file)
			return 0
		}
	}
	fmt.Fprintln(stderr, errors.New("imscript check: no language runs "+ext+" files"))
	return 1
}
