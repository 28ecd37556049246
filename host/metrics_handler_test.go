package host

import (
	"testing"
	"time"
)

// TestHandlerMetricsSampleAndHold: under load (a large batch) one call in
// sampleEvery is timed and the others are counted in the bucket of the last
// timed one, so the count is exact whatever is sampled; while idle every
// call is timed.
func TestHandlerMetricsSampleAndHold(t *testing.T) {
	var m workerMetrics
	epoch := time.Now()
	call := func(d time.Duration) (timed bool) {
		_, timed = m.startCall(hReceive, epoch)
		m.endCall(hReceive, timed, d)
		return timed
	}
	m.sampleAll = false
	if !call(30 * time.Microsecond) {
		t.Fatal("the first call of an event was not timed")
	}
	timed := 0
	for range 10 * sampleEvery {
		if call(3 * time.Millisecond) {
			timed++
		}
	}
	if timed != 10 {
		t.Errorf("busy: %d of %d calls timed, want 10", timed, 10*sampleEvery)
	}
	var tot handlerTotals
	tot.add(&m)
	if n := tot.count(hReceive); n != uint64(1+10*sampleEvery) {
		t.Errorf("count %d, want %d", n, 1+10*sampleEvery)
	}
	// The calls before the first sampled 3 ms one were held in 30 µs's
	// bucket (50 µs), the rest in 3 ms's (5 ms).
	b50, b5ms := 2, 8
	if durationBuckets[b50] != 50e3 || durationBuckets[b5ms] != 5e6 {
		t.Fatal("bucket bounds changed: fix the test")
	}
	if got, want := tot.buckets[hReceive][b50], uint64(sampleEvery); got != want {
		t.Errorf("50 µs bucket %d, want %d", got, want)
	}
	if got, want := tot.buckets[hReceive][b5ms], uint64(1+9*sampleEvery); got != want {
		t.Errorf("5 ms bucket %d, want %d", got, want)
	}
	m.sampleAll = true
	for range 5 {
		if !call(time.Microsecond) {
			t.Fatal("idle: a call was not timed")
		}
	}
	tot = handlerTotals{}
	tot.add(&m)
	if got := tot.buckets[hReceive][0]; got != 5 {
		t.Errorf("idle: first bucket %d, want 5", got)
	}
	if q := quantileMs(&tot.buckets[hReceive], 0.5); q < 2.5 || q > 5 {
		t.Errorf("median %v ms, want within the 5 ms bucket", q)
	}
}

// BenchmarkHandlerMetrics is what counting one handler call costs a busy
// worker (one call in sampleEvery reads the clock twice).
func BenchmarkHandlerMetrics(b *testing.B) {
	var m workerMetrics
	epoch := time.Now()
	for b.Loop() {
		t0, timed := m.startCall(hReceive, epoch)
		var d time.Duration
		if timed {
			d = time.Since(epoch) - t0
		}
		m.endCall(hReceive, timed, d)
	}
}

// BenchmarkHandlerMetricsEveryCall is the same with every call timed (an
// idle worker; the design under load would cost this).
func BenchmarkHandlerMetricsEveryCall(b *testing.B) {
	var m workerMetrics
	m.sampleAll = true
	epoch := time.Now()
	for b.Loop() {
		t0, timed := m.startCall(hReceive, epoch)
		var d time.Duration
		if timed {
			d = time.Since(epoch) - t0
		}
		m.endCall(hReceive, timed, d)
	}
}
