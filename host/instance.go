package host

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"slices"

	"github.com/imscript/imscript/script"
)

// handlerSet holds one instance's handlers for one server.
type handlerSet [numHandlers]script.Callback

// instance is one version of the script running in one VM on one worker.
// Everything in it is touched only by its worker's goroutine.
type instance struct {
	host   *Host
	worker *worker
	att    *attempt
	vm     script.VM

	handlers     map[*Server]*handlerSet
	decls        []*Server
	declSettings map[*Server]*settings
	portZeroRank map[string]int

	timers map[int64]*timer
	active bool
	// booting: the main chunk awaits at its top level (a JS module) and
	// has not ended; its timers run and what is posted to it is run, as
	// for an active instance, though it serves nothing yet. boot gets the
	// main chunk's outcome (worker.load waits for it).
	booting bool
	boot    chan error

	// owed are the answers this instance's handlers took and have not
	// given; draining is set while a replaced instance gives them
	// (reload_drain.go).
	owed     map[debt]struct{}
	draining bool
	closing  bool // close has begun: nothing suspends any more

	// parked are the strands suspended in this instance's handlers;
	// promised counts, per connection, the pending promises of its
	// handlers that hold the connection's later events (worker_order.go).
	parked   map[*strand]struct{}
	promised map[*conn]int

	exports script.Map
	parent  *parentLink // the link to the parent, in a spawned script

	pending []func() // Post before the instance became active
	closers []func() // AtClose

	owned  map[uint64]io.Closer // Own
	ownSeq uint64
	ctx    context.Context // Context: cancelled at close
	cancel context.CancelFunc
}

func newInstance(h *Host, w *worker, att *attempt) *instance {
	inst := &instance{
		host:         h,
		worker:       w,
		att:          att,
		handlers:     map[*Server]*handlerSet{},
		declSettings: map[*Server]*settings{},
		portZeroRank: map[string]int{},
		timers:       map[int64]*timer{},
		owed:         map[debt]struct{}{},
		parked:       map[*strand]struct{}{},
		promised:     map[*conn]int{},
	}
	inst.ctx, inst.cancel = context.WithCancel(context.Background())
	return inst
}

// Shared implements script.Instance (Host.Shared).
func (inst *instance) Shared(key string, init func() any) any { return inst.host.Shared(key, init) }

// Logger implements script.Instance.
func (inst *instance) Logger() *slog.Logger { return inst.host.log }

// Stdout implements script.Instance.
func (inst *instance) Stdout() io.Writer { return inst.host.stdout() }

// Stderr implements script.Instance.
func (inst *instance) Stderr() io.Writer { return inst.host.stderr() }

// Context implements script.Instance: it is cancelled when the instance
// closes.
func (inst *instance) Context() context.Context { return inst.ctx }

// Own implements script.Instance: r is closed with the instance unless
// release is called first.
func (inst *instance) Own(r io.Closer) (release func()) {
	if inst.owned == nil {
		inst.owned = map[uint64]io.Closer{}
	}
	inst.ownSeq++
	id := inst.ownSeq
	inst.owned[id] = r
	return func() { delete(inst.owned, id) }
}

// closeOwned closes what the instance owns, in the order it took it.
func (inst *instance) closeOwned() {
	for len(inst.owned) > 0 {
		ids := make([]uint64, 0, len(inst.owned))
		for id := range inst.owned {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			r := inst.owned[id]
			delete(inst.owned, id)
			if r != nil {
				_ = r.Close()
			}
		}
	}
}

// WorkerID is the id of the worker that owns this instance.
func (inst *instance) WorkerID() int { return inst.worker.id }

// ScriptDir is the folder of the main script (relative requires resolve
// against it).
func (inst *instance) ScriptDir() string { return filepath.Dir(inst.att.prog.Path()) }

// Program is the compiled version this instance runs.
func (inst *instance) Program() script.Program { return inst.att.prog }

// AddDependency records a file the script required, so that saving it
// reloads the script.
func (inst *instance) AddDependency(path string) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return
	}
	inst.att.mu.Lock()
	inst.att.deps[abs] = true
	inst.att.mu.Unlock()
}

