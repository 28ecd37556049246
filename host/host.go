package host

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imscript/imscript/broker"
	"github.com/imscript/imscript/broker/memory"
	"github.com/imscript/imscript/script"
)

// Config says what a Host runs and how.
type Config struct {
	// Script is the main script file; its extension picks the language.
	Script string
	// Languages are the languages the host can run (see bindings/lua, bindings/js).
	Languages []script.Language
	// Workers overrides the script's worker_num when > 0.
	Workers int
	// Args are the script's arguments (imscript.args).
	Args []string
	// Env is the script's environment (imscript.env); nil means os.Environ.
	Env map[string]string
	// Logger receives the host's logs; nil means slog.Default().
	Logger *slog.Logger
	// Watch reloads the script when it or a file it required changes.
	Watch bool
	// Stdout and Stderr receive the scripts' print / console output.
	Stdout, Stderr io.Writer
	// GCMinHeap, when > 0, keeps the Go garbage collector's heap goal at
	// least this many bytes while the host runs (see internal/gcfloor): scripts
	// allocate per operation, and a small heap would be collected every
	// few milliseconds. Under heavy allocation the goal follows the
	// allocation rate, up to four times GCMinHeap. It changes GOGC
	// process-wide while the live heap is below the goal; 0 leaves the
	// collector alone. `imscript run` sets
	// DefaultGCMinHeap.
	GCMinHeap uint64
	// Broker carries rooms, uids and presence beyond this process (package
	// broker); nil means an in-process memory broker: one node. The host
	// closes it when it stops.
	Broker broker.Broker
	// Node names this host among others sharing a broker; empty means the
	// machine's host name.
	Node string
	// DataDir is the folder the host keeps its data in (`imscript run
	// --data`), given to scripts as imscript.data_dir for their own files
	// (a database beside the history); empty: none (nil in scripts).
	DataDir string
	// MetricsAddr, when set, serves Prometheus metrics at /metrics on
	// this address (`imscript run --metrics`; see docs/metrics.md).
	MetricsAddr string
	// AdminAddr, when set, serves the read-only status page at / and its
	// JSON at /api/stats. A host left out (":8081", "8081") means
	// loopback. AdminToken, when set, is required (Authorization: Bearer,
	// or ?token=).
	AdminAddr  string
	AdminToken string
}

// DefaultGCMinHeap is the GC floor `imscript run` uses.
const DefaultGCMinHeap = 64 << 20

type module struct {
	name  string
	build script.ModuleFunc
}

// Host runs one script on worker VMs, with its servers and timers.
type Host struct {
	cfg  Config
	lang script.Language
	log  *slog.Logger
	env  map[string]string

	modules []module

	mu      sync.Mutex
	servers map[string]*Server // committed servers by key
	order   []*Server          // declaration order of the current version

	workers []*worker // event workers: connections are pinned to these
	all     []*worker // event workers, then task workers
	tasks   taskPool
	// watched is every worker the watchdog watches, spawned scripts'
	// included (copy on write: the watchdog reads it without a lock).
	watched   atomic.Pointer[[]*worker]
	watchedMu sync.Mutex
	conns     connTable
	nextID    atomic.Int64
	hub       hub

	reloadMu    sync.Mutex
	reloadCount atomic.Int64
	errorCount  atomic.Int64
	// Metrics (metrics*.go): epoch is the host's monotonic clock's zero;
	// retired keeps the handler metrics of workers that ended.
	epoch          time.Time
	interrupts     atomic.Int64 // handlers the watchdog interrupted
	reloadFailures atomic.Int64
	lastReloadErr  atomic.Pointer[reloadError]
	retired        retiredMetrics
	deliveries     atomic.Int64 // publications of other nodes fanned out here
	publishes      atomic.Int64 // publications made here (rooms and uids)
	historyAppends atomic.Int64 // publications given a seq (history on)
	obs            *observer    // --metrics / --admin, when on (metrics_http.go)
	maxExecMs      atomic.Int64
	maxWait        atomic.Int64                 // max_wait_time, as a time.Duration
	chans          atomic.Pointer[chanSettings] // history_size, ... (hub_history.go)
	recovered      atomic.Int64                 // publications given by recoveries
	brokerErrors   atomic.Int64                 // broker calls that failed (hub.brokerErr)
	brokerWaiting  atomic.Int64                 // script calls queued for a remote broker (hub_remote.go)
	deps           atomic.Pointer[[]string]

	shared sync.Map // Shared: host-wide module state, kept across reloads

	clientEngine clientEngine // imscript.client's TCP connections

	stopping atomic.Bool
	stopCh   chan struct{}
	// ended is closed when Run's context ends, Shutdown is called or Run
	// returns: a load that waits for a main chunk's top-level await gives
	// up then. Run makes it.
	ended        chan struct{}
	stopOnce     sync.Once
	exitOnce     sync.Once
	exitCode     atomic.Int32 // imscript.exit's code (Exit)
	reloadCh     chan string
	started      chan struct{}
	startOnce    sync.Once
	stdoutMu     sync.Mutex
	watchdogQuit chan struct{}
}

