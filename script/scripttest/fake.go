package scripttest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/imscript/imscript/script"
)

// Instance is a fake script.Instance for testing a module's functions
// without a host or a VM: what the module posts runs when the test calls
// Next or Drain (on the test's goroutine, as on a worker), callbacks are Go
// functions (Func), Shared is a map, and logs and output go to buffers.
type Instance struct {
	tb testing.TB
	// Dir is ScriptDir (a fresh folder).
	Dir string
	// Worker is WorkerID.
	Worker int
	// Mods are the modules Module and Exports see.
	Mods script.Map
	// Out, Err and Log hold what went to Stdout, Stderr and Logger.
	Out, Err, Log Buffer

	posted chan func()

	mu      sync.Mutex
	shared  map[string]any
	owned   map[int]io.Closer
	ownSeq  int
	closers []func()
	timers  map[int64]*fakeTimer
	timerID int64
	deps    []string
	ctx     context.Context
	cancel  context.CancelFunc
	closed  bool
}

type fakeTimer struct {
	fn     script.Callback
	args   []script.Value
	d      time.Duration
	repeat bool
}

// NewInstance makes a fake instance; it closes when the test ends.
func NewInstance(tb testing.TB) *Instance {
	i := &Instance{
		tb:     tb,
		Dir:    tb.TempDir(),
		Mods:   script.Map{},
		posted: make(chan func(), 1<<16),
		shared: map[string]any{},
		owned:  map[int]io.Closer{},
		timers: map[int64]*fakeTimer{},
	}
	i.ctx, i.cancel = context.WithCancel(context.Background())
	tb.Cleanup(i.Close)
	return i
}

func (i *Instance) WorkerID() int            { return i.Worker }
func (i *Instance) ScriptDir() string        { return i.Dir }
func (i *Instance) Program() script.Program  { return fakeProgram(filepath.Join(i.Dir, "main.lua")) }
func (i *Instance) Exports() script.Map      { return i.Mods }
func (i *Instance) Context() context.Context { return i.ctx }
func (i *Instance) Logger() *slog.Logger     { return slog.New(slog.NewTextHandler(&i.Log, nil)) }
func (i *Instance) Stdout() io.Writer        { return &i.Out }
func (i *Instance) Stderr() io.Writer        { return &i.Err }
func (i *Instance) Parent() script.Parent    { return nil }
func (i *Instance) AddDependency(path string) {
	i.mu.Lock()
	i.deps = append(i.deps, path)
	i.mu.Unlock()
}

// Dependencies are the files AddDependency recorded.
func (i *Instance) Dependencies() []string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return slices.Clone(i.deps)
}

func (i *Instance) Module(name string) (script.Value, bool) {
	if name == "imscript" {
		return i.Mods, true
	}
	v, ok := i.Mods[name]
	return v, ok
}

// Post queues fn for Next / Drain. Safe from any goroutine.
func (i *Instance) Post(fn func()) {
	i.mu.Lock()
	closed := i.closed
	i.mu.Unlock()
	if !closed {
		i.posted <- fn
	}
}

// Next runs the next posted function, waiting up to d for one; false when
// none came.
func (i *Instance) Next(d time.Duration) bool {
	select {
	case fn := <-i.posted:
		fn()
		return true
	case <-time.After(d):
		return false
	}
}

// Drain runs posted functions until none has come for quiet.
func (i *Instance) Drain(quiet time.Duration) {
	for i.Next(quiet) {
	}
}

// Call invokes a callback made by Func; a panic in it is returned as the
// error the host would log, and Call returns nil.
func (i *Instance) Call(what string, fn script.Callback, args ...script.Value) script.Value {
	f, ok := fn.(*goCallback)
	if !ok {
		i.tb.Errorf("%s: Call of a %T, not a scripttest.Func callback", what, fn)
		return nil
	}
	return f.fn(args...)
}

// CallErr is Call with the error: a panic in the Go callback is returned.
func (i *Instance) CallErr(what string, fn script.Callback, args ...script.Value) (v script.Value, err error) {
	defer func() {
		if p := recover(); p != nil {
			v, err = nil, fmt.Errorf("%v", p)
		}
	}()
	return i.Call(what, fn, args...), nil
}

func (i *Instance) AtClose(fn func()) { i.mu.Lock(); i.closers = append(i.closers, fn); i.mu.Unlock() }

