package table_test

import (
	"sync"
	"testing"
	"time"

	"github.com/imscript/imscript"
	"github.com/imscript/imscript/script"
	"github.com/imscript/imscript/script/scripttest"
)

// entry is a script function a worker handed to Go through
// imscript.harness.ready(name, fn).
type entry struct {
	inst script.Instance
	fn   script.Callback
}

// running is a script in a scripttest host with the harness module: its
// workers hand functions to Go with imscript.harness.ready(name, fn), and
// call runs them on their worker. imscript.harness.noop does nothing (the
// floor of a call from a script).
type running struct {
	*scripttest.Host
	tb      testing.TB
	mu      sync.Mutex
	entries map[string][]entry // by name, one per worker in load order
}

// start runs src as main.<lang> on workers VMs, with the GC floor `imscript
// run` sets, and waits until the host has started. A reload (Reload) adds
// the new version's functions after the old ones'.
func start(tb testing.TB, lang, src string, workers int) *running {
	tb.Helper()
	r := &running{tb: tb, entries: map[string][]entry{}}
	r.Host = scripttest.Start(tb, scripttest.Options{
		Lang: lang, Src: src, Workers: workers,
		Modules: []script.Module{{Name: "harness", Build: r.harness}},
		Config:  func(c *imscript.Config) { c.GCMinHeap = imscript.DefaultGCMinHeap },
	})
	return r
}

// harness builds imscript.harness for one instance.
func (r *running) harness(inst script.Instance) script.Value {
	return script.Map{
		"noop": script.Function(func(c script.Call) {}),
		"ready": script.Function(func(c script.Call) {
			name := c.Str(0, "name")
			fn := c.Func(1, "fn")
			r.mu.Lock()
			r.entries[name] = append(r.entries[name], entry{inst, fn})
			r.mu.Unlock()
		}),
	}
}

// call runs the function worker w registered under name with args, on
// that worker, and returns its result.
func (r *running) call(name string, w int, args ...script.Value) script.Value {
	r.mu.Lock()
	es := r.entries[name]
	r.mu.Unlock()
	if w >= len(es) {
		r.tb.Fatalf("no function %q for worker %d (have %d)", name, w, len(es))
	}
	e := es[w]
	done := make(chan script.Value, 1)
	e.inst.Post(func() { done <- e.inst.Call("harness "+name, e.fn, args...) })
	select {
	case v := <-done:
		return v
	case <-time.After(60 * time.Second):
		r.tb.Fatalf("%s on worker %d did not return", name, w)
		return nil
	}
}
