package host

import (
	"cmp"
	"container/heap"
	"slices"
	"sync/atomic"
	"time"

	"github.com/imscript/imscript/script"
)

var timerIDs atomic.Int64

// timer is imscript.tick / imscript.after. It belongs to the instance that
// created it; a reload cancels it. Everything but the id is touched only
// on the instance's worker goroutine.
type timer struct {
	id       int64
	inst     *instance
	fn       script.Callback
	args     []script.Value
	interval time.Duration
	repeat   bool

	due       time.Time
	seq       uint64 // ties of due run in seq order: the order they were queued
	index     int    // in the worker's timer heap; -1 when not queued
	cancelled bool
}

// timerQueue is a worker's timers: a heap ordered by due time (ties in the
// order the timers were queued), with one runtime timer for the earliest.
// Swoole and Node run timers in that order; a runtime timer per script
// timer would not, since each fires on a goroutine of its own and those
// reach the worker's queue in any order. All but fire run on the worker.
type timerQueue struct {
	w      *worker
	heap   timerHeap
	seq    uint64
	rt     *time.Timer
	posted atomic.Bool // an evTimer is on its way to the worker
}

type timerHeap []*timer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if !h[i].due.Equal(h[j].due) {
		return h[i].due.Before(h[j].due)
	}
	return h[i].seq < h[j].seq
}
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *timerHeap) Push(x any) {
	t := x.(*timer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	t.index = -1
	return t
}

// add queues t to fall due interval after now.
func (q *timerQueue) add(t *timer, now time.Time) {
	t.due = now.Add(t.interval)
	q.seq++
	t.seq = q.seq
	heap.Push(&q.heap, t)
	if t.index == 0 {
		q.arm(now)
	}
}

// remove takes t out of the queue, if it is in it.
func (q *timerQueue) remove(t *timer) {
	if t.index < 0 {
		return
	}
	first := t.index == 0
	heap.Remove(&q.heap, t.index)
	if first {
		q.arm(time.Now())
	}
}

// arm sets the runtime timer to the earliest due time, or stops it.
func (q *timerQueue) arm(now time.Time) {
	if len(q.heap) == 0 {
		if q.rt != nil {
			q.rt.Stop()
		}
		return
	}
	d := max(q.heap[0].due.Sub(now), 0)
	if q.rt == nil {
		q.rt = time.AfterFunc(d, q.fire)
		return
	}
	q.rt.Reset(d)
}

// fire runs on a runtime timer goroutine: it wakes the worker, once.
func (q *timerQueue) fire() {
	if !q.posted.Swap(true) {
		q.w.q.post(event{u: timerUnit{}})
	}
}

// timerUnit is the worker's wake-up for its due timers.
type timerUnit struct{}

func (timerUnit) run(w *worker, _ *event) { w.timerQueue().run() }

// run calls, on the worker, the first timer due by now; when another one
// is due too, it runs in an event of its own (so that a callback that
// suspends does not hold up the others). A tick is queued again before its
// callback runs (so that the callback can clear it), due an interval after
// now; timers made by the callbacks fall due after now too, so they run on
// a later turn, as in Node.
func (q *timerQueue) run() {
	q.posted.Store(false)
	now := time.Now()
	if len(q.heap) == 0 || q.heap[0].due.After(now) {
		q.arm(now)
		return
	}
	t := heap.Pop(&q.heap).(*timer)
	if t.repeat {
		q.add(t, now)
	}
	if len(q.heap) > 0 && !q.heap[0].due.After(now) {
		q.fire()
	} else {
		q.arm(time.Now())
	}
	q.w.runTimer(t)
}

// stop stops the runtime timer, for good: the worker is going away.
func (q *timerQueue) stop() {
	if q.rt != nil {
		q.rt.Stop()
	}
}

// AddTimer starts a timer on this instance's worker: after d (repeating every
// d when repeat). fn is called with args, or with the timer id when args is
// nil. It returns the timer id.
func (inst *instance) AddTimer(d time.Duration, repeat bool, fn script.Callback, args []script.Value) int64 {
	if d < time.Millisecond && repeat {
		d = time.Millisecond
	}
	t := &timer{id: timerIDs.Add(1), inst: inst, fn: fn, args: args, interval: d, repeat: repeat, index: -1}
	inst.timers[t.id] = t
	if inst.active || inst.booting {
		inst.worker.timerQueue().add(t, time.Now())
	}
	return t.id
}

// ClearTimer cancels a timer of this instance.
func (inst *instance) ClearTimer(id int64) bool {
	t, ok := inst.timers[id]
	if !ok {
		return false
	}
	t.cancelled = true
	inst.worker.timerQueue().remove(t)
	delete(inst.timers, id)
	return true
}

// startTimers queues the timers inst made while it loaded, in the order it
// made them, counting their time from now.
func (inst *instance) startTimers() {
	ts := make([]*timer, 0, len(inst.timers))
	for _, t := range inst.timers {
		if t.index < 0 { // not queued while it booted
			ts = append(ts, t)
		}
	}
	slices.SortFunc(ts, func(a, b *timer) int { return cmp.Compare(a.id, b.id) })
	q, now := inst.worker.timerQueue(), time.Now()
	for _, t := range ts {
		q.add(t, now)
	}
}

// stopTimers cancels every timer of inst.
func (inst *instance) stopTimers() {
	for id, t := range inst.timers {
		t.cancelled = true
		inst.worker.timerQueue().remove(t)
		delete(inst.timers, id)
	}
}

// timerQueue is w's timer queue.
func (w *worker) timerQueue() *timerQueue {
	if w.timers.w == nil {
		w.timers.w = w
	}
	return &w.timers
}

// runTimer calls a timer that fell due, if its instance still runs (or
// drains after a reload).
func (w *worker) runTimer(t *timer) {
	inst := t.inst
	if t.cancelled || inst == nil || inst != w.inst && !inst.draining && !inst.booting {
		return
	}
	if !t.repeat {
		delete(inst.timers, t.id)
	}
	if t.args != nil {
		w.call(inst, t.fn, mTimer, "timer", t.args...)
	} else {
		w.call(inst, t.fn, mTimer, "timer", t.id)
	}
}