func (i *Instance) Own(r io.Closer) (release func()) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.ownSeq++
	id := i.ownSeq
	i.owned[id] = r
	return func() {
		i.mu.Lock()
		delete(i.owned, id)
		i.mu.Unlock()
	}
}

// Owned is how many resources the instance owns (Own, not yet released).
func (i *Instance) Owned() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return len(i.owned)
}

// Close closes the instance as a reload would: owned resources, then the
// AtClose functions, then the context.
func (i *Instance) Close() {
	i.mu.Lock()
	if i.closed {
		i.mu.Unlock()
		return
	}
	i.closed = true
	ids := make([]int, 0, len(i.owned))
	for id := range i.owned {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	owned := make([]io.Closer, 0, len(ids))
	for _, id := range ids {
		owned = append(owned, i.owned[id])
	}
	i.owned = map[int]io.Closer{}
	closers := i.closers
	i.closers = nil
	i.mu.Unlock()
	for _, r := range owned {
		_ = r.Close()
	}
	for _, fn := range closers {
		fn()
	}
	i.cancel()
}

func (i *Instance) AddTimer(d time.Duration, repeat bool, fn script.Callback, args []script.Value) int64 {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.timerID++
	i.timers[i.timerID] = &fakeTimer{fn: fn, args: args, d: d, repeat: repeat}
	return i.timerID
}

func (i *Instance) ClearTimer(id int64) bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	_, ok := i.timers[id]
	delete(i.timers, id)
	return ok
}

// Timers is how many timers are set.
func (i *Instance) Timers() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return len(i.timers)
}

// CanSuspend implements script.Instance: the fake runs no handlers.
func (i *Instance) CanSuspend() bool { return false }

// Suspend implements script.Instance: it refuses (no handler runs).
func (i *Instance) Suspend(func(resume func()), func()) error {
	return errors.New("scripttest.Instance: no handler to suspend (use scripttest.Start)")
}

func (i *Instance) Spawn(path string, arg script.Value) (script.Child, error) {
	return nil, errors.New("scripttest.Instance: spawn needs a host (use scripttest.Start)")
}

func (i *Instance) Shared(key string, init func() any) any {
	i.mu.Lock()
	defer i.mu.Unlock()
	v, ok := i.shared[key]
	if !ok {
		v = init()
		i.shared[key] = v
	}
	return v
}

type fakeProgram string

func (p fakeProgram) Path() string { return string(p) }

// goCallback is a Go function posing as a script function.
type goCallback struct {
	inst *Instance
	fn   func(args ...script.Value) script.Value
}

func (c *goCallback) Instance() script.Instance { return c.inst }

// Func makes a callback of the instance that runs fn: what a module calls
// with Instance.Call.
func (i *Instance) Func(fn func(args ...script.Value) script.Value) script.Callback {
	return &goCallback{inst: i, fn: fn}
}

// Result is what Invoke saw of a call.
type Result struct {
	// Values are what the function returned (Return and friends).
	Values []script.Value
	// Failed is the reason of a routine failure (Fail), "" if none.
	Failed string
	// Usage is the message of a usage error (Usagef), "" if none.
	Usage string

	settled chan settlement
}

type settlement struct {
	v   script.Value
	err error
}

// Value is the first returned value (nil when none).
func (r *Result) Value() script.Value {
	if len(r.Values) == 0 {
		return nil
	}
	return r.Values[0]
}

// Await waits up to d for an asynchronous call (Async) to settle and
// returns its result or error.
func (r *Result) Await(d time.Duration) (script.Value, error) {
	if r.settled == nil {
		return nil, errors.New("the call was not asynchronous")
	}
	select {
	case s := <-r.settled:
		return s.v, s.err
	case <-time.After(d):
		return nil, fmt.Errorf("the call did not settle within %v", d)
	}
}

// Invoke calls a host function as a script would, with Go values as its
// arguments (int64 or float64 for numbers, string or []byte, script.List,
// script.Map, *script.Object, callbacks made by Func). self is the receiver
// of a method (nil for plain functions).
func (i *Instance) Invoke(fn script.Function, self *script.Object, args ...script.Value) (res *Result) {
	c := &fakeCall{inst: i, self: self, args: args, res: &Result{}}
	defer func() {
		if p := recover(); p != nil {
			ue, ok := p.(*script.UsageError)
			if !ok {
				panic(p)
			}
			c.res.Usage = ue.Msg
		}
		res = c.res
	}()
	fn(c)
	return c.res
}
