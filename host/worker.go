package host

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imscript/imscript/script"
)

// Handler slots, in the order of the API's event table.
const (
	hStart = iota
	hShutdown
	hWorkerStart
	hWorkerStop
	hConnect
	hReceive
	hClose
	hPacket
	hRequest
	hHandshake
	hOpen
	hMessage
	hTask
	hFinish
	hPresence
	numHandlers
)

var handlerNames = [numHandlers]string{"start", "shutdown", "workerStart", "workerStop", "connect", "receive", "close", "packet", "request", "handshake", "open", "message", "task", "finish", "presence"}

// worker is one goroutine that owns one script VM (the current instance)
// and runs every callback of that VM, one at a time, in queue order.
type worker struct {
	id   int
	host *Host
	lang script.Language
	q    *queue
	inst *instance
	// scratch is where an HTTP response's head is rendered before it is
	// copied out (response.emitHead): the worker's, reused.
	scratch []byte
	argv    []script.Value // args
	// until, when set, is the worker's stop condition, checked between
	// events: a spawned script's worker ends when the child exits or is
	// killed. Host workers run until stop.
	until func() bool

	// Watchdog state: busy is odd while a handler runs.
	busy        atomic.Uint64
	imu         sync.Mutex
	running     script.VM
	interrupted bool
	wdSeq       uint64 // watchdog goroutine only
	wdSince     time.Time

	// Task workers take tasks from the host's queue when idle.
	task      bool
	curTask   *task
	taskDone  bool
	taskValue script.Value

	timers   timerQueue  // its instance's imscript.tick / after
	draining []*instance // replaced instances still answering requests (reload_drain.go)

	// Strands (worker_strand.go): cur runs now; rest is the loop's batch
	// after the event being handled; released are connections whose
	// waiting events may run (handle).
	cur      *strand
	rest     []event
	released []*conn
	// held is the events waiting for their connection's handlers in
	// flight (c.waits > 0; worker_order.go), by connection.
	held map[*conn][]event
	// answered is the message of an error a handler raised after it had
	// answered its request itself (req:json() on a bad body, 400): a
	// client's mistake, logged at debug, not a script error.
	answered string
	// remote runs its scripts' calls that wait for a remote broker, in
	// order, off the worker (hub_remote.go).
	remote remoteQueue
	// handler names the callback callErr is calling ("receive", "timer"):
	// the bindings name its stack frame after it (instance.HandlerName).
	handler string
	// exit, when set, runs on the worker once its loop has ended (a
	// spawned script's worker tells its parent).
	exit func()

	// unflushed are its connections whose output its handlers queued
	// and the worker writes itself (worker_strand.go, flushOutput).
	unflushed []*conn

	// m are its handler metrics (metrics_handler.go).
	m workerMetrics

	// spare hands the loop to a strand that is done and waits for work
	// (worker_strand.go, takeOverLoop); spares counts those waiting.
	spare  chan struct{}
	spares atomic.Int32

	quit chan struct{}
	done chan struct{}
}

func newWorker(h *Host, id int, lang script.Language) *worker {
	return &worker{id: id, host: h, lang: lang, q: newQueue(), spare: make(chan struct{}), quit: make(chan struct{}), done: make(chan struct{})}
}

// loop runs the worker: it serves the inbox until the worker stops, then
// winds it down. A strand that takes the loop over from a suspended handler
// (worker_strand.go) runs loop too; the strand that was resumed and is done
// leaves it without winding anything down.
func (w *worker) loop() {
	for !w.serve() {
		// A resumed strand that is done: it waits to take the loop over
		// at the next suspension, with the stack it has grown.
		if !w.spareWait() {
			return
		}
	}
	w.flushOutput()
	w.timers.stop()
	if w.exit != nil {
		w.exit()
	}
	close(w.done)
}

// stopped is the worker's stop condition (false for host workers).
func (w *worker) stopped() bool { return w.until != nil && w.until() }

// Post queues fn to run on the worker goroutine.
func (w *worker) Post(fn func()) { w.q.post(event{fn: fn}) }

// runSync runs fn on the worker goroutine and waits for it.
func (w *worker) runSync(fn func()) {
	select {
	case <-w.done:
		return
	default:
	}
	ch := make(chan struct{})
	w.q.post(event{fn: func() {
		defer close(ch)
		fn()
	}})
	select {
	case <-ch:
	case <-w.done:
	}
}

func (w *worker) stop() {
	w.runSync(func() {
		if w.inst != nil {
			w.inst.close()
			w.inst = nil
		}
	})
	select {
	case <-w.quit:
	default:
		close(w.quit)
	}
	<-w.done
}

