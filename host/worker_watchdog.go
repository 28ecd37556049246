package host

import (
	"fmt"
	"slices"
	"time"
)

// The watchdog: one goroutine per host that interrupts any handler running
// longer than max_exec_ms, on every worker the host has (event workers,
// task workers and spawned scripts' workers alike). A worker's busy
// counter is odd while a handler runs; a worker whose counter has not
// moved for max_exec_ms is running one handler all that time.

// watchdogPeriod is how often the watchdog looks at the workers.
const watchdogPeriod = 20 * time.Millisecond

// watchWorker adds w to the workers the watchdog watches.
func (h *Host) watchWorker(w *worker) {
	h.watchedMu.Lock()
	defer h.watchedMu.Unlock()
	list := append(slices.Clone(h.watchedWorkers()), w)
	h.watched.Store(&list)
}

// unwatchWorker removes w (a spawned script's worker that ended); its
// handler metrics go to the host's retired counts in the same step, so a
// scrape sees them once.
func (h *Host) unwatchWorker(w *worker) {
	h.retired.mu.Lock()
	defer h.retired.mu.Unlock()
	h.retired.m.absorb(&w.m)
	h.watchedMu.Lock()
	defer h.watchedMu.Unlock()
	list := slices.DeleteFunc(slices.Clone(h.watchedWorkers()), func(x *worker) bool { return x == w })
	h.watched.Store(&list)
}

// watchedWorkers is every worker the watchdog watches (read-only).
func (h *Host) watchedWorkers() []*worker {
	if p := h.watched.Load(); p != nil {
		return *p
	}
	return nil
}

// trimEvery is how many watchdog periods pass between two trims of the
// workers' queues (queue.trim): a second.
const trimEvery = int(time.Second / watchdogPeriod)

// watchdog runs until quit is closed. Once a second it also trims the
// workers' queues.
func (h *Host) watchdog(quit chan struct{}) {
	tick := time.NewTicker(watchdogPeriod)
	defer tick.Stop()
	for n := 1; ; n++ {
		select {
		case <-quit:
			return
		case now := <-tick.C:
			limit := time.Duration(h.maxExecMs.Load()) * time.Millisecond
			trim := n%trimEvery == 0
			for _, w := range h.watchedWorkers() {
				w.check(now, limit)
				if trim {
					w.q.trim()
				}
			}
		}
	}
}

// check interrupts w's handler when it has run longer than limit
// (watchdog goroutine only).
func (w *worker) check(now time.Time, limit time.Duration) {
	seq := w.busy.Load()
	if seq%2 == 0 || seq != w.wdSeq {
		w.wdSeq, w.wdSince = seq, now
		return
	}
	if limit <= 0 || now.Sub(w.wdSince) < limit {
		return
	}
	w.imu.Lock()
	if w.busy.Load() == seq && !w.interrupted && w.running != nil {
		w.interrupted = true
		w.running.Interrupt(fmt.Sprintf("handler ran longer than max_exec_ms (%d ms)", limit.Milliseconds()))
	}
	w.imu.Unlock()
}

// interrupt stops the handler w is running, if any (a spawned script
// killed by its parent). Safe from any goroutine.
func (w *worker) interrupt(reason string) {
	w.imu.Lock()
	if w.running != nil {
		w.running.Interrupt(reason)
	}
	w.imu.Unlock()
}
