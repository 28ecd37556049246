package host

import (
	"fmt"
	"sync"

	"github.com/imscript/imscript/script"
)

// A script's calls that wait for a remote broker (a cluster, an external
// NATS): publish, sendToUid, history, position, presence, and join / bind
// of a channel with history. While NATS is slow or partitioned (a stream's
// leader being elected takes seconds, a lost quorum the broker's timeout)
// they must not hold the worker: its other connections go on. A Lua
// handler suspends for the result; in JS the call returns a Promise of it
// (`await srv.history(room)` gives the list in both modes).

// remoteQueueMax bounds a worker's remote calls in flight: past it a call
// fails at once, saying so, rather than piling up while NATS is away.
const remoteQueueMax = 1024

// offWorker returns what run returns. With a remote broker, where the
// script can take the result later (canWait), run goes to the worker's
// remote queue: the calls of one worker run in the order it made them (a
// handler's publications keep their order, a JS handler's too, though it
// need not wait), on a goroutine of their own, and the handler suspends or
// gets a Promise. Otherwise run runs here. The arguments are read before:
// run must not touch c.
func offWorker(c script.Call, m *hub, what string, run func() script.Results) {
	if !m.remote || !canWait(c) {
		c.Return(run()...) // one node, or Lua's main chunk
		return
	}
	w := instOf(c).worker
	settle := c.Async(c.NArgs())
	waiting := &m.h.brokerWaiting
	job := func() {
		defer waiting.Add(-1)
		defer func() {
			if r := recover(); r != nil {
				m.h.log.Error("hub: "+what+" panicked", "panic", r)
				settle(script.Results{false, fmt.Sprintf("%s: %v", what, r)}, nil)
			}
		}()
		settle(run(), nil)
	}
	waiting.Add(1)
	if !w.remote.push(job) {
		waiting.Add(-1)
		m.h.brokerErrors.Add(1)
		settle(script.Results{false, fmt.Sprintf("%s: %d calls of this worker wait for the cluster already", what, remoteQueueMax)}, nil)
	}
}

// remoteQueue runs a worker's remote calls in order, on a goroutine that
// ends when the queue is empty.
type remoteQueue struct {
	mu      sync.Mutex
	jobs    []func()
	running bool
}

// push queues job; false when remoteQueueMax jobs wait already.
func (q *remoteQueue) push(job func()) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.jobs) >= remoteQueueMax {
		return false
	}
	q.jobs = append(q.jobs, job)
	if !q.running {
		q.running = true
		go q.drain()
	}
	return true
}

func (q *remoteQueue) drain() {
	for {
		q.mu.Lock()
		if len(q.jobs) == 0 {
			q.running = false
			q.jobs = nil
			q.mu.Unlock()
			return
		}
		job := q.jobs[0]
		q.jobs[0] = nil
		q.jobs = q.jobs[1:]
		q.mu.Unlock()
		job()
	}
}

// canWait reports whether c can take its result later: a Lua handler
// suspends, JS gets a Promise (Lua's main chunk cannot).
func canWait(c script.Call) bool {
	return c.Suspends() || instOf(c).worker.promises()
}