// New prepares a host for cfg.Script. Nothing runs until Run.
func New(cfg Config) (*Host, error) {
	if cfg.Script == "" {
		return nil, errors.New("no script given")
	}
	abs, err := filepath.Abs(cfg.Script)
	if err != nil {
		return nil, fmt.Errorf("script path %s: %w", cfg.Script, err)
	}
	cfg.Script = abs
	ext := strings.ToLower(filepath.Ext(abs))
	var lang script.Language
	for _, l := range cfg.Languages {
		for _, e := range l.Extensions() {
			if e == ext {
				lang = l
			}
		}
	}
	if lang == nil {
		return nil, fmt.Errorf("script %s: no language runs %q files", cfg.Script, ext)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Stdout == nil {
		cfg.Stdout = os.Stdout
	}
	if cfg.Stderr == nil {
		cfg.Stderr = os.Stderr
	}
	env := cfg.Env
	if env == nil {
		env = map[string]string{}
		for _, kv := range os.Environ() {
			if k, v, ok := strings.Cut(kv, "="); ok {
				env[k] = v
			}
		}
	}
	h := &Host{
		cfg:      cfg,
		lang:     lang,
		log:      cfg.Logger,
		env:      env,
		servers:  map[string]*Server{},
		stopCh:   make(chan struct{}),
		reloadCh: make(chan string, 1),
		started:  make(chan struct{}),
		epoch:    time.Now(),
	}
	if cfg.Node == "" {
		if name, err := os.Hostname(); err == nil {
			h.cfg.Node = name
		} else {
			h.cfg.Node = "imscript"
		}
	}
	h.hub.h = h
	h.hub.pres.m = &h.hub
	h.hub.b = cfg.Broker
	if h.hub.b == nil {
		h.hub.b = memory.New(h.cfg.Node)
	}
	if r, ok := h.hub.b.(broker.Remote); ok {
		h.hub.remote = r.Remote()
	}
	h.maxExecMs.Store(defaultMaxExecMs)
	h.maxWait.Store(int64(defaultMaxWaitTime * float64(time.Second)))
	return h, nil
}

// RegisterModule adds a module to every VM: it appears as imscript.<name>
// and as require("<name>"). Call it before Run.
func (h *Host) RegisterModule(name string, build script.ModuleFunc) {
	h.modules = append(h.modules, module{name: name, build: build})
}

// Shared returns the host-wide value stored under key, creating it with
// init on first use. Modules keep state here that every worker (and task
// worker) shares and that survives reloads: tables, atomics.
func (h *Host) Shared(key string, init func() any) any {
	if v, ok := h.shared.Load(key); ok {
		return v
	}
	v, _ := h.shared.LoadOrStore(key, init())
	return v
}

// Script is the absolute path of the main script.
func (h *Host) Script() string { return h.cfg.Script }

// stdout is where scripts print.
func (h *Host) stdout() io.Writer { return lockedWriter{&h.stdoutMu, h.cfg.Stdout} }

// stderr is where scripts print errors.
func (h *Host) stderr() io.Writer { return lockedWriter{&h.stdoutMu, h.cfg.Stderr} }

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Started is closed once the listeners are up and workers run the script.
func (h *Host) Started() <-chan struct{} { return h.started }

// Servers lists the current version's servers in declaration order.
func (h *Host) Servers() []*Server {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*Server(nil), h.order...)
}

// ReloadCount is how many reloads succeeded.
func (h *Host) ReloadCount() int64 { return h.reloadCount.Load() }

func (h *Host) now() int64 { return time.Now().UnixMilli() }

// reportError logs a script error and counts it.
func (h *Host) reportError(msg string, inst *instance, err error, attrs ...any) {
	h.errorCount.Add(1)
	args := append([]any{"worker", inst.worker.id, "err", err.Error()}, attrs...)
	h.log.Error(msg, args...)
}
