package host

import "sync"

// event is one piece of work for a worker: a function to run (Post,
// runSync), or a unit (proto.go) of a server's connection. Events of one
// worker run in the order they were posted.
type event struct {
	fn   func() // when set, the event is this call
	u    unit   // else what happened
	srv  *Server
	conn *conn
	data []byte // the unit's bytes (a TCP package, a datagram)
	// queued says conn.queued counts the event (conn.post) until it runs.
	queued bool
}

// queue is a worker's inbox: any goroutine posts, the worker drains it in
// batches. A post wakes the worker only when the inbox was empty.
type queue struct {
	mu    sync.Mutex
	items []event
	// spare is the worker's batch slice, kept here while the worker is
	// idle (take), so that trim can drop it.
	spare []event
	wake  chan struct{}
}

func newQueue() *queue {
	return &queue{wake: make(chan struct{}, 1)}
}

func (q *queue) post(ev event) {
	q.mu.Lock()
	q.items = append(q.items, ev)
	first := len(q.items) == 1
	q.mu.Unlock()
	if first {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
}

// take swaps out the pending events, handing back the spare slice for
// reuse. With none pending it returns nil and keeps spare itself until
// the next take, so an idle worker holds no slice of its own (trim).
func (q *queue) take(spare []event) []event {
	q.mu.Lock()
	items := q.items
	if len(items) == 0 {
		switch {
		case spare == nil:
		case cap(items) == 0:
			q.items = spare[:0] // where the next posts go
		default:
			q.spare = spare[:0]
		}
		q.mu.Unlock()
		return nil
	}
	if spare == nil {
		spare, q.spare = q.spare, nil
	}
	if cap(spare) > 1024 && len(items) < cap(spare)/4 {
		// A burst (say 10,000 connects) is over: give its memory back.
		spare = nil
	}
	q.items = spare[:0]
	q.mu.Unlock()
	return items
}

// trimCap is the capacity (events) of the slices a queue may keep through
// trim: a few kilobytes.
const trimCap = 64

// trim drops the slices of an empty queue past trimCap: the watchdog
// calls it once a second, so what a burst grew (10,000 connects at once)
// goes back to the runtime, while a busy worker reuses its slices between
// two trims.
func (q *queue) trim() {
	q.mu.Lock()
	if len(q.items) == 0 && cap(q.items) > trimCap {
		q.items = nil
	}
	if cap(q.spare) > trimCap {
		q.spare = nil
	}
	q.mu.Unlock()
}

func (q *queue) len() int {
	q.mu.Lock()
	n := len(q.items)
	q.mu.Unlock()
	return n
}

// prepend puts events back at the front of the inbox, in their order: the
// rest of a batch whose handling strand suspended (worker_strand.go).
func (q *queue) prepend(evs []event) {
	if len(evs) == 0 {
		return
	}
	q.mu.Lock()
	items := make([]event, 0, len(evs)+len(q.items))
	items = append(items, evs...)
	items = append(items, q.items...)
	q.items = items
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}
