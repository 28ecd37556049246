package table_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imscript/imscript/script"

	"github.com/imscript/imscript/internal/testutil"

	"github.com/imscript/imscript"
	"github.com/imscript/imscript/host"
)

type syncBuffer = testutil.SyncBuffer

// entry is a script function a worker handed to Go through
// imscript.harness.ready(name, fn).
type entry struct {
	inst script.Instance
	fn   script.Callback
}

// running is a host running one script with the harness module.
type running struct {
	tb      testing.TB
	path    string
	h       *host.Host
	stdout  syncBuffer
	logs    syncBuffer
	mu      sync.Mutex
	entries map[string][]entry // by name, one per worker in load order
	host    *testutil.Running
}

// start runs src as main.<lang> on workers VMs and waits until the host has
// started.
func start(tb testing.TB, lang, src string, workers int) *running {
	tb.Helper()
	dir := tb.TempDir()
	path := filepath.Join(dir, "main."+lang)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		tb.Fatal(err)
	}
	r := &running{tb: tb, path: path, entries: map[string][]entry{}}
	h, err := imscript.New(host.Config{
		Script:  path,
		Workers: workers,
		Env:     map[string]string{},
		// As `imscript run` does.
		GCMinHeap: host.DefaultGCMinHeap,
		Logger:    slog.New(slog.NewTextHandler(&r.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Stdout:    &r.stdout,
		Stderr:    &r.stdout,
	})
	if err != nil {
		tb.Fatal(err)
	}
	r.h = h
	h.RegisterModule("harness", func(inst script.Instance) script.Value {
		return script.Map{"noop": script.Function(func(c script.Call) {}), "ready": script.Function(func(c script.Call) {
			name := c.Str(0, "name")
			fn := c.Func(1, "fn")
			r.mu.Lock()
			r.entries[name] = append(r.entries[name], entry{inst, fn})
			r.mu.Unlock()
		})}
	})
	r.host = testutil.Start(tb, h, 10*time.Second, func() string { return "log:\n" + r.logs.String() })
	return r
}

// stop stops the host.
func (r *running) stop() { _ = r.host.Stop(10 * time.Second) }

// reload rewrites the script with src and reloads it. The new version's
// functions are appended to the old ones'.
func (r *running) reload(src string) {
	r.tb.Helper()
	if err := os.WriteFile(r.path, []byte(src), 0o644); err != nil {
		r.tb.Fatal(err)
	}
	if err := r.h.ReloadNow("test"); err != nil {
		r.tb.Fatalf("reload: %v", err)
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

// errors is the log's error lines.
func (r *running) errors() string {
	var out []string
	for _, l := range strings.Split(r.logs.String(), "\n") {
		if strings.Contains(l, "level=ERROR") || strings.Contains(l, "level=WARN") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
