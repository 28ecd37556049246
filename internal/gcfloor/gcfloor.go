// Package gcfloor keeps the Go garbage collector's heap goal at or above a
// floor while a busy process's live heap is small. It changes GOGC for the
// whole process, so only a program that opts in uses it: `imscript run`
// does, an embedder does through host.Config.GCMinHeap.
package gcfloor

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// The GC floor keeps the garbage collector's heap goal at or above a
// minimum while the live heap is small. Go's collector starts a cycle
// each time the heap doubles (GOGC=100), with a goal of at least 4 MiB.
// A script host's live heap is small (a few MiB for the VMs and tables)
// but its scripts allocate a Lua number or a JS object per operation, so
// with the default a busy host runs a cycle every few milliseconds and
// spends a third of its time in write barriers and marking; with two
// workers on two cores the collector's mark worker takes one of their
// cores. Raising GOGC while the live heap is under the floor spaces the
// cycles out; once the live heap passes the floor the user's GOGC applies
// unchanged, so large heaps pay no memory for it.
//
// The floor only holds while the process is busy: four times a second the
// host looks at how much was allocated. A quarter second that allocated a
// sixteenth of the floor (a quarter of it per second) brings the floor
// back; after a quiet second (four quiet samples in a row) the host drops
// it, collects and returns the free memory to the OS, as V8's memory
// reducer does for an idle Node.js, so an idle server keeps only its live
// heap. A smaller burst (10,000 connections accepted, a few megabytes) does
// not bring the floor back, and a process that then goes idle allocates
// nothing that would start a collection: what the burst left after its
// last cycle would stay garbage, resident. So the reducer also collects
// and returns the free memory once the process has been nearly idle for a
// second (four samples that allocated under a 256th of the floor) after
// it allocated a 64th of the floor since the last time it did.
//
// Under heavy allocation the floor also follows the allocation rate: the
// cost of a cycle is nearly fixed while the live heap is small, so the
// collector's share of the CPU grows with the number of cycles a second.
// The reducer raises the goal to what the last quarter second allocated
// in 1/gcMaxCycles of a second, so a busy host runs at most about
// gcMaxCycles cycles a second, up to gcRateCap times the configured floor
// (two workers building a Lua table per call allocate 2 GB/s: a 64 MiB
// floor alone gives 32 cycles a second, the rate-driven goal of 256 MiB
// gives 8, and the two workers then scale 1.75-1.9x instead of 1.55-1.65x).
//
// The floor is process-wide (the collector is): with several owners (hosts)
// in one process the largest running floor applies.

var gcFloor struct {
	mu      sync.Mutex
	floors  map[any]uint64 // running hosts' floors
	floor   uint64         // max of floors; 0 = off
	rate    uint64         // the goal the allocation rate asks for (at most gcRateCap × floor)
	base    int            // GOGC when the first floor started
	percent int            // the GOGC the floor set last
	gen     int            // bumped on each start/stop: old sentinels retire
	busy    bool           // the floor holds (allocation seen within the last quiet second)
	quit    chan struct{}  // stops the reducer
}

// gcReducerPeriod is how often the reducer samples the allocation rate;
// gcQuietSamples quiet samples in a row drop the floor.
const (
	gcReducerPeriod = 250 * time.Millisecond
	gcQuietSamples  = 4
	gcMaxCycles     = 8
	gcRateCap       = 4
)

// rateGoal is the heap goal that keeps a process that allocated allocated
// bytes in one reducer period to gcMaxCycles cycles a second, capped at
// gcRateCap × floor.
func rateGoal(allocated, floor uint64) uint64 {
	perSecond := allocated * uint64(time.Second/gcReducerPeriod)
	return min(perSecond/gcMaxCycles, gcRateCap*floor)
}

// Start applies owner's floor (bytes; 0 = none) until Stop(owner). With
// several owners the largest floor applies. It does nothing when GOGC is
// off.
func Start(owner any, floor uint64) {
	if floor == 0 {
		return
	}
	gcFloor.mu.Lock()
	defer gcFloor.mu.Unlock()
	if len(gcFloor.floors) == 0 {
		gcFloor.base = debug.SetGCPercent(100)
		debug.SetGCPercent(gcFloor.base)
		gcFloor.percent = gcFloor.base
		gcFloor.floors = map[any]uint64{}
		gcFloor.busy = true
		if gcFloor.base >= 0 {
			gcFloor.quit = make(chan struct{})
			go gcReducer(gcFloor.quit)
		}
	}
	if gcFloor.base < 0 {
		gcFloor.floors[owner] = 0
		return
	}
	gcFloor.floors[owner] = floor
	gcFloor.gen++
	setFloorLocked()
	armGCFloor(gcFloor.gen)
}