// load creates a fresh VM on this worker and runs the program's main chunk
// in it (loadHere, on the worker's goroutine). The instance is not active
// until swap. A main chunk that awaits at its top level (a JS module) has
// run when the promise of its end settles: load waits for that, off the
// worker, which serves its other events meanwhile (the booting instance's
// own included).
func (w *worker) load(att *attempt) (inst *instance, err error) {
	ran := false
	w.runSync(func() {
		ran = true
		inst, err = w.loadHere(att, nil)
	})
	if !ran {
		err = fmt.Errorf("worker %d stopped", w.id)
	}
	if err == nil && inst.boot != nil {
		select {
		case err = <-inst.boot:
		case <-w.done:
			err = fmt.Errorf("worker %d stopped", w.id)
		case <-w.quit:
			err = fmt.Errorf("worker %d stopped", w.id)
		case <-w.host.ended:
			err = fmt.Errorf("%s: the host stopped while the script's top level still awaited", filepath.Base(att.prog.Path()))
		}
		if err != nil {
			w.runSync(inst.close)
			inst = nil
		}
	}
	return inst, err
}

// loadHere is load on the worker's goroutine: prep, when set, readies the
// instance before its VM is made. The main chunk runs with the watchdog
// armed; on an error the instance is closed and nil.
func (w *worker) loadHere(att *attempt, prep func(*instance)) (*instance, error) {
	inst := newInstance(w.host, w, att)
	if prep != nil {
		prep(inst)
	}
	vm, err := w.lang.NewVM(inst)
	if err != nil {
		inst.close()
		return nil, fmt.Errorf("worker %d: new vm: %w", w.id, err)
	}
	inst.vm = vm
	w.enterHandler(vm)
	if w.stopped() {
		vm.Interrupt("the worker is stopping")
	}
	var pend script.Pending
	if pr, ok := vm.(script.PendingRunner); ok {
		pend, err = pr.RunPending(att.prog)
	} else {
		err = vm.Run(att.prog)
	}
	intr := w.leaveHandler(vm)
	if err != nil {
		if intr {
			err = fmt.Errorf("%w (interrupted after max_exec_ms)", err)
		}
		inst.close()
		return nil, err
	}
	if pend != nil {
		// Booting: its timers (those made so far too) and posted results
		// run while it awaits.
		inst.booting = true
		inst.startTimers()
		boot := make(chan error, 1)
		inst.boot = boot
		pend.Then(func(_ script.Value, err error) {
			inst.booting = false
			boot <- err
		})
	}
	return inst, nil
}

// swap makes inst the worker's running version (nil: none), firing
// workerStop on the old one and workerStart on the new one.
func (w *worker) swap(inst *instance) {
	if old := w.inst; old != nil {
		for _, s := range old.decls {
			w.fire(s, hWorkerStop, s.obj, int64(w.id))
		}
		var wait time.Duration
		if inst != nil {
			wait = time.Duration(w.host.maxWait.Load())
		}
		w.retire(old, wait)
	}
	w.inst = inst
	if inst == nil {
		// Stopping: the versions still draining stop too.
		for len(w.draining) > 0 {
			w.endDrain(w.draining[0], "the host stops")
		}
		return
	}
	inst.active, inst.booting = true, false
	inst.startTimers()
	for _, s := range inst.decls {
		w.fire(s, hWorkerStart, s.obj, int64(w.id))
	}
	inst.runPending()
}

// args lends the worker's argument list to one handler call (callErr). A
// call made while the list is lent (a handler's Go function firing another
// handler) gets a list of its own. endArgs gives it back.
func (w *worker) args() []script.Value {
	a := w.argv
	w.argv = nil
	return a[:0]
}

func (w *worker) endArgs(a []script.Value) {
	clear(a)
	w.argv = a[:0]
}

// fire calls the current instance's handler of server s, if any.
func (w *worker) fire(s *Server, slot int, args ...script.Value) {
	w.fireOK(s, slot, args...)
}

// fireOK is fire that says whether a handler ran without error (false
// also when there is no handler).
func (w *worker) fireOK(s *Server, slot int, args ...script.Value) (ran, ok bool) {
	ran, _, err := w.fireValue(s, slot, args...)
	return ran, ran && err == nil
}

// handles says whether the current instance has a handler of slot for s:
// an event nobody handles need not build its arguments (connect and close
// of an idle server's connections allocate nothing then).
func (w *worker) handles(s *Server, slot int) bool {
	_, fn := w.handlerOf(s, slot)
	return fn != nil
}

// handlerOf is the current instance and its handler of slot for s (nil when
// it has none).
func (w *worker) handlerOf(s *Server, slot int) (*instance, script.Callback) {
	inst := w.inst
	if inst == nil {
		return nil, nil
	}
	hs := inst.handlers[s]
	if hs == nil {
		return inst, nil
	}
	return inst, hs[slot]
}

