package host

import (
	"sync"
	"time"

	"github.com/imscript/imscript/script"
)

// Presence changes reach the broker from one goroutine per hub, in the
// order they happened, so that a join or a bind never waits for the
// network under the hub's lock (in a cluster a change is a write to a
// replicated bucket and a read). The presence event of a change fires
// once the broker has said whether it was the uid's first (or last)
// presence on any node; a broker that fails is logged and the change
// counts as first (last), so a single node still tells its script.

// presenceOp is one change: uid's first connection on this node entered
// room (add) or its last one left.
type presenceOp struct {
	room, key string
	uid       script.Value
	add       bool
}

// presenceQueue holds the changes not yet given to the broker.
type presenceQueue struct {
	mu      sync.Mutex
	ops     []presenceOp
	running bool // a goroutine is giving the queue to the broker
	m       *hub
}

func (q *presenceQueue) push(op presenceOp) {
	q.mu.Lock()
	q.ops = append(q.ops, op)
	start := !q.running
	q.running = true
	q.mu.Unlock()
	if start {
		go q.run()
	}
}

// run gives the queued changes to the broker until there are none.
func (q *presenceQueue) run() {
	m := q.m
	for {
		q.mu.Lock()
		if len(q.ops) == 0 {
			q.running = false
			q.mu.Unlock()
			return
		}
		op := q.ops[0]
		q.ops[0] = presenceOp{}
		q.ops = q.ops[1:]
		q.mu.Unlock()
		ch := roomChannel(op.room)
		var changed bool
		var err error
		if op.add {
			changed, err = m.b.AddPresence(ch, op.key)
			m.brokerErr("add presence", ch, err)
		} else {
			changed, err = m.b.RemovePresence(ch, op.key)
			m.brokerErr("remove presence", ch, err)
		}
		if changed || err != nil {
			m.presenceEvent(op.room, op.uid, op.add)
		}
	}
}

// leaving lists the uids of room whose last connection here left but
// whose removal the broker has not been given yet.
func (q *presenceQueue) leaving(room string) map[string]bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out map[string]bool
	for _, op := range q.ops {
		if op.room != room {
			continue
		}
		if out == nil {
			out = map[string]bool{}
		}
		out[op.key] = !op.add
	}
	return out
}

// flush waits until every queued change has been given to the broker
// (before the broker closes), or for d at most: a broker that does not
// answer must not hold the host's shutdown (its Close ends this node's
// presence anyway).
func (q *presenceQueue) flush(d time.Duration) {
	deadline := time.Now().Add(d)
	for {
		q.mu.Lock()
		running := q.running
		q.mu.Unlock()
		if !running || time.Now().After(deadline) {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}
