package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imscript/imscript/internal/gcfloor"
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

	workers []*Worker // event workers: connections are pinned to these
	all     []*Worker // event workers, then task workers
	tasks   taskPool
	// watched is every worker the watchdog watches, spawned scripts'
	// included (copy on write: the watchdog reads it without a lock).
	watched   atomic.Pointer[[]*Worker]
	watchedMu sync.Mutex
	conns     connTable
	nextID    atomic.Int64
	im        im

	reloadMu    sync.Mutex
	reloadCount atomic.Int64
	errorCount  atomic.Int64
	maxExecMs   atomic.Int64
	maxWait     atomic.Int64 // max_wait_time, as a time.Duration
	deps        atomic.Pointer[[]string]

	shared sync.Map // Shared: host-wide module state, kept across reloads

	clientEngine clientEngine // imscript.client's TCP connections

	stopping     atomic.Bool
	stopCh       chan struct{}
	stopOnce     sync.Once
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

// Logger is the host's logger.
func (h *Host) Logger() *slog.Logger { return h.log }

// Script is the absolute path of the main script.
func (h *Host) Script() string { return h.cfg.Script }

// Stdout is where scripts print.
func (h *Host) Stdout() io.Writer { return lockedWriter{&h.stdoutMu, h.cfg.Stdout} }

// Stderr is where scripts print errors.
func (h *Host) Stderr() io.Writer { return lockedWriter{&h.stdoutMu, h.cfg.Stderr} }

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

// Run loads the script on the workers, opens its listeners and serves until
// ctx ends or Shutdown is called; then it stops gracefully.
func (h *Host) Run(ctx context.Context) error {
	prog, err := h.lang.Compile(h.cfg.Script)
	if err != nil {
		return err
	}
	att := newAttempt(prog)
	gcfloor.Start(h, h.cfg.GCMinHeap)
	defer gcfloor.Stop(h)
	defer h.stopClientEngine()
	h.watchdogQuit = make(chan struct{})
	go h.watchdog(h.watchdogQuit)
	w0 := newWorker(h, 0, h.lang)
	h.workers = []*Worker{w0}
	h.all = h.workers
	h.watchWorker(w0)
	go w0.loop()
	first, err := w0.load(att)
	if err != nil {
		h.stopWorkers()
		close(h.watchdogQuit)
		return err
	}
	n := h.cfg.Workers
	if n <= 0 && len(first.decls) > 0 {
		n = first.declSettings[first.decls[0]].WorkerNum
	}
	if n <= 0 {
		n = runtime.NumCPU()
	}
	for i := 1; i < n; i++ {
		w := newWorker(h, i, h.lang)
		h.workers = append(h.workers, w)
		h.watchWorker(w)
		go w.loop()
	}
	h.all = append([]*Worker(nil), h.workers...)
	if len(first.decls) > 0 {
		st := first.declSettings[first.decls[0]]
		h.tasks.init(st.TaskMaxQueue)
		for i := 0; i < st.TaskWorkerNum; i++ {
			w := newWorker(h, n+i, h.lang)
			w.task = true
			h.watchWorker(w)
			h.all = append(h.all, w)
			go w.loop()
		}
	}
	insts, err := h.loadOthers(att, first)
	if err != nil {
		h.stopWorkers()
		close(h.watchdogQuit)
		return err
	}
	h.activate(insts)
	opened, err := h.commit(att, insts)
	if err != nil {
		h.stopping.Store(true)
		h.stopServers(context.Background())
		h.stopWorkers()
		close(h.watchdogQuit)
		return err
	}
	h.fireStart(opened)
	var wctx context.Context
	var wcancel context.CancelFunc = func() {}
	if h.cfg.Watch {
		wctx, wcancel = context.WithCancel(ctx)
		go h.watch(wctx)
	}
	h.startOnce.Do(func() { close(h.started) })
	h.log.Info("imscript started", "script", h.cfg.Script, "language", h.lang.Name(), "workers", len(h.workers), "servers", h.describeServers())
	defer wcancel()
	for {
		select {
		case <-ctx.Done():
			return h.stop()
		case <-h.stopCh:
			return h.stop()
		case why := <-h.reloadCh:
			_ = h.reload(why)
		}
	}
}

