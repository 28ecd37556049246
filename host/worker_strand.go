package host

import (
	"errors"
	"time"

	"github.com/imscript/imscript/script"
)

// Suspended handlers. A Lua handler that makes an asynchronous call without
// a callback suspends there (Instance.Suspend): its goroutine parks inside
// the call with the handler's frames intact, and another goroutine takes
// over the worker's loop. When the call settles, its resume is an event of
// the worker: the goroutine that runs the loop hands the worker to the
// parked one and waits until that one suspends again or finishes its
// event. So one goroutine at a time runs the worker's VMs, in the order of
// the worker's events, and nothing has to yield across pcall, coroutines or
// require: the whole Go stack of the handler waits.
//
// Each goroutine that runs the worker is a strand. The loop's strand takes
// events from the inbox; a strand that was resumed gives the worker back
// (through back) to the strand that resumed it when it suspends again or
// has finished, and then, having finished, ends.

// strand is one goroutine that runs (or ran) the worker.
type strand struct {
	back chan struct{} // set while a resumer waits for the worker back
	wake chan error    // parked: closed (nil) or sent an error to go on
	inst *instance     // parked in a handler of this instance
	conn *conn         // the connection whose event it handles (ordering)
	res  *response     // the HTTP response its handler owes, if any
	held bool          // it made conn's later events wait
}

// errCannotSuspend is Suspend's error where no handler runs.
var errCannotSuspend = errors.New("only a handler can wait for a result here: pass a callback")

// serve runs the worker's inbox on a new strand until the worker stops
// (true) or, for a strand that was resumed, until the event it was handling
// is done and it has given the worker back (false).
func (w *worker) serve() bool {
	me := &strand{}
	w.cur = me
	var batch []event
	var tasks chan *task
	if w.task {
		tasks = w.host.tasks.ch
	}
	for !w.stopped() {
		batch = w.q.take(batch)
		w.m.sampleAll = len(batch) <= smallBatch
		if len(batch) == 0 {
			// Idle: the queue keeps the spare slice (take), which the
			// watchdog trims after a burst.
			select {
			case <-w.q.wake:
			case t := <-tasks:
				w.rest = nil
				w.runTask(t)
				w.flushOutput()
				if me.back != nil {
					return w.giveBack(me)
				}
			case <-w.quit:
				return true
			}
			continue
		}
		for i := range batch {
			if w.stopped() {
				w.flushOutput()
				return true
			}
			w.rest = batch[i+1:]
			w.handle(&batch[i])
			if me.back != nil {
				// Resumed after it suspended in this event: another
				// strand runs the loop now, and the events after this
				// one went back to the inbox when this one suspended.
				w.flushOutput()
				return w.giveBack(me)
			}
			batch[i] = event{}
			if len(w.unflushed) > 0 {
				// A long run of one connection's events: its first
				// answers go out all the same.
				w.flushDone(i%flushEvery == flushEvery-1)
			}
		}
		w.flushOutput()
	}
	return true
}

// flushEvery is how many events of a batch may answer before the worker
// writes all their answers (flushDone).
const flushEvery = 16

// flushOutput writes what handlers queued for the worker's own
// connections (conn.sendFrom), one write each, on the worker's
// goroutine; what the socket does not take goes the event loop's way.
// The strand that runs the worker calls it before it waits.
func (w *worker) flushOutput() { w.flushDone(true) }

// flushDone is flushOutput after an event: it writes the connections
// with no more events queued (all when all is set); the others keep
// their answers for one write after their last event.
func (w *worker) flushDone(all bool) {
	keep := w.unflushed[:0]
	for _, c := range w.unflushed {
		if !all && c.queued.Load() > 0 {
			keep = append(keep, c)
			continue
		}
		c.flushNow()
	}
	clear(w.unflushed[len(keep):])
	w.unflushed = keep
}

// giveBack ends a resumed strand: the worker returns to its resumer.
func (w *worker) giveBack(me *strand) bool {
	b := me.back
	me.back = nil
	b <- struct{}{}
	return false
}

