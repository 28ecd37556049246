package host

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imscript/imscript/script"
)

// Spawned scripts (imscript.process.spawn): a script file running in a VM
// of its own on a worker of its own, exchanging deep-copied neutral values
// with the instance that spawned it. The child's worker is an ordinary
// Worker whose loop ends when the child exits or is killed (its stop
// condition); the host's watchdog watches it like every other worker. A
// child lives until it calls exit, its parent kills it, or its parent
// instance closes (a reload or the host stopping kills it).

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

// child is a spawned script as its parent sees it (script.child). Its
// methods are called on the parent's worker (Kill from anywhere).
type child struct {
	id     int64
	path   string
	host   *Host
	parent *instance
	w      *worker
	arg    script.Value
	side   *parentLink

	killed   atomic.Bool
	gone     atomic.Bool
	quitOnce sync.Once
	done     chan struct{}

	toChild, toParent spawnFlow

	// The child's worker only.
	exiting bool
	code    script.Value
	// booting: its main chunk awaits at its top level; the messages sent
	// meanwhile wait in held for it to end, as they wait for any main
	// chunk.
	booting bool
	held    []func()

	// The parent's worker only.
	onMessage func(script.Value)
	onExit    func(code script.Value)
	exited    bool
	release   func() // ends the parent instance's ownership (Own)
}

// parentLink is the link a spawned script has to its parent (script.parentLink).
// Its methods are called on the child's worker.
type parentLink struct {
	c         *child
	onMessage func(script.Value)
}

// Spawn implements script.Instance: the script is compiled at once, so a
// missing file or a syntax error (with file:line) is the returned error;
// its main chunk then runs on the child's worker.
func (inst *instance) Spawn(path string, arg script.Value) (script.Child, error) {
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
	argCopy, _, err := script.Copy(arg)
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
	c := &child{id: id, path: path, host: h, parent: inst, arg: argCopy, code: int64(0), done: make(chan struct{})}
	c.side = &parentLink{c: c}
	c.w = newWorker(h, -int(id), lang)
	c.w.until = c.stopping
	inst.AddDependency(path)
	c.release = inst.Own(c)
	h.watchWorker(c.w)
	c.w.exit = c.finish
	c.w.Post(func() { c.start(prog) })
	go c.w.loop()
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

// Parent implements script.Instance.
func (inst *instance) Parent() script.Parent {
	if inst.parent != nil {
		return inst.parent
	}
	return nil
}

// start loads the child's script: the first event on its worker.
func (c *child) start(prog script.Program) {
	w := c.w
	inst, err := w.loadHere(newAttempt(prog), func(inst *instance) {
		inst.parent = c.side
		inst.Exports()["script"] = prog.Path()
	})
	if err == nil && inst.boot != nil {
		// Its main chunk awaits at its top level: it starts when that
		// ends (the worker serves the awaited results meanwhile).
		c.booting = true
		go func() {
			select {
			case err := <-inst.boot:
				w.Post(func() { c.started(prog, inst, err) })
			case <-w.quit:
			case <-w.done:
			}
		}()
		return
	}
	c.started(prog, inst, err)
}

// started is the end of the child's load (err: it failed; inst is then
// nil or, after a top-level await, closed here).
func (c *child) started(prog script.Program, inst *instance, err error) {
	w := c.w
	c.booting = false
	if err != nil && inst != nil {
		inst.close()
		inst = nil
	}
	defer func() {
		held := c.held
		c.held = nil
		for _, fn := range held {
			fn()
		}
	}()
	if err == nil && len(inst.decls) > 0 {
		inst.close()
		inst, err = nil, fmt.Errorf("%s: a spawned script cannot declare servers (imscript.server)", prog.Path())
	}
	switch {
	case err != nil:
		c.exiting = true
		if !c.killed.Load() {
			c.code = int64(1)
			c.host.errorCount.Add(1)
			c.host.log.Error("spawned script failed", "script", c.path, "child", c.id, "worker", w.id, "err", err.Error())
		}
	case c.stopping():
		inst.close()
	default:
		w.swap(inst)
	}
}

// ID implements script.Child: the child's host-unique id (its worker id
// is -ID).
func (c *child) ID() int64 { return c.id }

// OnMessage implements script.Child.
func (c *child) OnMessage(fn func(script.Value)) { c.onMessage = fn }

// OnExit implements script.Child: fn runs on the parent's worker once the
// child has ended, after every message it sent. code is the child's exit
// code (0 by default, 1 when its script failed to load) or nil when it
// was killed.
func (c *child) OnExit(fn func(code script.Value)) { c.onExit = fn }

// Send implements script.Child: a deep copy of v goes to the child's
// message handler.
func (c *child) Send(v script.Value) error {
	cp, size, err := script.Copy(v)
	if err != nil {
		return err
	}
	if c.gone.Load() || c.killed.Load() {
		return script.ErrExited
	}
	if !c.toChild.take(size) {
		return script.ErrBacklog
	}
	var deliver func()
	deliver = func() {
		if c.booting {
			c.held = append(c.held, deliver)
			return
		}
		c.toChild.give(size)
		if c.stopping() {
			return
		}
		if fn := c.side.onMessage; fn != nil {
			fn(cp)
		}
	}
	c.w.Post(deliver)
	return nil
}

// Kill implements script.Child: a handler the child is running is
// interrupted, and nothing more runs in it. Safe from any goroutine.
func (c *child) Kill() bool {
	if c.gone.Load() || c.killed.Swap(true) {
		return false
	}
	c.w.interrupt("spawned script killed by its parent")
	c.quitOnce.Do(func() { close(c.w.quit) })
	return true
}

// Close kills the child and waits (up to spawnKillWait) for it to wind
// down: its parent instance is closing (io.Closer, for Instance.Own).
func (c *child) Close() error {
	c.Kill()
	select {
	case <-c.done:
	case <-time.After(spawnKillWait):
		c.host.log.Warn("a killed spawned script is still running", "script", c.path, "child", c.id)
	}
	return nil
}

// Arg implements script.Parent.
func (p *parentLink) Arg() script.Value { return p.c.arg }

// ID implements script.Parent.
func (p *parentLink) ID() int64 { return p.c.id }

// OnMessage implements script.Parent.
func (p *parentLink) OnMessage(fn func(script.Value)) { p.onMessage = fn }

// Send implements script.Parent: a deep copy of v goes to the parent's
// message handler for this child.
func (p *parentLink) Send(v script.Value) error {
	c := p.c
	cp, size, err := script.Copy(v)
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

// Exit implements script.Parent: the child ends once the running callback
// returns.
func (p *parentLink) Exit(code script.Value) {
	c := p.c
	if !c.exiting {
		c.exiting = true
		c.code = code
	}
}

// stopping is the child worker's stop condition (its goroutine).
func (c *child) stopping() bool { return c.exiting || c.killed.Load() }

// finish runs on the child's worker once its loop has ended (worker.exit):
// the instance closes, no more sends, and the exit event goes to the
// parent after every message the child sent.
func (c *child) finish() {
	w := c.w
	if w.inst != nil {
		w.swap(nil)
	}
	w.timers.stop()
	c.gone.Store(true)
	c.host.unwatchWorker(w)
	w.q.take(nil) // drop what was still queued
	close(c.done)
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

// Spawned is how many spawned scripts are running in the host.
func (h *Host) Spawned() int {
	n := 0
	for _, w := range h.watchedWorkers() {
		if w.until != nil {
			n++
		}
	}
	return n
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
