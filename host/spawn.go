package host

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imscript/imscript/script"
)

// Spawned scripts (imscript.process.spawn): a script file running in its own
// VM on its own goroutine (a child worker with its own queue), exchanging
// deep-copied neutral values with the instance that spawned it. A child
// lives until it calls exit, its parent kills it, or its parent instance
// closes (a reload or the host stopping kills it).

const (
	// spawnMaxInFlight bounds the messages sent one way and not yet
	// handled; spawnMaxBytes bounds their approximate size. Past either,
	// send fails with script.ErrBacklog instead of queueing without limit.
	spawnMaxInFlight = 1 << 16
	spawnMaxBytes    = 64 << 20
	// spawnKillWait is how long closing a parent waits for each killed
	// child to wind down (its running handler is interrupted at once).
	spawnKillWait = 2 * time.Second
)

var spawnIDs atomic.Int64

// Child is a spawned script as its parent sees it. Its methods are called on
// the parent's worker (Kill from anywhere).
type Child struct {
	id     int64
	path   string
	host   *Host
	parent *Instance
	w      *Worker
	arg    script.Value
	side   *Parent

	killed   atomic.Bool
	gone     atomic.Bool
	quitOnce sync.Once
	done     chan struct{}

	toChild, toParent spawnFlow

	// The child's goroutine only.
	exiting bool
	code    script.Value

	// The parent's worker only.
	onMessage func(script.Value)
	onExit    func(code script.Value)
	exited    bool
	release   func() // ends the parent instance's ownership (Own)
}

// Parent is the link a spawned script has to its parent. Its methods are
// called on the child's worker.
type Parent struct {
	c         *Child
	onMessage func(script.Value)
}

const parentKey = "host.spawn.parent"

// Spawn starts the script at path (relative paths resolve against this
// instance's script folder; the extension picks the language) as a child of
// this instance, with arg (deep-copied) as its argument. The script is
// compiled at once, so a missing file or a syntax error (with file:line) is
// the returned error; its main chunk then runs on the child's goroutine.
func (inst *Instance) Spawn(path string, arg script.Value) (script.Child, error) {
	h := inst.host
	if !filepath.IsAbs(path) {
		path = filepath.Join(inst.ScriptDir(), path)
	}
	path = filepath.Clean(path)
	if fi, err := os.Stat(path); err != nil || fi.IsDir() {
		return nil, fmt.Errorf("%s: no such script file", path)
	}
	lang := h.languageOf(path)
	if lang == nil {
		return nil, fmt.Errorf("%s: no language runs %q files", path, filepath.Ext(path))
	}
	argCopy, _, err := spawnCopy(arg, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: arg: %w", path, err)
	}
	if h.stopping.Load() {
		return nil, fmt.Errorf("%s: the host is stopping", path)
	}
	prog, err := lang.Compile(path)
	if err != nil {
		return nil, err
	}
	id := spawnIDs.Add(1)
	c := &Child{
		id:     id,
		path:   path,
		host:   h,
		parent: inst,
		w:      newWorker(h, -int(id)),
		arg:    argCopy,
		done:   make(chan struct{}),
	}
	c.side = &Parent{c: c}
	inst.AddDependency(path)
	c.release = inst.Own(c)
	h.spawnWatch().add(c)
	go c.run(lang, prog)
	return c, nil
}

func (h *Host) languageOf(path string) script.Language {
	ext := strings.ToLower(filepath.Ext(path))
	for _, l := range h.cfg.Languages {
		for _, e := range l.Extensions() {
			if e == ext {
				return l
			}
		}
	}
	return nil
}

// Parent is the link to the parent when this instance runs a spawned
// script, else nil.
func (inst *Instance) Parent() script.Parent {
	if p, ok := inst.values[parentKey].(*Parent); ok {
		return p
	}
	return nil
}

// ID is the child's host-unique id (its worker id is -ID).
func (c *Child) ID() int64 { return c.id }

// Path is the child's script file.
func (c *Child) Path() string { return c.path }

// Done is closed once the child's VM is closed.
func (c *Child) Done() <-chan struct{} { return c.done }

// OnMessage sets the function that receives the child's messages on the
// parent's worker.
func (c *Child) OnMessage(fn func(script.Value)) { c.onMessage = fn }

// OnExit sets the function called on the parent's worker once the child has
// ended, after every message it sent. code is the child's exit code (0 by
// default, 1 when its script failed to load) or nil when it was killed.
func (c *Child) OnExit(fn func(code script.Value)) { c.onExit = fn }

// Exited says whether the exit event has been delivered (parent's worker).
func (c *Child) Exited() bool { return c.exited }