// suspend parks the running strand until resume: start gets the resume
// function (call it once, from any goroutine). The worker goes on with
// other events meanwhile; work, when set, runs on this goroutine then,
// before it parks (it must not touch the worker's state). It returns the
// error abandon gave, if any.
func (w *worker) suspend(inst *instance, start func(resume func()), work func()) error {
	w.flushOutput() // what the handler sent goes out before it waits
	s := w.cur
	wake := make(chan error, 1)
	s.wake, s.inst = wake, inst
	inst.parked[s] = struct{}{}
	if c := s.conn; c != nil && !s.held && c.srv.settings().Ordered {
		s.held = true
		c.waits++
	}
	vm := inst.vm
	w.leaveHandler(vm)
	start(func() { w.Post(func() { w.resumeStrand(s, nil) }) })
	if b := s.back; b != nil {
		// A resumed strand suspends again: back to its resumer.
		s.back = nil
		b <- struct{}{}
	} else {
		// The loop's strand suspends: the rest of its batch goes back to
		// the inbox and a new strand takes over the loop.
		w.q.prepend(w.rest)
		w.rest = nil
		w.takeOverLoop()
	}
	w.m.suspended.Add(1)
	if work != nil {
		work()
	}
	err := <-wake
	w.m.suspended.Add(-1)
	w.cur = s
	if vm != nil {
		w.enterHandler(vm)
	}
	return err
}

// maxSpares bounds the strands a worker keeps waiting for work, and
// spareIdle is how long one waits before it ends.
const (
	maxSpares = 64
	spareIdle = 10 * time.Second
)

// takeOverLoop gives the worker's loop to a new strand, as its running
// strand suspends: to a spare one when one waits (its stack is grown
// already: a handler's calls run deep, and a fresh goroutine grows its
// stack, copying it, several times in its first event), else to a new
// goroutine.
func (w *worker) takeOverLoop() {
	select {
	case w.spare <- struct{}{}:
	default:
		go w.loop()
	}
}

// spareWait is a strand that is done waiting to take the loop over
// (true), or ending (false): when maxSpares already wait, after
// spareIdle, or when the worker has stopped.
func (w *worker) spareWait() bool {
	if w.spares.Add(1) > maxSpares {
		w.spares.Add(-1)
		return false
	}
	defer w.spares.Add(-1)
	t := time.NewTimer(spareIdle)
	defer t.Stop()
	select {
	case <-w.spare:
		return true
	case <-t.C:
	case <-w.done:
	case <-w.quit:
	}
	return false
}

// resumeStrand hands the worker to parked strand s (an event, on the
// strand that runs the loop) and waits until it gives it back. err, when
// set, is what its call returns instead of its result (abandon).
func (w *worker) resumeStrand(s *strand, err error) {
	if s.wake == nil {
		return // resumed already (abandoned, then settled)
	}
	inst := s.inst
	delete(inst.parked, s)
	me := w.cur
	back := make(chan struct{})
	s.back = back
	wake := s.wake
	s.wake = nil
	wake <- err
	<-back
	w.cur = me
	inst.settledOne()
}

// abandonParked resumes inst's parked strands with an error: the instance
// closes, so what they wait for will not come back to them.
func (inst *instance) abandonParked() {
	for len(inst.parked) > 0 {
		for s := range inst.parked {
			inst.worker.resumeStrand(s, errors.New("the script version was closed while this call waited"))
			break
		}
	}
}

// CanSuspend implements script.Instance: a handler of an active (or
// draining) instance can wait for a result; the main chunk cannot.
func (inst *instance) CanSuspend() bool {
	return inst.worker.cur != nil && !inst.closing && (inst.active || inst.draining)
}

// Suspend implements script.Instance.
func (inst *instance) Suspend(start func(resume func()), work func()) error {
	if !inst.CanSuspend() {
		return errCannotSuspend
	}
	return inst.worker.suspend(inst, start, work)
}

var _ script.Instance = (*instance)(nil)