// fireValue runs a handler and returns its result.
func (w *worker) fireValue(s *Server, slot int, args ...script.Value) (ran bool, v script.Value, err error) {
	inst, fn := w.handlerOf(s, slot)
	if fn == nil {
		return false, nil, nil
	}
	v, err = w.callHandler(inst, fn, slot, handlerNames[slot], args...)
	return true, v, err
}

// callHandler runs the handler of an event (fireValue, a route): a promise
// it returns is taken over (awaitPromise).
func (w *worker) callHandler(inst *instance, fn script.Callback, slot int, what string, args ...script.Value) (script.Value, error) {
	v, err := w.callErr(inst, fn, slot, what, args...)
	if pend, ok := v.(script.Pending); ok && err == nil {
		w.awaitPromise(inst, pend, slot, what)
	}
	return v, err
}

// handle runs one event of the worker's queue. The events of an ordered
// connection wait while one of its handlers is suspended (Lua) or its
// promise is pending (JS): they run, in order, once it is done.
func (w *worker) handle(ev *event) {
	if ev.fn != nil {
		ev.fn()
	} else if c := ev.conn; c != nil && c.waits > 0 {
		w.hold(c, ev)
		return
	} else {
		w.run(ev)
	}
	w.runReleased()
}

// run handles one unit with the connection it belongs to noted on the
// strand, so that a handler that suspends makes the connection wait.
func (w *worker) run(ev *event) {
	s := w.cur
	prev, prevHeld := s.conn, s.held
	s.conn, s.held = ev.conn, false
	if ev.queued {
		ev.queued = false
		ev.conn.queued.Add(-1)
	}
	ev.u.run(w, ev)
	if s.held {
		w.unwait(s.conn)
	}
	s.conn, s.held = prev, prevHeld
}

func (w *worker) enterHandler(vm script.VM) {
	w.imu.Lock()
	w.busy.Add(1)
	w.running = vm
	w.imu.Unlock()
}

func (w *worker) leaveHandler(vm script.VM) (interrupted bool) {
	w.imu.Lock()
	w.busy.Add(1)
	w.running = nil
	interrupted = w.interrupted
	w.interrupted = false
	w.imu.Unlock()
	if interrupted {
		vm.ClearInterrupt()
	}
	return interrupted
}

// call runs one script callback with the watchdog armed. Script errors are
// logged with their file:line and counted; the worker goes on.
func (w *worker) call(inst *instance, fn script.Callback, slot int, what string, args ...script.Value) script.Value {
	v, _ := w.callErr(inst, fn, slot, what, args...)
	return v
}

// callErr is call that also returns the (already reported) error. slot
// says which metrics count the call (metrics_handler.go).
func (w *worker) callErr(inst *instance, fn script.Callback, slot int, what string, args ...script.Value) (script.Value, error) {
	if inst.vm == nil {
		return nil, errors.New("no vm")
	}
	vm := inst.vm
	w.enterHandler(vm)
	// Handler metrics only with --metrics or --admin (metrics_handler.go).
	observed := w.host.obs != nil
	var t0 time.Duration
	var timed bool
	if observed {
		t0, timed = w.m.startCall(slot, w.host.epoch)
	}
	prevHandler := w.handler
	w.handler = what
	// The VM gets the worker's own list, not args: args then does not
	// escape, so the variadic lists of fire and its callers stay on the
	// stack (one allocation per handler call otherwise, since the list
	// reaches the VM through an interface).
	a := append(w.args(), args...)
	v, err := vm.Call(fn, a...)
	w.endArgs(a)
	w.handler = prevHandler
	if observed {
		var d time.Duration
		if timed {
			d = time.Since(w.host.epoch) - t0
		}
		w.m.endCall(slot, timed, d)
	}
	intr := w.leaveHandler(vm)
	answered := w.answered
	w.answered = ""
	if err != nil {
		if answered != "" && !intr && strings.Contains(err.Error(), answered) {
			w.host.log.Debug("handler stopped: its request was answered 400", "worker", w.id, "handler", what, "err", answered)
			return v, err
		}
		w.m.h[slot].errors.Add(1)
		if intr {
			w.host.interrupts.Add(1)
			w.host.reportError("handler interrupted: it ran longer than max_exec_ms", inst, err,
				"handler", what, "max_exec_ms", w.host.maxExecMs.Load())
		} else {
			w.host.reportError("handler error", inst, err, "handler", what)
		}
	}
	return v, err
}

// promises reports whether the worker's language takes an asynchronous
// call's result as a Promise (JS) rather than by suspending (Lua).
func (w *worker) promises() bool { return w.lang != nil && w.lang.Name() == "js" }