func (h *Host) describeServers() string {
	var parts []string
	for _, s := range h.Servers() {
		parts = append(parts, s.decl.Type+"://"+s.Addr())
	}
	return strings.Join(parts, " ")
}

// Shutdown asks a running host to stop gracefully (as SIGTERM).
func (h *Host) Shutdown() {
	h.stopOnce.Do(func() { close(h.stopCh) })
}

// Reload asks a running host to reload its script (as SIGHUP). It returns
// at once; the outcome is logged.
func (h *Host) Reload(why string) {
	select {
	case h.reloadCh <- why:
	default: // a reload is already pending
	}
}

// ReloadNow reloads synchronously and returns the error that kept the old
// version, if any.
func (h *Host) ReloadNow(why string) error { return h.reload(why) }

// loadOthers loads the program on the other workers (and task workers) in
// parallel.
func (h *Host) loadOthers(att *attempt, first *Instance) ([]*Instance, error) {
	insts := make([]*Instance, len(h.all))
	insts[0] = first
	errs := make([]error, len(h.all))
	var wg sync.WaitGroup
	for i := 1; i < len(h.all); i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			insts[i], errs[i] = h.all[i].load(att)
		}(i)
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		h.discard(insts)
		return nil, err
	}
	return insts, nil
}

// reload compiles the script again and, if every worker loads it, swaps the
// workers to the new version between two events.
func (h *Host) reload(why string) error {
	h.reloadMu.Lock()
	defer h.reloadMu.Unlock()
	if h.stopping.Load() {
		return errors.New("host is stopping")
	}
	if !isClosed(h.started) || len(h.workers) == 0 {
		return errors.New("host is not running")
	}
	start := time.Now()
	prog, err := h.lang.Compile(h.cfg.Script)
	if err != nil {
		h.errorCount.Add(1)
		h.log.Error("reload failed, keeping the running version", "why", why, "err", err.Error())
		return err
	}
	att := newAttempt(prog)
	insts := make([]*Instance, len(h.all))
	errs := make([]error, len(h.all))
	var wg sync.WaitGroup
	for i, w := range h.all {
		wg.Add(1)
		go func(i int, w *Worker) {
			defer wg.Done()
			insts[i], errs[i] = w.load(att)
		}(i, w)
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		h.discard(insts)
		h.errorCount.Add(1)
		h.log.Error("reload failed, keeping the running version", "why", why, "err", firstError(errs).Error())
		return err
	}
	h.activate(insts)
	h.reloadCount.Add(1)
	opened, err := h.commit(att, insts)
	if err != nil {
		h.errorCount.Add(1)
		h.log.Error("reload: a new server could not listen", "err", err.Error())
	}
	if len(opened) > 0 {
		h.fireStart(opened)
	}
	h.log.Info("reloaded", "why", why, "reload_count", h.reloadCount.Load(), "took", time.Since(start).Round(time.Microsecond).String())
	return nil
}

