package gcfloor

import (
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

var gcFloorSink [][]byte

// impliedGoal is the heap goal GOGC=p gives now.
func impliedGoal(p int) uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/globals:bytes"}, {Name: "/gc/scan/stack:bytes"}}
	metrics.Read(s)
	live := s[0].Value.Uint64()
	return live + (live+s[1].Value.Uint64()+s[2].Value.Uint64())*uint64(p)/100
}

// gcPercent reads GOGC without changing it.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// TestGCFloor checks that a host's floor raises GOGC while the process
// allocates, gives the user's GOGC back after a quiet second, and restores
// it when the host stops.
func TestGCFloor(t *testing.T) {
	base := debug.SetGCPercent(80)
	defer debug.SetGCPercent(base)
	h := new(int)
	Start(h, 256<<20)
	stopped := false
	defer func() {
		if !stopped {
			Stop(h)
		}
	}()

	// Busy: allocate steadily until a collection has re-armed the floor
	// with the live heap far below 256 MiB.
	deadline := time.Now().Add(20 * time.Second)
	for gcPercent() <= 80 {
		if time.Now().After(deadline) {
			t.Fatalf("GOGC stayed %d while allocating", gcPercent())
		}
		for range 1000 {
			gcFloorSink = append(gcFloorSink[:0], make([]byte, 64<<10))
		}
		time.Sleep(time.Millisecond)
	}
	busy := gcPercent()

	// Quiet: the reducer gives GOGC back within a few periods.
	gcFloorSink = nil
	deadline = time.Now().Add(20 * gcReducerPeriod)
	for gcPercent() != 80 {
		if time.Now().After(deadline) {
			t.Fatalf("GOGC stayed %d (busy: %d) after the allocation stopped", gcPercent(), busy)
		}
		time.Sleep(20 * time.Millisecond)
	}

	Stop(h)
	stopped = true
	if p := gcPercent(); p != 80 {
		t.Fatalf("GOGC after stop = %d, want 80", p)
	}
	if gcFloor.quit != nil {
		t.Fatalf("the reducer still runs after the last floor stopped")
	}
}

// forcedCycles is how many collections were forced (FreeOSMemory).
func forcedCycles() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/forced:gc-cycles"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// waitForced waits until a collection is forced after the count was n.
func waitForced(t *testing.T, n uint64, what string) {
	t.Helper()
	deadline := time.Now().Add(40 * gcReducerPeriod)
	for forcedCycles() <= n {
		if time.Now().After(deadline) {
			t.Fatalf("%s: no collection was forced within %v", what, 40*gcReducerPeriod)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestGCReducerAfterSmallBurst checks that a burst of allocation too small
// to bring the floor back (a 32nd of it, in less than a reducer period) is
// collected and its memory returned once the process is quiet again: no
// allocation would start a collection then.
func TestGCReducerAfterSmallBurst(t *testing.T) {
	h := new(int)
	n0 := forcedCycles()
	Start(h, 256<<20)
	defer Stop(h)
	// The floor starts busy: its first quiet second ends with a reduction.
	waitForced(t, n0, "the first quiet second")
	time.Sleep(2 * gcReducerPeriod)
	n := forcedCycles()
	for range 128 { // 8 MiB: under the 16 MiB a period that makes the floor busy
		gcFloorSink = append(gcFloorSink[:0], make([]byte, 64<<10))
	}
	gcFloorSink = nil
	waitForced(t, n, "after an 8 MiB burst")
}

// TestGCFloorOff checks that GOGC=off is left alone.
func TestGCFloorOff(t *testing.T) {
	base := debug.SetGCPercent(-1)
	defer debug.SetGCPercent(base)
	h := new(int)
	Start(h, 256<<20)
	if p := gcPercent(); p != -1 {
		t.Errorf("GOGC = %d with the floor on, want -1 (off)", p)
	}
	Stop(h)
	if p := gcPercent(); p != -1 {
		t.Errorf("GOGC = %d after stop, want -1 (off)", p)
	}
}

// TestGCRateGoal checks the goal the allocation rate asks for: enough for
// gcMaxCycles cycles a second, capped at gcRateCap floors.
func TestGCRateGoal(t *testing.T) {
	const floor = 64 << 20
	per := uint64(time.Second / gcReducerPeriod)
	for _, c := range []struct {
		allocated, want uint64
	}{
		{0, 0},
		{1 << 20, per << 20 / gcMaxCycles},
		{2 << 30 / per, 2 << 30 / gcMaxCycles}, // 2 GiB/s: 256 MiB
		{64 << 30 / per, gcRateCap * floor},    // 64 GiB/s: capped
	} {
		if got := rateGoal(c.allocated, floor); got != c.want {
			t.Errorf("rateGoal(%d, %d) = %d, want %d", c.allocated, floor, got, c.want)
		}
	}
}

// TestGCFloorFollowsRate checks that a process allocating far more than
// its floor per second gets a goal above the floor, and GOGC with it.
func TestGCFloorFollowsRate(t *testing.T) {
	base := debug.SetGCPercent(100)
	defer debug.SetGCPercent(base)
	h := new(int)
	const floor = 8 << 20
	Start(h, floor)
	defer Stop(h)
	deadline := time.Now().Add(20 * time.Second)
	for {
		gcFloor.mu.Lock()
		rate := gcFloor.rate
		gcFloor.mu.Unlock()
		if goal := impliedGoal(gcPercent()); rate > floor && goal > 2*floor {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rate goal %d, GOGC %d (goal %d) after allocating for 20 s", rate, gcPercent(), impliedGoal(gcPercent()))
		}
		for range 1000 {
			gcFloorSink = append(gcFloorSink[:0], make([]byte, 64<<10))
		}
		time.Sleep(time.Millisecond)
	}
	gcFloorSink = nil
}