// Send queues a deep copy of v to the child's message handler. It fails
// with script.ErrExited or script.ErrBacklog, or with an error naming what cannot cross
// (functions, host objects).
func (c *Child) Send(v script.Value) error {
	cp, size, err := spawnCopy(v, 0)
	if err != nil {
		return err
	}
	if c.gone.Load() || c.killed.Load() {
		return script.ErrExited
	}
	if !c.toChild.take(size) {
		return script.ErrBacklog
	}
	c.w.Post(func() {
		c.toChild.give(size)
		if c.stopping() {
			return
		}
		if fn := c.side.onMessage; fn != nil {
			fn(cp)
		}
	})
	return nil
}

// Kill ends the child: a handler it is running is interrupted, and nothing
// more runs in it. It returns false when the child had already ended or
// was killed. Safe from any goroutine.
func (c *Child) Kill() bool {
	if c.gone.Load() || c.killed.Swap(true) {
		return false
	}
	w := c.w
	w.imu.Lock()
	if w.running != nil {
		w.running.Interrupt("spawned script killed by its parent")
	}
	w.imu.Unlock()
	c.quitOnce.Do(func() { close(w.quit) })
	return true
}

// Close kills the child and waits (up to spawnKillWait) for it to wind
// down: its parent instance is closing (io.Closer, for Instance.Own).
func (c *Child) Close() error {
	c.Kill()
	select {
	case <-c.done:
	case <-time.After(spawnKillWait):
		c.host.log.Warn("a killed spawned script is still running", "script", c.path, "child", c.id)
	}
	return nil
}

// Arg is the argument the parent passed to spawn.
func (p *Parent) Arg() script.Value { return p.c.arg }

// ID is the child's id (as the parent's Child.ID).
func (p *Parent) ID() int64 { return p.c.id }

// OnMessage sets the function that receives the parent's messages on the
// child's worker.
func (p *Parent) OnMessage(fn func(script.Value)) { p.onMessage = fn }

// Send queues a deep copy of v to the parent's message handler for this
// child; failures as Child.Send.
func (p *Parent) Send(v script.Value) error {
	c := p.c
	cp, size, err := spawnCopy(v, 0)
	if err != nil {
		return err
	}
	if c.stopping() {
		return script.ErrExited
	}
	if !c.toParent.take(size) {
		return script.ErrBacklog
	}
	c.parent.Post(func() {
		c.toParent.give(size)
		if fn := c.onMessage; fn != nil {
			fn(cp)
		}
	})
	return nil
}

// Exit ends the child once the running callback returns: nothing more runs
// in it, and the parent's exit handler gets code.
func (p *Parent) Exit(code script.Value) {
	c := p.c
	if !c.exiting {
		c.exiting = true
		c.code = code
	}
}

// stopping says whether the child is ending (child's goroutine).
func (c *Child) stopping() bool { return c.exiting || c.killed.Load() }

// run is the child's goroutine: load the script, run its events until it
// exits or is killed, close it and tell the parent.
func (c *Child) run(lang script.Language, prog script.Program) {
	defer close(c.done)
	w := c.w
	c.code = int64(0)
	inst, err := c.load(lang, prog)
	switch {
	case err != nil && !c.killed.Load():
		c.code = int64(1)
		c.host.errorCount.Add(1)
		c.host.log.Error("spawned script failed", "script", c.path, "child", c.id, "worker", c.w.id, "err", err.Error())
	case err == nil && c.stopping():
		inst.close()
	case err == nil:
		w.swap(inst)
		c.loop()
		w.swap(nil)
	}
	c.finish()
}

// load creates the child's instance and VM and runs its main chunk with the
// watchdog armed.
func (c *Child) load(lang script.Language, prog script.Program) (*Instance, error) {
	w := c.w
	inst := newInstance(c.host, w, newAttempt(prog))
	inst.values[parentKey] = c.side
	ex := inst.Exports()
	ex["script"] = prog.Path()
	vm, err := lang.NewVM(inst)
	if err != nil {
		inst.close()
		return nil, fmt.Errorf("new vm: %w", err)
	}
	inst.vm = vm
	w.enterHandler(vm)
	if c.killed.Load() {
		vm.Interrupt("spawned script killed by its parent")
	}
	err = vm.Run(prog)
	intr := w.leaveHandler(vm)
	if err == nil && len(inst.decls) > 0 {
		err = fmt.Errorf("%s: a spawned script cannot declare servers (imscript.server)", prog.Path())
	}
	if err != nil {
		if intr {
			err = fmt.Errorf("%w (interrupted after max_exec_ms)", err)
		}
		inst.close()
		return nil, err
	}
	return inst, nil
}

// loop runs the child's events until it exits or is killed.
func (c *Child) loop() {
	w := c.w
	defer w.timers.stop()
	var batch []event
	for !c.stopping() {
		batch = w.q.take(batch)
		if len(batch) == 0 {
			select {
			case <-w.q.wake:
			case <-w.quit:
			}
			continue
		}
		for i := range batch {
			if c.stopping() {
				return
			}
			w.handle(&batch[i])
			batch[i] = event{}
		}
	}
}

