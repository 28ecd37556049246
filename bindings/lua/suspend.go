package lua

import (
	"errors"
	"sync"

	lua "github.com/imscript/imscript/bindings/lua/internal/gopherlua"

	"github.com/imscript/imscript/script"
)

// Suspending handlers. An asynchronous host function called without a
// callback (db:query(...), imscript.sleep(0.1)) suspends the handler that
// called it: the binding asks the host to park the handler's goroutine
// (Instance.Suspend) until the result is settled, then returns it to Lua
// the Lua way: the result, or nil, the error and its code. The Lua frames
// stay where they are, on their state's stack, so pcall, xpcall,
// coroutines, require and tail calls need nothing special; meanwhile the
// worker runs other handlers, on other states: the main state while it is
// free, else a thread (kept for reuse).

// maxIdleThreads bounds the threads kept for reuse.
const maxIdleThreads = 64

// takeState returns a free state to run a handler on.
func (v *vm) takeState() *lua.LState {
	if v.mainFree {
		v.mainFree = false
		return v.L
	}
	var th *lua.LState
	if n := len(v.idle); n > 0 {
		th = v.idle[n-1]
		v.idle[n-1] = nil
		v.idle = v.idle[:n-1]
	} else {
		if v.tmpl == nil {
			// Threads are made from a template that shares the VM's
			// globals, so that they start with a small stack and grow.
			v.tmpl = lua.NewState(lua.Options{RegistrySize: 256, RegistryMaxSize: 1 << 20, RegistryGrowStep: 256,
				CallStackSize: 256, MinimizeStackMemory: true, SkipOpenLibs: true})
			v.tmpl.G = v.L.G
			v.tmpl.Env = v.L.Env
		}
		th, _ = v.tmpl.NewThread()
	}
	if th.Context() != v.ctx {
		th.SetContext(v.ctx)
	}
	return th
}

// giveState takes back a state a handler finished on.
func (v *vm) giveState(L *lua.LState) {
	if L == v.L {
		v.mainFree = true
		return
	}
	if len(v.idle) < maxIdleThreads {
		L.SetTop(0)
		v.idle = append(v.idle, L)
	}
}

// waiter is one suspended call: what settles it and what resumes it.
type waiter struct {
	mu      sync.Mutex
	settled bool
	res     script.Value
	err     error
	resume  func()
	// work is the call's own work (Call.Run), run on the handler's
	// goroutine while it is suspended.
	work func() (script.Value, error)
}

func (w *waiter) settle(res script.Value, err error) {
	w.mu.Lock()
	if w.settled {
		w.mu.Unlock()
		return
	}
	w.settled, w.res, w.err = true, res, err
	resume := w.resume
	w.mu.Unlock()
	if resume != nil {
		resume()
	}
}

// errMainChunk is the error of a suspending call where no handler runs.
var errMainChunk = errors.New("this call waits for its result, which the main chunk cannot do: pass a callback fn(result, err) (or call it from a handler)")

// suspending returns the settle function of an asynchronous call made
// without a callback: the call suspends the handler until it is settled.
// The main chunk cannot wait: that is a usage error.
func (c *call) suspending() func(script.Value, error) {
	if !c.v.inst.CanSuspend() {
		script.Usagef("%v", errMainChunk)
	}
	w := &waiter{}
	c.wait = w
	return w.settle
}

// finishWait runs when the host function of a suspending call has
// returned: it waits for the result (the handler's goroutine parks, unless
// the result is in already) and pushes it as the call's results.
func (v *vm) finishWait(c *call, w *waiter) int {
	L := c.L
	w.mu.Lock()
	done := w.settled
	w.mu.Unlock()
	if !done {
		// Other handlers run while this one waits: they must not use
		// this handler's state or its calls.
		// Every call in flight is this handler's: one handler runs at a
		// time, and the others detached theirs when they suspended.
		n := v.depth
		for i := range v.calls[:n] {
			v.calls[i] = &call{v: v}
		}
		v.depth = 0
		cur, thread := v.cur, L.G.CurrentThread
		v.cur = nil
		var work func()
		if w.work != nil {
			work = func() { w.settle(w.work()) }
		}
		err := v.inst.Suspend(func(resume func()) {
			w.mu.Lock()
			w.resume = resume
			done := w.settled
			w.mu.Unlock()
			if done {
				resume()
			}
		}, work)
		v.cur, L.G.CurrentThread = cur, thread
		v.depth += n
		if L.Context() != v.ctx {
			L.SetContext(v.ctx)
		}
		if cur != nil && cur.Context() != v.ctx {
			cur.SetContext(v.ctx)
		}
		if err != nil {
			L.Push(lua.LNil)
			L.Push(lua.LString(err.Error()))
			return 2
		}
	}
	if w.err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString(w.err.Error()))
		if code := script.ErrorCode(w.err); code != nil {
			L.Push(v.toLua(code, 0))
			return 3
		}
		return 2
	}
	if rs, ok := w.res.(script.Results); ok {
		for _, r := range rs {
			L.Push(v.toLua(r, 0))
		}
		return len(rs)
	}
	L.Push(v.toLua(w.res, 0))
	return 1
}
