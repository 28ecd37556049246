package host

import (
	"runtime/debug"
	"testing"
	"time"
)

var gcFloorSink [][]byte

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
	h := &Host{}
	startGCFloor(h, 256<<20)
	stopped := false
	defer func() {
		if !stopped {
			stopGCFloor(h)
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

	stopGCFloor(h)
	stopped = true
	if p := gcPercent(); p != 80 {
		t.Fatalf("GOGC after stop = %d, want 80", p)
	}
	if gcFloor.quit != nil {
		t.Fatalf("the reducer still runs after the last floor stopped")
	}
}

// TestGCFloorOff checks that GOGC=off is left alone.
func TestGCFloorOff(t *testing.T) {
	base := debug.SetGCPercent(-1)
	defer debug.SetGCPercent(base)
	h := &Host{}
	startGCFloor(h, 256<<20)
	if p := gcPercent(); p != -1 {
		t.Errorf("GOGC = %d with the floor on, want -1 (off)", p)
	}
	stopGCFloor(h)
	if p := gcPercent(); p != -1 {
		t.Errorf("GOGC = %d after stop, want -1 (off)", p)
	}
}
