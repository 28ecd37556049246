package host

import (
	"net/http"
	"slices"
	"time"
)

// A reload does not cut off the requests in flight. When a worker switches
// to the new version while the old one still owes responses (a handler
// that answers from a timer, a callback or after an await), the old
// instance drains, as Swoole's reload_async: it keeps its VM, its timers
// and its callbacks, and answers what it owes, while every new event goes
// to the new version. It is closed once it owes nothing, or after
// max_wait_time; what it still owes then is answered 503.

// takeResponse records that inst's handler took r and owes it.
func (inst *Instance) takeResponse(r *Response) {
	r.inst = inst
	inst.open[r] = struct{}{}
}

// done records that r was finished, or that its connection closed.
func (r *Response) done() {
	inst := r.inst
	if inst == nil {
		return
	}
	r.inst = nil
	delete(inst.open, r)
	if inst.draining && len(inst.open) == 0 {
		// Not now: this may run inside the instance's own VM.
		w := inst.worker
		w.Post(func() { w.endDrain(inst, "") })
	}
}

// retire takes old out of service on w: it drains when it owes responses
// and max_wait_time allows, else it closes at once.
func (w *Worker) retire(old *Instance, wait time.Duration) {
	if len(old.open) == 0 || wait <= 0 {
		old.close()
		return
	}
	old.draining = true
	w.draining = append(w.draining, old)
	w.host.log.Info("old version drains its requests in flight", "worker", w.id,
		"requests", len(old.open), "max_wait_time", wait.Seconds())
	grace := time.AfterFunc(wait, func() { w.Post(func() { w.endDrain(old, "it did not answer within max_wait_time") }) })
	old.AtClose(func() { grace.Stop() })
}

// endDrain closes a draining instance: it owes nothing more, or why says
// why it is closed all the same.
func (w *Worker) endDrain(old *Instance, why string) {
	if !old.draining {
		return
	}
	old.draining = false
	w.draining = slices.DeleteFunc(w.draining, func(i *Instance) bool { return i == old })
	if n := len(old.open); n > 0 {
		w.host.log.Warn("old version closed before it answered its requests in flight: 503", "worker", w.id, "requests", n, "why", why)
	}
	old.close()
}

// abandon answers a response whose instance is going away without it.
func (r *Response) abandon() {
	r.fail(http.StatusServiceUnavailable)
	r.done()
}

// forgetResponses forgets the responses a closed connection was owed.
func (c *Conn) forgetResponses() {
	if c.hw == nil {
		return
	}
	for _, r := range c.hw.queue {
		r.done()
	}
}