// Post runs fn on this instance's worker goroutine, after the events
// already queued. It is how Go code running elsewhere (a module's
// goroutine) gets back to the script: fn may call inst.Call. If the
// instance was replaced by a reload meanwhile, fn is not run; if it is
// still loading (a module started work from the script's main chunk), fn
// waits until the instance becomes active.
func (inst *instance) Post(fn func()) {
	inst.worker.Post(func() {
		switch {
		case inst.worker.inst == inst || inst.draining || inst.booting:
			fn()
		case !inst.active && inst.vm != nil:
			inst.pending = append(inst.pending, fn)
		}
	})
}

// runPending runs what was posted while the instance was loading; the
// worker calls it when the instance becomes active.
func (inst *instance) runPending() {
	for len(inst.pending) > 0 && inst.worker.inst == inst {
		fn := inst.pending[0]
		inst.pending = inst.pending[1:]
		fn()
	}
	inst.pending = nil
}

// AtClose registers fn to run on the worker when the instance is closed:
// replaced by a reload, discarded after a failed load, or stopped with the
// host. Modules close what the instance opened (clients, sockets) there.
func (inst *instance) AtClose(fn func()) { inst.closers = append(inst.closers, fn) }

// Call invokes a script function on this instance's worker with the
// watchdog armed; errors are logged and counted, never raised.
func (inst *instance) Call(what string, fn script.Callback, args ...script.Value) script.Value {
	return inst.worker.call(inst, fn, mCallback, what, args...)
}

// CallErr implements script.Instance: Call with the error.
func (inst *instance) CallErr(what string, fn script.Callback, args ...script.Value) (script.Value, error) {
	return inst.worker.callErr(inst, fn, mCallback, what, args...)
}

// HandlerName is what the callback being called on this instance's
// worker is ("receive", "request", "timer"; "" outside a callback). The
// bindings ask for it (an optional method of script.Instance) to name the
// handler's frame in a stack trace: "receive handler (echo.lua:12)".
func (inst *instance) HandlerName() string { return inst.worker.handler }

// Exports is the imscript module as this instance sees it: core functions
// plus every registered module.
func (inst *instance) Exports() script.Map {
	if inst.exports == nil {
		m := coreExports(inst)
		for _, mod := range inst.host.modules {
			m[mod.name] = mod.build(inst)
		}
		inst.exports = m
	}
	return inst.exports
}

// Module returns a registered module (or "imscript" itself) by name, for
// require().
func (inst *instance) Module(name string) (script.Value, bool) {
	if name == "imscript" {
		return inst.Exports(), true
	}
	for _, mod := range inst.host.modules {
		if mod.name == name {
			return inst.Exports()[name], true
		}
	}
	return nil, false
}

// declareServer records a server declaration of this version.
func (inst *instance) declareServer(st *settings) *Server {
	h := inst.host
	rank := 0
	if st.Port == 0 {
		rk := st.Type + "/" + st.Host
		rank = inst.portZeroRank[rk]
		inst.portZeroRank[rk] = rank + 1
	}
	key := serverKey(st, rank)
	h.mu.Lock()
	s := h.servers[key]
	h.mu.Unlock()
	if s == nil {
		a := inst.att
		a.mu.Lock()
		s = a.newServers[key]
		if s == nil {
			s = &Server{host: h, key: key, decl: st, proto: protocols[st.Type]}
			s.obj = &script.Object{Type: serverType, Data: s}
			s.setSettings(st)
			a.newServers[key] = s
		}
		a.mu.Unlock()
	}
	if _, dup := inst.declSettings[s]; dup {
		script.Usagef("imscript.server: %s is declared twice", key)
	}
	inst.decls = append(inst.decls, s)
	inst.declSettings[s] = st
	inst.handlers[s] = &handlerSet{}
	return s
}

// close cancels the instance's timers, answers what it still owes 503 and
// closes its VM.
func (inst *instance) close() {
	inst.closing = true
	// The context first: a parked handler may be doing its call's work
	// itself (Call.Run) and must stop it before it can be resumed.
	inst.cancel()
	inst.abandonParked()
	inst.releasePromised()
	for d := range inst.owed {
		d.abandon()
	}
	inst.stopTimers()
	inst.active, inst.booting = false, false
	inst.pending = nil
	inst.closeOwned()
	for _, fn := range inst.closers {
		fn()
	}
	inst.closers = nil
	if inst.vm != nil {
		inst.vm.Close()
		inst.vm = nil
	}
}

// instOf is the host instance making a call to one of the host's own
// functions.
func instOf(c script.Call) *instance { return c.Instance().(*instance) }