// finish runs last on the child's goroutine: no more sends, and the exit
// event goes to the parent after every message the child sent.
func (c *Child) finish() {
	c.gone.Store(true)
	c.host.spawnWatch().remove(c)
	c.w.q.take(nil) // drop what was still queued
	code := c.code
	if c.killed.Load() {
		code = nil
	}
	parent := c.parent
	parent.Post(func() {
		c.exited = true
		c.release()
		if fn := c.onExit; fn != nil {
			fn(code)
		}
	})
}

// spawnFlow counts the messages (and their size) sent one way and not yet
// handled.
type spawnFlow struct{ n, bytes atomic.Int64 }

func (f *spawnFlow) take(size int) bool {
	n := f.n.Add(1)
	b := f.bytes.Add(int64(size))
	if n > spawnMaxInFlight || b > spawnMaxBytes {
		f.give(size)
		return false
	}
	return true
}

func (f *spawnFlow) give(size int) {
	f.n.Add(-1)
	f.bytes.Add(-int64(size))
}

// spawnCopy deep-copies a neutral value for another VM and estimates its
// size, refusing what cannot cross (functions, host objects).
func spawnCopy(v script.Value, depth int) (script.Value, int, error) {
	if depth > 100 {
		return nil, 0, errors.New("value nested deeper than 100 levels")
	}
	switch x := v.(type) {
	case nil, bool, int64, float64:
		return x, 16, nil
	case int:
		return int64(x), 16, nil
	case string:
		return x, 16 + len(x), nil
	case []byte:
		return append([]byte{}, x...), 32 + len(x), nil
	case script.List:
		out := make(script.List, len(x))
		size := 32
		for i, e := range x {
			cp, n, err := spawnCopy(e, depth+1)
			if err != nil {
				return nil, 0, err
			}
			out[i] = cp
			size += n
		}
		return out, size, nil
	case script.Map:
		out := make(script.Map, len(x))
		size := 64
		for k, e := range x {
			cp, n, err := spawnCopy(e, depth+1)
			if err != nil {
				return nil, 0, err
			}
			out[k] = cp
			size += n + 16 + len(k)
		}
		return out, size, nil
	}
	return nil, 0, fmt.Errorf("a %s cannot cross to another script.VM (nil, booleans, numbers, strings, bytes, lists and maps only)", script.TypeName(v))
}

// spawnWatchdog is the watchdog of child workers (the host's watchdog
// watches its own workers): one goroutine while any child lives.
type spawnWatchdog struct {
	h        *Host
	mu       sync.Mutex
	children map[*Child]struct{}
	running  bool
}

// Spawned is how many spawned scripts are running in the host.
func (h *Host) Spawned() int {
	s := h.spawnWatch()
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.children)
}

func (h *Host) spawnWatch() *spawnWatchdog {
	return h.Shared("host.spawn.watchdog", func() any {
		return &spawnWatchdog{h: h, children: map[*Child]struct{}{}}
	}).(*spawnWatchdog)
}

func (s *spawnWatchdog) add(c *Child) {
	s.mu.Lock()
	s.children[c] = struct{}{}
	if !s.running {
		s.running = true
		go s.watch()
	}
	s.mu.Unlock()
}

func (s *spawnWatchdog) remove(c *Child) {
	s.mu.Lock()
	delete(s.children, c)
	s.mu.Unlock()
}

func (s *spawnWatchdog) watch() {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var list []*Child
	for now := range tick.C {
		s.mu.Lock()
		if len(s.children) == 0 {
			s.running = false
			s.mu.Unlock()
			return
		}
		list = list[:0]
		for c := range s.children {
			list = append(list, c)
		}
		s.mu.Unlock()
		limit := time.Duration(s.h.maxExecMs.Load()) * time.Millisecond
		for _, c := range list {
			c.check(now, limit)
		}
		clear(list)
	}
}

// check interrupts the child's handler when it has run longer than limit
// (the host watchdog's rule, for a child worker).
func (c *Child) check(now time.Time, limit time.Duration) {
	w := c.w
	seq := w.busy.Load()
	if seq%2 == 0 || seq != w.wdSeq {
		w.wdSeq, w.wdSince = seq, now
		return
	}
	if limit <= 0 || now.Sub(w.wdSince) < limit {
		return
	}
	w.imu.Lock()
	if w.busy.Load() == seq && !w.interrupted && w.running != nil {
		w.interrupted = true
		w.running.Interrupt(fmt.Sprintf("handler ran longer than max_exec_ms (%d ms)", limit.Milliseconds()))
	}
	w.imu.Unlock()
}
