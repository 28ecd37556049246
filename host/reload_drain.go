package host

import (
	"net/http"
	"slices"
	"time"
)

// A reload does not cut off the requests in flight. When a worker switches
// to the new version while the old one still owes answers (an HTTP
// response a handler finishes from a timer, a callback or after an await)
// or has handlers suspended (worker_strand.go),
// the old instance drains, as Swoole's reload_async: it keeps its VM, its
// timers and its callbacks, and answers what it owes, while every new event
// goes to the new version. It is closed once it owes nothing, or after
// max_wait_time; what it still owes then is abandoned (HTTP: 503).

// debt is an answer an instance owes (a protocol's: an HTTP response).
type debt interface {
	// owedBy records the instance that owes it; the debt tells it (paid)
	// once it is answered.
	owedBy(inst *instance)
	// abandon answers it as best it can without the instance, which is
	// going away, and settles it (paid).
	abandon()
}

// owe records that inst's handler took d and owes it.
func (inst *instance) owe(d debt) {
	d.owedBy(inst)
	inst.owed[d] = struct{}{}
}

// paid records that d was answered, or that it no longer can be (its
// connection closed).
func (inst *instance) paid(d debt) {
	delete(inst.owed, d)
	inst.settledOne()
}

// owes counts what the instance still has to finish: answers it owes and
// handlers suspended in it.
func (inst *instance) owes() int { return len(inst.owed) + len(inst.parked) }

// settledOne notes that something the instance owed is done: a draining
// instance that owes nothing more closes.
func (inst *instance) settledOne() {
	if inst.draining && inst.owes() == 0 {
		// Not now: this may run inside the instance's own VM.
		w := inst.worker
		w.Post(func() { w.endDrain(inst, "") })
	}
}

// retire takes old out of service on w: it drains when it owes answers and
// max_wait_time allows, else it closes at once.
func (w *worker) retire(old *instance, wait time.Duration) {
	if old.owes() == 0 || wait <= 0 {
		old.close()
		return
	}
	old.draining = true
	w.draining = append(w.draining, old)
	w.host.log.Info("old version drains its requests in flight", "worker", w.id,
		"requests", len(old.owed), "suspended", len(old.parked), "max_wait_time", wait.Seconds())
	grace := time.AfterFunc(wait, func() { w.Post(func() { w.endDrain(old, "it did not answer within max_wait_time") }) })
	old.AtClose(func() { grace.Stop() })
}

// endDrain closes a draining instance: it owes nothing more, or why says
// why it is closed all the same.
func (w *worker) endDrain(old *instance, why string) {
	if !old.draining {
		return
	}
	old.draining = false
	w.draining = slices.DeleteFunc(w.draining, func(i *instance) bool { return i == old })
	if n := old.owes(); n > 0 {
		w.host.log.Warn("old version closed before it answered its requests in flight: 503", "worker", w.id,
			"requests", len(old.owed), "suspended", len(old.parked), "why", why)
	}
	old.close()
}

func (r *response) owedBy(inst *instance) { r.owner = inst }

// abandon answers a response whose instance is going away without it.
func (r *response) abandon() {
	r.fail(http.StatusServiceUnavailable)
	r.done()
}

// done records that r was finished, or that its connection closed.
func (r *response) done() {
	if inst := r.owner; inst != nil {
		r.owner = nil
		inst.paid(r)
	}
}
