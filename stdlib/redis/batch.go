package redis

import (
	"context"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/imscript/imscript/script"
)

// Automatic pipelining (as ioredis does): the calls of every worker that
// are waiting for a connection go out together, in one pipeline per
// connection, instead of one round trip each. At most PoolSize pipelines
// are in flight; a call that comes while they are busy joins the next one.
// A lone call is a pipeline of one, which costs what a plain Do costs.

// maxBatch bounds the commands of one pipeline.
const maxBatch = 512

// queued is one call waiting for its pipeline.
type queued struct {
	ctx      context.Context
	what     string
	args     []any
	timeout  time.Duration
	deadline time.Time // zero: none
	settle   func(script.Value, error)
}

// batcher sends a pool's calls.
type batcher struct {
	client *goredis.Client
	max    int // pipelines in flight at most (the pool size)

	mu      sync.Mutex
	queue   []*queued
	running int
	sent    int // pipelines sent (for tests)
}

func (b *batcher) submit(q *queued) {
	b.mu.Lock()
	b.queue = append(b.queue, q)
	start := b.running < b.max
	if start {
		b.running++
	}
	b.mu.Unlock()
	if start {
		go b.run()
	}
}

// run sends pipelines until the queue is empty.
func (b *batcher) run() {
	for {
		b.mu.Lock()
		n := min(len(b.queue), maxBatch)
		if n == 0 {
			b.running--
			b.mu.Unlock()
			return
		}
		batch := make([]*queued, n)
		copy(batch, b.queue)
		rest := copy(b.queue, b.queue[n:])
		clear(b.queue[rest:])
		b.queue = b.queue[:rest]
		b.sent++
		b.mu.Unlock()
		b.send(batch)
	}
}

// send runs one pipeline and settles its calls. Its deadline is the
// latest of theirs; a call whose own deadline passed while it ran fails
// with a timeout.
func (b *batcher) send(batch []*queued) {
	live := batch[:0]
	var latest time.Time
	forever := false
	for _, q := range batch {
		if err := q.ctx.Err(); err != nil {
			q.settle(nil, failure(q.ctx, q.what, err, q.timeout))
			continue
		}
		if q.deadline.IsZero() {
			forever = true
		} else if q.deadline.After(latest) {
			latest = q.deadline
		}
		live = append(live, q)
	}
	if len(live) == 0 {
		return
	}
	ctx := context.Background()
	if !forever {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, latest)
		defer cancel()
	}
	var cmds []*goredis.Cmd
	if len(live) == 1 {
		cmds = []*goredis.Cmd{b.client.Do(ctx, live[0].args...)}
	} else {
		pipe := b.client.Pipeline()
		cmds = make([]*goredis.Cmd, len(live))
		for i, q := range live {
			cmds[i] = pipe.Do(ctx, q.args...)
		}
		_, _ = pipe.Exec(ctx)
	}
	now := time.Now()
	for i, q := range live {
		res, err := cmds[i].Result()
		switch {
		case err == goredis.Nil:
			q.settle(nil, nil)
		case err != nil:
			if !q.deadline.IsZero() && !now.Before(q.deadline) {
				err = context.DeadlineExceeded
			}
			q.settle(nil, failure(q.ctx, q.what, err, q.timeout))
		default:
			q.settle(reply(res), nil)
		}
	}
}
