package host

import (
	"sync"
	"sync/atomic"
	"time"
)

var timerIDs atomic.Int64

// timer is imscript.tick / imscript.after. It belongs to the instance that
// created it; a reload cancels it.
type timer struct {
	id       int64
	inst     *Instance
	fn       Callback
	args     []Value
	interval time.Duration
	repeat   bool

	mu        sync.Mutex
	rt        *time.Timer
	cancelled atomic.Bool
}

// AddTimer starts a timer on this instance's worker: after d (repeating every
// d when repeat). fn is called with args, or with the timer id when args is
// nil. It returns the timer id.
func (inst *Instance) AddTimer(d time.Duration, repeat bool, fn Callback, args []Value) int64 {
	if d < time.Millisecond && repeat {
		d = time.Millisecond
	}
	t := &timer{id: timerIDs.Add(1), inst: inst, fn: fn, args: args, interval: d, repeat: repeat}
	inst.timers[t.id] = t
	if inst.active {
		t.arm()
	}
	return t.id
}

// ClearTimer cancels a timer of this instance.
func (inst *Instance) ClearTimer(id int64) bool {
	t, ok := inst.timers[id]
	if !ok {
		return false
	}
	t.cancel()
	delete(inst.timers, id)
	return true
}

func (t *timer) arm() {
	t.mu.Lock()
	t.rt = time.AfterFunc(t.interval, t.fire)
	t.mu.Unlock()
}

// fire runs on a runtime timer goroutine: it queues the callback to the
// worker and re-arms a tick.
func (t *timer) fire() {
	if t.cancelled.Load() {
		return
	}
	if t.repeat {
		t.mu.Lock()
		if t.rt != nil {
			t.rt.Reset(t.interval)
		}
		t.mu.Unlock()
	}
	t.inst.worker.q.post(event{kind: evTimer, timer: t})
}

func (t *timer) cancel() {
	t.cancelled.Store(true)
	t.mu.Lock()
	if t.rt != nil {
		t.rt.Stop()
	}
	t.mu.Unlock()
}