// gcReducer drops the floor when the process goes quiet and restores it
// when allocation picks up.
func gcReducer(quit chan struct{}) {
	t := time.NewTicker(gcReducerPeriod)
	defer t.Stop()
	sample := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(sample)
	last := sample[0].Value.Uint64()
	quiet, calm := 0, 0
	var since uint64 // allocated since the reducer last collected
	for {
		select {
		case <-quit:
			return
		case <-t.C:
		}
		metrics.Read(sample)
		now := sample[0].Value.Uint64()
		allocated := now - last
		last = now
		since += allocated
		gcFloor.mu.Lock()
		if allocated >= gcFloor.floor/16 {
			quiet = 0
		} else {
			quiet++
		}
		if allocated >= gcFloor.floor/256 {
			calm = 0
		} else {
			calm++
		}
		busy := quiet < gcQuietSamples
		gcFloor.rate = rateGoal(allocated, gcFloor.floor)
		was := gcFloor.busy
		gcFloor.busy = busy
		if busy || was {
			adjustGCLocked() // follow the live heap, or back to the user's GOGC
		}
		// The floor dropped, or a burst too small for it is over.
		reduce := was && !busy || !busy && calm >= gcQuietSamples && since >= gcFloor.floor/64
		gcFloor.mu.Unlock()
		if reduce {
			debug.FreeOSMemory()
			metrics.Read(sample)
			last = sample[0].Value.Uint64()
			since = 0
		}
	}
}

// Stop removes owner's floor; the last one out restores GOGC.
func Stop(owner any) {
	gcFloor.mu.Lock()
	defer gcFloor.mu.Unlock()
	if _, ok := gcFloor.floors[owner]; !ok {
		return
	}
	delete(gcFloor.floors, owner)
	gcFloor.gen++
	if len(gcFloor.floors) == 0 {
		if gcFloor.quit != nil {
			close(gcFloor.quit)
			gcFloor.quit = nil
		}
		if gcFloor.base >= 0 {
			debug.SetGCPercent(gcFloor.base)
		}
		gcFloor.floor, gcFloor.rate = 0, 0
		return
	}
	setFloorLocked()
	armGCFloor(gcFloor.gen)
}

func setFloorLocked() {
	gcFloor.floor = 0
	for _, f := range gcFloor.floors {
		gcFloor.floor = max(gcFloor.floor, f)
	}
	adjustGCLocked()
}

// gcSentinel is garbage whose finalizer runs once per collection cycle
// and re-arms itself, so the floor follows the live heap.
type gcSentinel struct{ gen *int }

func armGCFloor(gen int) {
	g := gen
	s := &gcSentinel{gen: &g}
	runtime.SetFinalizer(s, func(s *gcSentinel) {
		gcFloor.mu.Lock()
		defer gcFloor.mu.Unlock()
		if *s.gen != gcFloor.gen || gcFloor.floor == 0 {
			return // a newer sentinel took over, or the floor stopped
		}
		adjustGCLocked()
		armGCFloor(*s.gen)
	})
}

var gcSamples = []metrics.Sample{
	{Name: "/gc/heap/live:bytes"},
	{Name: "/gc/scan/globals:bytes"},
	{Name: "/gc/scan/stack:bytes"},
}

// adjustGCLocked sets GOGC so that the next goal is max(floor, rate
// goal, the goal the user's GOGC gives). The collector's goal is live +
// (live + globals + stacks) × GOGC/100.
func adjustGCLocked() {
	metrics.Read(gcSamples)
	var v [3]uint64
	for i, s := range gcSamples {
		if s.Value.Kind() == metrics.KindUint64 {
			v[i] = s.Value.Uint64()
		}
	}
	live, roots := v[0], max(1, v[0]+v[1]+v[2])
	p := gcFloor.base
	goal := max(gcFloor.floor, gcFloor.rate)
	if gcFloor.busy && live < goal {
		need := float64(goal-live) * 100 / float64(roots)
		p = max(p, int(math.Min(need, 100_000)))
	}
	if p != gcFloor.percent {
		debug.SetGCPercent(p)
		gcFloor.percent = p
	}
}
