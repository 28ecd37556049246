package host

import (
	"context"
	"io"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/imscript/imscript/internal/gcfloor"
)

// A host's life: Run starts the workers, loads the script on each, binds
// its listeners, switches the workers to it and serves, reloading when
// asked, until ctx ends or Shutdown; then stop winds it down gracefully.

// Run loads the script on the workers, opens its listeners and serves until
// ctx ends or Shutdown is called; then it stops gracefully.
func (h *Host) Run(ctx context.Context) error {
	prog, err := h.lang.Compile(h.cfg.Script)
	if err != nil {
		return err
	}
	att := newAttempt(prog)
	ended, returned := make(chan struct{}), make(chan struct{})
	h.ended = ended
	defer close(returned)
	go func() {
		select {
		case <-ctx.Done():
		case <-h.stopCh:
		case <-returned:
		}
		close(ended)
	}()
	if err := h.openObserver(); err != nil {
		return err
	}
	defer h.closeObserver()
	if err := h.hub.b.Start(hubEvents{&h.hub}); err != nil {
		return err
	}
	defer h.closeBroker()
	gcfloor.Start(h, h.cfg.GCMinHeap)
	defer gcfloor.Stop(h)
	defer h.stopClientEngine()
	h.watchdogQuit = make(chan struct{})
	go h.watchdog(h.watchdogQuit)
	fail := func(err error) error {
		h.stopWorkers()
		close(h.watchdogQuit)
		return err
	}
	w0 := h.startWorker(0, false)
	h.workers = []*worker{w0}
	h.all = h.workers
	first, err := w0.load(att)
	if err != nil {
		return fail(err)
	}
	n := h.cfg.Workers
	if n <= 0 && len(first.decls) > 0 {
		n = first.declSettings[first.decls[0]].WorkerNum
	}
	if n <= 0 {
		n = runtime.NumCPU()
	}
	for i := 1; i < n; i++ {
		h.workers = append(h.workers, h.startWorker(i, false))
	}
	h.all = append([]*worker(nil), h.workers...)
	if len(first.decls) > 0 {
		st := first.declSettings[first.decls[0]]
		h.tasks.init(st.TaskMaxQueue)
		for i := 0; i < st.TaskWorkerNum; i++ {
			h.all = append(h.all, h.startWorker(n+i, true))
		}
	}
	insts, err := h.loadOthers(att, first)
	if err != nil {
		return fail(err)
	}
	p, err := h.bind(insts[0])
	if err != nil {
		h.discard(insts)
		return fail(err)
	}
	h.activate(insts)
	h.apply(att, insts[0], p)
	h.fireStart(p.opened)
	var wctx context.Context
	var wcancel context.CancelFunc = func() {}
	if h.cfg.Watch {
		wctx, wcancel = context.WithCancel(ctx)
		ready := make(chan struct{})
		go h.watch(wctx, ready)
		<-ready
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

// startWorker starts worker id (a task worker when task is set) and puts
// it under the watchdog.
func (h *Host) startWorker(id int, task bool) *worker {
	w := newWorker(h, id, h.lang)
	w.task = task
	h.watchWorker(w)
	go w.loop()
	return w
}

func (h *Host) describeServers() string {
	var parts []string
	for _, s := range h.Servers() {
		parts = append(parts, s.proto.name+"://"+s.addr())
	}
	return strings.Join(parts, " ")
}

// Shutdown asks a running host to stop gracefully (as SIGTERM).
func (h *Host) Shutdown() {
	h.stopOnce.Do(func() { close(h.stopCh) })
}

// Exit is Shutdown that also sets the host's exit code (ExitCode): a
// script's imscript.exit(code). The first code given is kept.
func (h *Host) Exit(code int) {
	h.exitOnce.Do(func() { h.exitCode.Store(int32(code)) })
	h.Shutdown()
}

// ExitCode is the code a script gave imscript.exit, else 0: once Run has
// returned, the status a command running the host exits with.
func (h *Host) ExitCode() int { return int(h.exitCode.Load()) }

// fireStart runs the start handlers of servers on worker 0.
func (h *Host) fireStart(servers []*Server) {
	w := h.workers[0]
	w.runSync(func() {
		for _, s := range servers {
			w.fire(s, hStart, s.obj)
		}
	})
}

// stop is the graceful shutdown: refuse new connections, say goodbye to
// WebSocket clients, run shutdown and workerStop handlers, answer what is
// owed, flush output, close.
func (h *Host) stop() error {
	h.reloadMu.Lock()
	defer h.reloadMu.Unlock()
	if h.stopping.Swap(true) {
		return nil
	}
	h.log.Info("stopping")
	servers := h.Servers()
	h.goingAway(servers, time.Duration(h.maxWait.Load()))
	w0 := h.workers[0]
	w0.runSync(func() {
		for _, s := range servers {
			w0.fire(s, hShutdown, s.obj)
		}
	})
	for _, w := range h.all {
		w.runSync(func() { w.swap(nil) })
	}
	close(h.watchdogQuit)
	// Let queued output reach the sockets.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) && h.pendingOutput() {
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h.stopServers(ctx)
	h.stopWorkers()
	h.closeShared()
	h.log.Info("stopped")
	return nil
}

// goingAway starts the closing handshake (1001) with every WebSocket client
// and waits, up to wait, for their connections to end: their close events
// run while the script still runs, as when a client leaves by itself.
func (h *Host) goingAway(servers []*Server, wait time.Duration) {
	var closing []*conn
	for _, s := range servers {
		closing = append(closing, s.goingAway()...)
	}
	if len(closing) == 0 {
		return
	}
	h.log.Info("closing websocket connections", "connections", len(closing), "max_wait_time", wait.Seconds())
	deadline := time.Now().Add(wait)
	for _, c := range closing {
		for h.conns.get(c.id) != nil && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
}

func (h *Host) pendingOutput() bool {
	pending := false
	h.conns.each(func(c *conn) {
		c.mu.Lock()
		if c.pendingOut() > 0 {
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

// closeShared closes the host-wide values modules kept (Shared) that are
// io.Closers: database pools, Redis clients. They outlive reloads, not the
// host.
func (h *Host) closeShared() {
	h.shared.Range(func(key, v any) bool {
		if c, ok := v.(io.Closer); ok {
			if err := c.Close(); err != nil {
				h.log.Warn("closing a shared module value", "key", key, "err", err)
			}
		}
		return true
	})
}

// closeBroker leaves the cluster (the memory broker: forgets everything).
func (h *Host) closeBroker() {
	h.hub.pres.flush(5 * time.Second)
	if err := h.hub.b.Close(); err != nil {
		h.log.Warn("closing the broker", "err", err)
	}
}
