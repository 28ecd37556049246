package host

import (
	"fmt"
	"time"

	"github.com/imscript/imscript/script"
)

// The server's task methods: task, taskwait, taskWaitMulti, finish
// (worker_task.go runs the tasks).

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
	if !c.Absent(1) {
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

// srvTaskWait waits until the task's result arrives or the timeout
// passes. A Lua handler suspends meanwhile (the worker goes on); elsewhere
// (JS, Lua's main chunk) the calling worker blocks, and the wait counts
// toward max_exec_ms.
func srvTaskWait(c script.Call) {
	s := self(c)
	data := taskData(c, 0)
	d := timeoutArg(c, 1)
	inst := instOf(c)
	if inst.worker.task {
		script.Usagef("server.taskwait: not available in a task worker (it could wait for itself)")
	}
	t := &task{srv: s, data: data, from: inst.worker, wait: make(chan taskResult, 1)}
	suspends := c.Suspends()
	var settle func(script.Value, error)
	if suspends {
		settle = c.Async(c.NArgs())
	}
	if _, err := s.host.submitTask(t); err != nil {
		if suspends {
			settle(nil, err)
		} else {
			c.Fail(err.Error())
		}
		return
	}
	wait := func() (script.Value, error) {
		timer := time.NewTimer(d)
		defer timer.Stop()
		select {
		case r := <-t.wait:
			return r.v, r.err
		case <-timer.C:
			return nil, fmt.Errorf("task %d timed out after %v", t.id, d)
		}
	}
	if suspends {
		go func() { settle(wait()) }()
		return
	}
	v, err := wait()
	if err != nil {
		c.Fail(err.Error())
		return
	}
	c.Return(v)
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
	var settle func(script.Value, error)
	if c.Suspends() {
		settle = c.Async(c.NArgs())
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
	collect := func() script.List {
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
				return out
			}
		}
		return out
	}
	if settle != nil {
		go func() { settle(collect(), nil) }()
		return
	}
	c.Return(collect())
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