func firstError(errs []error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// discard closes instances that will not run (their load failed somewhere).
func (h *Host) discard(insts []*Instance) {
	for i, inst := range insts {
		if inst != nil {
			h.all[i].runSync(func() { inst.close() })
		}
	}
}

// commit applies the active version's server declarations (the first
// worker's): settings of kept servers are updated, new servers start
// listening, servers no longer declared close. It runs after activate, so
// every event of a new listener finds the new handlers.
func (h *Host) commit(att *attempt, insts []*Instance) (opened []*Server, err error) {
	first := insts[0]
	h.mu.Lock()
	keep := map[*Server]bool{}
	var errs []error
	var declared []*Server
	for _, s := range first.decls {
		keep[s] = true
		s.setSettings(first.declSettings[s])
		if !s.listening {
			if err := s.listen(); err != nil {
				errs = append(errs, err)
				continue
			}
			opened = append(opened, s)
		}
		declared = append(declared, s)
	}
	if len(first.decls) > 0 {
		h.maxExecMs.Store(int64(first.declSettings[first.decls[0]].MaxExecMs))
		h.maxWait.Store(int64(first.declSettings[first.decls[0]].MaxWaitTime * float64(time.Second)))
	}
	var removed []*Server
	for k, s := range h.servers {
		if !keep[s] {
			removed = append(removed, s)
			delete(h.servers, k)
		}
	}
	for _, s := range declared {
		h.servers[s.key] = s
	}
	h.order = declared
	h.mu.Unlock()
	deps := att.dependencies()
	h.deps.Store(&deps)
	for _, s := range removed {
		h.log.Info("closing server the script no longer declares", "server", s.Addr())
		s.stop(context.Background())
	}
	return opened, errors.Join(errs...)
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// activate switches every worker to its new instance, in order with the
// events already queued.
func (h *Host) activate(insts []*Instance) {
	var wg sync.WaitGroup
	for i, w := range h.all {
		wg.Add(1)
		inst := insts[i]
		w.q.post(event{kind: evFunc, fn: func() {
			defer wg.Done()
			w.swap(inst)
		}})
	}
	wg.Wait()
}

// fireStart runs the start handlers of servers on worker 0.
func (h *Host) fireStart(servers []*Server) {
	w := h.workers[0]
	w.runSync(func() {
		for _, s := range servers {
			w.fire(s, hStart, s.obj)
		}
	})
}

// stop is the graceful shutdown: refuse new connections, run shutdown and
// workerStop handlers, flush output, close.
func (h *Host) stop() error {
	h.reloadMu.Lock()
	defer h.reloadMu.Unlock()
	if h.stopping.Swap(true) {
		return nil
	}
	h.log.Info("stopping")
	if h.watchdogQuit != nil {
		close(h.watchdogQuit)
	}
	servers := h.Servers()
	for _, s := range servers {
		if s.udp != nil {
			_ = s.udp.Close()
		}
	}
	w0 := h.workers[0]
	w0.runSync(func() {
		for _, s := range servers {
			w0.fire(s, hShutdown, s.obj)
		}
	})
	for _, w := range h.all {
		w.runSync(func() { w.swap(nil) })
	}
	// Let queued output reach the sockets.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) && h.pendingOutput() {
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h.stopServers(ctx)
	h.stopWorkers()
	h.log.Info("stopped")
	return nil
}

func (h *Host) pendingOutput() bool {
	pending := false
	h.conns.each(func(c *Conn) {
		c.mu.Lock()
		if len(c.out) > 0 {
			pending = true
		}
		c.mu.Unlock()
	})
	return pending
}

func (h *Host) stopServers(ctx context.Context) {
	h.mu.Lock()
	list := make([]*Server, 0, len(h.servers))
	for _, s := range h.servers {
		list = append(list, s)
	}
	h.mu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i].key < list[j].key })
	var wg sync.WaitGroup
	for _, s := range list {
		wg.Add(1)
		go func(s *Server) {
			defer wg.Done()
			s.stop(ctx)
		}(s)
	}
	wg.Wait()
}

func (h *Host) stopWorkers() {
	for _, w := range h.all {
		w.stop()
	}
}

// newConn registers an accepted connection.
func (h *Host) newConn(s *Server, remote net.Addr) *Conn {
	id := h.nextID.Add(1)
	c := &Conn{
		id:       id,
		srv:      s,
		worker:   h.workers[id%int64(len(h.workers))],
		openedAt: time.Now().Unix(),
		remote:   remote,
	}
	c.lastTime.Store(h.now())
	return c
}

// accept publishes a new connection and queues its connect event.
func (h *Host) accept(c *Conn) {
	h.conns.put(c)
	c.srv.connNum.Add(1)
	c.srv.acceptCount.Add(1)
	c.worker.q.post(event{kind: evConnect, srv: c.srv, conn: c})
}

// closed is called by a transport when a connection is gone.
func (h *Host) closed(c *Conn) {
	c.markClosed()
	c.srv.connNum.Add(-1)
	c.srv.closeCount.Add(1)
	c.worker.q.post(event{kind: evClose, srv: c.srv, conn: c})
}

// Conn finds a live connection by fd.
func (h *Host) Conn(fd int64) *Conn { return h.conns.get(fd) }

// reportError logs a script error and counts it.
func (h *Host) reportError(msg string, inst *Instance, err error, attrs ...any) {
	h.errorCount.Add(1)
	args := append([]any{"worker", inst.worker.id, "err", err.Error()}, attrs...)
	h.log.Error(msg, args...)
}
