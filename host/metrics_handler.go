package host

import (
	"sync"
	"sync/atomic"
	"time"
)

// Handler metrics, kept per worker so that counting a call costs two plain
// stores on memory no other goroutine writes: no lock, no map, no shared
// cache line. A worker's handlers run one at a time (strands hand the
// worker over through channels), so one writer at a time updates its
// counters; the scrape reads them with atomic loads and sums the workers.
//
// Reading the clock costs 40-90 ns on a loaded VM, more than a pipelined
// TCP echo spends on a message besides the script, so durations are
// measured on a sample: every call while the worker's batch is small (it
// is not busy), else one call in sampleEvery per worker. A call that is
// not measured is counted in the bucket of the last measured call of its
// event on that worker (sample and hold), so a histogram's count is
// exactly the number of calls and its buckets and sum are estimates under
// load, exact when idle.
//
// A host without --metrics and --admin (Host.obs nil) skips all of it.

// Metric slots: the handler slots, then the calls that are not an event's
// handler.
const (
	mTimer    = numHandlers + iota // imscript.tick / after callbacks
	mCallback                      // module callbacks (http results, task callbacks, ...)
	numMetricSlots
)

// slotName names a metric slot for the event label.
func slotName(slot int) string {
	switch slot {
	case mTimer:
		return "timer"
	case mCallback:
		return "callback"
	}
	return handlerNames[slot]
}

// durationBuckets are the histograms' upper bounds, in nanoseconds; a last
// bucket counts what is above the largest.
var durationBuckets = [...]int64{
	10e3, 25e3, 50e3, 100e3, 250e3, 500e3,
	1e6, 2.5e6, 5e6, 10e6, 25e6, 50e6, 100e6, 250e6, 500e6,
	1e9, 2.5e9, 5e9, 10e9,
}

const numBuckets = len(durationBuckets) + 1

// sampleEvery: under load one call in this many is timed.
const sampleEvery = 32

// smallBatch: a worker whose inbox batch has at most this many events times
// every call.
const smallBatch = 2

// histo is one event's durations on one worker.
type histo struct {
	buckets [numBuckets]atomic.Uint64 // not cumulative
	sumNs   atomic.Uint64
	errors  atomic.Uint64
	last    int    // bucket of the last measured call (writer only)
	lastNs  uint64 // its duration
	timed   bool   // some call was measured
}

// workerMetrics are one worker's counters.
type workerMetrics struct {
	h         [numMetricSlots]histo
	tick      uint32 // calls since the last sampled one (writer only)
	sampleAll bool   // the current batch is small: time every call
	suspended atomic.Int64
}

// startCall says whether the call about to run is timed, and when it
// starts (the host's monotonic clock).
func (m *workerMetrics) startCall(slot int, epoch time.Time) (time.Duration, bool) {
	m.tick++
	if m.sampleAll || m.tick >= sampleEvery || !m.h[slot].timed {
		m.tick = 0
		return time.Since(epoch), true
	}
	return 0, false
}

// endCall counts a call of slot: d is its duration when timed.
func (m *workerMetrics) endCall(slot int, timed bool, d time.Duration) {
	h := &m.h[slot]
	if timed {
		ns := uint64(max(d, 0))
		i := 0
		for i < len(durationBuckets) && int64(ns) > durationBuckets[i] {
			i++
		}
		h.last, h.lastNs, h.timed = i, ns, true
	}
	b := &h.buckets[h.last]
	b.Store(b.Load() + 1)
	h.sumNs.Store(h.sumNs.Load() + h.lastNs)
}

// absorb adds o's counts to m (a spawned script's worker that ended; m is
// the host's, written under its lock).
func (m *workerMetrics) absorb(o *workerMetrics) {
	for s := range m.h {
		for b := range m.h[s].buckets {
			m.h[s].buckets[b].Add(o.h[s].buckets[b].Load())
		}
		m.h[s].sumNs.Add(o.h[s].sumNs.Load())
		m.h[s].errors.Add(o.h[s].errors.Load())
	}
}

// handlerTotals is the sum of every worker's handler metrics.
type handlerTotals struct {
	buckets [numMetricSlots][numBuckets]uint64
	sumNs   [numMetricSlots]uint64
	errors  [numMetricSlots]uint64
}

func (t *handlerTotals) add(m *workerMetrics) {
	for s := range m.h {
		for b := range m.h[s].buckets {
			t.buckets[s][b] += m.h[s].buckets[b].Load()
		}
		t.sumNs[s] += m.h[s].sumNs.Load()
		t.errors[s] += m.h[s].errors.Load()
	}
}

// count is how many calls of slot were counted.
func (t *handlerTotals) count(slot int) uint64 {
	var n uint64
	for _, c := range t.buckets[slot] {
		n += c
	}
	return n
}

// retiredMetrics keeps the counts of workers that ended (spawned scripts).
type retiredMetrics struct {
	mu sync.Mutex
	m  workerMetrics
}

// handlerTotals sums the handler metrics of every worker, those that ended
// included.
func (h *Host) handlerTotals() *handlerTotals {
	t := &handlerTotals{}
	h.retired.mu.Lock()
	defer h.retired.mu.Unlock()
	for _, w := range h.watchedWorkers() {
		t.add(&w.m)
	}
	t.add(&h.retired.m)
	return t
}
