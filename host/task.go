package host

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

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
	from *Worker
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
func (w *Worker) runTask(t *task) {
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
		inst := w.inst
		pend.Then(func(v script.Value, err error) {
			if err != nil {
				w.host.reportError("handler error", inst, err, "handler", handlerNames[hTask])
			}
			w.taskResult(t, v, err)
		})
		return
	}
	w.taskResult(t, v, err)
}

// taskResult sends a task's result (or error) back to the worker that
// asked.
func (w *Worker) taskResult(t *task, v script.Value, err error) {
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

func taskData(c script.Call, i int) script.Value {
	v, _, err := script.Copy(c.Arg(i))
	if err != nil {
		script.Usagef("bad argument #%d (data): %v", i+1, err)
	}
	return v
}

func srvTask(c script.Call) {
	s := self(c)
	data := taskData(c, 0)
	var cb script.Callback
	if c.NArgs() > 1 && c.Arg(1) != nil {
		cb = c.Func(1, "callback")
	}
	inst := instOf(c)
	id, err := s.host.submitTask(&task{srv: s, data: data, from: inst.worker, cb: cb})
	if err != nil {
		c.Fail(err.Error())
		return
	}
	c.ReturnInt(id)
}

func timeoutArg(c script.Call, i int) time.Duration {
	sec := c.OptFloat(i, "timeout", 0.5)
	if sec <= 0 {
		script.Usagef("bad argument #%d (timeout): must be positive seconds", i+1)
	}
	return time.Duration(sec * float64(time.Second))
}

// srvTaskWait blocks the calling worker until the task's result arrives
// or the timeout passes (the wait counts toward max_exec_ms).
func srvTaskWait(c script.Call) {
	s := self(c)
	data := taskData(c, 0)
	d := timeoutArg(c, 1)
	inst := instOf(c)
	if inst.worker.task {
		script.Usagef("server.taskwait: not available in a task worker (it could wait for itself)")
	}
	t := &task{srv: s, data: data, from: inst.worker, wait: make(chan taskResult, 1)}
	if _, err := s.host.submitTask(t); err != nil {
		c.Fail(err.Error())
		return
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case r := <-t.wait:
		if r.err != nil {
			c.Fail(r.err.Error())
			return
		}
		c.Return(r.v)
	case <-timer.C:
		c.Fail(fmt.Sprintf("task %d timed out after %v", t.id, d))
	}
}

// srvTaskWaitMulti runs several tasks at once and waits for all of them up
// to the timeout; results are in order, nil where a task failed or timed out.
func srvTaskWaitMulti(c script.Call) {
	s := self(c)
	list, ok := c.Arg(0).(script.List)
	if !ok {
		if m, isMap := c.Arg(0).(script.Map); !isMap || len(m) != 0 {
			script.Usagef("bad argument #1 (tasks): a list expected, got %s", script.TypeName(c.Arg(0)))
		}
	}
	d := timeoutArg(c, 1)
	inst := instOf(c)
	if inst.worker.task {
		script.Usagef("server.taskWaitMulti: not available in a task worker")
	}
	waits := make([]chan taskResult, len(list))
	for i, e := range list {
		v, _, err := script.Copy(e)
		if err != nil {
			script.Usagef("bad argument #1 (tasks[%d]): %v", i+1, err)
		}
		t := &task{srv: s, data: v, from: inst.worker, wait: make(chan taskResult, 1)}
		if _, err := s.host.submitTask(t); err == nil {
			waits[i] = t.wait
		}
	}
	out := make(script.List, len(list))
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for i, ch := range waits {
		if ch == nil {
			continue
		}
		select {
		case r := <-ch:
			if r.err == nil {
				out[i] = r.v
			}
		case <-deadline.C:
			c.Return(out)
			return
		}
	}
	c.Return(out)
}

// srvFinish sets the result of the task being run (in a task handler).
func srvFinish(c script.Call) {
	w := instOf(c).worker
	if w.curTask == nil {
		c.Fail("finish is only valid inside a task handler")
		return
	}
	v, _, err := script.Copy(c.Arg(0))
	if err != nil {
		script.Usagef("bad argument #1 (result): %v", err)
	}
	w.taskDone, w.taskValue = true, v
	c.ReturnBool(true)
}
