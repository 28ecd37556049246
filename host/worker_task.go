package host

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/imscript/imscript/script"
)

// Task workers are VMs loaded from the same script (task_worker_num of
// them, ids after the event workers'). srv:task queues data on a bounded
// queue that idle task workers take from; the task event's return value
// (or srv:finish) goes back to the worker that asked, as a callback or the
// finish event. Data crosses VMs as deep copies of neutral values.

type taskPool struct {
	ch     chan *task
	nextID atomic.Int64
}

func (p *taskPool) init(max int) {
	if max <= 0 {
		max = defaultTaskMaxQueue
	}
	p.ch = make(chan *task, max)
}

type task struct {
	id   int64
	srv  *Server
	data script.Value
	from *worker
	cb   script.Callback // the submitter's callback, or nil: finish event
	wait chan taskResult // taskwait: the blocked submitter
}

type taskResult struct {
	v   script.Value
	err error
}

// submit queues a task; it never blocks.
func (h *Host) submitTask(t *task) (int64, error) {
	if h.tasks.ch == nil || len(h.all) == len(h.workers) {
		return 0, errors.New("no task workers (set task_worker_num)")
	}
	if h.stopping.Load() {
		return 0, errors.New("host is stopping")
	}
	t.id = h.tasks.nextID.Add(1) - 1
	select {
	case h.tasks.ch <- t:
		return t.id, nil
	default:
		return 0, fmt.Errorf("task queue full (task_max_queue %d)", cap(h.tasks.ch))
	}
}

// runTask runs one task on a task worker and sends its result back.
func (w *worker) runTask(t *task) {
	w.curTask, w.taskDone, w.taskValue = t, false, nil
	ran, v, err := w.fireValue(t.srv, hTask, t.srv.obj, t.id, int64(t.from.id), t.data)
	done := w.taskDone
	if done {
		v = w.taskValue
	}
	w.curTask, w.taskValue = nil, nil
	if !ran && err == nil {
		err = errors.New("the script has no task handler on this server")
	}
	if pend, ok := v.(script.Pending); ok && err == nil && !done {
		// An async (JS) handler: its promise's value is the result. The
		// task worker goes on with other tasks meanwhile.
		pend.Then(func(v script.Value, err error) { w.taskResult(t, v, err) }) // fireValue reported a rejection
		return
	}
	w.taskResult(t, v, err)
}

// taskResult sends a task's result (or error) back to the worker that
// asked.
func (w *worker) taskResult(t *task, v script.Value, err error) {
	if err == nil {
		v, _, err = script.Copy(v)
	} else if msg, _, cut := strings.Cut(err.Error(), "\n"); cut {
		// The caller gets the message with its file:line; the log has the stack.
		err = errors.New(msg)
	}
	res := taskResult{v: v, err: err}
	if t.wait != nil {
		t.wait <- res
		return
	}
	from := t.from
	from.Post(func() {
		inst := from.inst
		if inst == nil {
			return
		}
		var errv script.Value
		if res.err != nil {
			errv = res.err.Error()
		}
		if t.cb != nil && t.cb.Instance() == script.Instance(inst) {
			inst.Call("task callback", t.cb, t.srv.obj, t.id, res.v, errv)
			return
		}
		from.fire(t.srv, hFinish, t.srv.obj, t.id, res.v, errv)
	})
}
