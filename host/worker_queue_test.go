package host

import (
	"sync"
	"testing"
	"time"
)

func TestQueueOrderAndWake(t *testing.T) {
	q := newQueue()
	if got := q.take(nil); len(got) != 0 {
		t.Fatalf("empty queue gave %d events", len(got))
	}
	for i := 0; i < 3; i++ {
		q.post(event{data: []byte{byte(i)}})
	}
	// One wake for the three posts: only the first found the inbox empty.
	select {
	case <-q.wake:
	default:
		t.Fatal("no wake after the first post")
	}
	select {
	case <-q.wake:
		t.Fatal("a second wake for posts to a non-empty inbox")
	default:
	}
	if q.len() != 3 {
		t.Fatalf("len %d, want 3", q.len())
	}
	batch := q.take(nil)
	if len(batch) != 3 || q.len() != 0 {
		t.Fatalf("took %d, %d left", len(batch), q.len())
	}
	for i, ev := range batch {
		if ev.data[0] != byte(i) {
			t.Errorf("event %d is %d: out of order", i, ev.data[0])
		}
	}
	// The slice handed back to take is where the next posts go.
	if got := q.take(batch); len(got) != 0 {
		t.Fatalf("empty queue gave %d events", len(got))
	}
	q.post(event{data: []byte{9}})
	got := q.take(nil)
	if len(got) != 1 || got[0].data[0] != 9 || &got[0] != &batch[0] {
		t.Error("take did not reuse the spare slice")
	}
}

// TestQueueTrimAfterBurst: once a burst is over, an idle queue holds
// neither the slice the burst's posts grew nor the worker's batch after
// trim (take itself drops only a slice past 1024 events that a batch
// uses a quarter of), and works on; a small queue keeps reusing its
// slices.
func TestQueueTrimAfterBurst(t *testing.T) {
	q := newQueue()
	for i := 0; i < 500; i++ {
		q.post(event{})
	}
	batch := q.take(nil)
	q.post(event{}) // the next posts go to a fresh slice meanwhile
	batch = q.take(batch)
	if len(batch) != 1 {
		t.Fatalf("took %d, want 1", len(batch))
	}
	if got := q.take(batch); got != nil {
		t.Fatalf("idle take gave %d events", len(got))
	}
	if cap(q.items)+cap(q.spare) < 500 {
		t.Fatalf("before trim the queue keeps %d+%d slots; want the burst's", cap(q.items), cap(q.spare))
	}
	q.trim()
	if cap(q.items) > trimCap || cap(q.spare) > trimCap {
		t.Fatalf("after trim an idle queue keeps %d+%d slots, want at most %d each", cap(q.items), cap(q.spare), trimCap)
	}
	q.post(event{data: []byte{7}})
	if got := q.take(nil); len(got) != 1 || got[0].data[0] != 7 {
		t.Fatalf("after trim: took %v", got)
	}

	small := q.take(nil) // nil: nothing queued
	for i := 0; i < 3; i++ {
		q.post(event{})
	}
	small = q.take(small)
	q.take(small)
	q.trim()
	q.post(event{data: []byte{8}})
	if got := q.take(nil); len(got) != 1 || &got[0] != &small[0] {
		t.Error("trim dropped a small queue's slice")
	}
}

// TestQueueConcurrentProducers posts from many goroutines while one
// consumer drains, as the reactor loops and timers do with a worker: no
// event is lost and each producer's events stay in order.
func TestQueueConcurrentProducers(t *testing.T) {
	const producers, each = 8, 2000
	q := newQueue()
	var wg sync.WaitGroup
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				q.post(event{data: []byte{byte(p)}, conn: &conn{id: int64(i)}})
			}
		}(p)
	}
	next := make([]int64, producers)
	total := 0
	deadline := time.After(20 * time.Second)
	var batch []event
	for total < producers*each {
		batch = q.take(batch)
		if len(batch) == 0 {
			select {
			case <-q.wake:
			case <-deadline:
				t.Fatalf("only %d of %d events arrived", total, producers*each)
			}
			continue
		}
		for _, ev := range batch {
			p := ev.data[0]
			if ev.conn.id != next[p] {
				t.Fatalf("producer %d: event %d arrived when %d was due", p, ev.conn.id, next[p])
			}
			next[p]++
			total++
		}
	}
	wg.Wait()
	if q.len() != 0 {
		t.Errorf("%d events left over", q.len())
	}
}

func TestWorkerRunsPostsInOrder(t *testing.T) {
	w := newWorker(nil, 0, nil)
	go w.loop()
	var got []int
	for i := 0; i < 100; i++ {
		i := i
		w.Post(func() { got = append(got, i) })
	}
	done := false
	w.runSync(func() { done = true })
	if !done || len(got) != 100 {
		t.Fatalf("runSync returned before the queued work ran: %d of 100", len(got))
	}
	for i, v := range got {
		if v != i {
			t.Fatalf("post %d ran as %d", i, v)
		}
	}
	w.stop()
	// After stop, runSync returns without running fn.
	ran := false
	w.runSync(func() { ran = true })
	if ran {
		t.Error("runSync ran on a stopped worker")
	}
}
