// Package scripttest is how imscript's tests (and an embedder's) run
// scripts: Start runs a script in a real host in the test's process, with
// the standard modules and any test modules, and waits for what it prints;
// Instance and Invoke test one module function against a fake instance,
// with no VM at all.
package scripttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imscript/imscript"
	"github.com/imscript/imscript/script"
)

// WaitLimit bounds every wait: generous, for a slow and busy machine.
const WaitLimit = 20 * time.Second

// Langs are the script languages; tests run their scripts in each.
var Langs = []string{"lua", "js"}

// Options say what to run and how.
type Options struct {
	// Name is the main script's file name; its extension picks the
	// language ("main.lua" when empty and Lang is empty).
	Name string
	// Lang names the language when Name is empty: the script is "main." +
	// Lang.
	Lang string
	// Src is the main script.
	Src string
	// Files are written beside the script (names may hold folders).
	Files map[string]string
	// Workers is the number of workers (default 1).
	Workers int
	// Env is the script's environment (default empty, not the test's).
	Env map[string]string
	// Args are the script's arguments.
	Args []string
	// Modules are registered after the standard modules.
	Modules []script.Module
	// Languages replace imscript.Languages() (a binding's test passes its
	// own).
	Languages []script.Language
	// Config, when set, has the last word on the host's configuration
	// (GCMinHeap, Watch, Broker, ...).
	Config func(*imscript.Config)
}

// Host is a script in a host in the test's process.
type Host struct {
	tb     testing.TB
	H      *imscript.Host
	Dir    string // the script's folder
	Script string // the main script's path

	stdout, stderr, logs Buffer

	cancel context.CancelFunc
	errc   chan error
	ran    bool
	done   bool
	err    error
}

// New writes the script and its files into a fresh folder and creates its
// host, not yet running. The host stops when the test ends; its output is
// logged if the test failed.
func New(tb testing.TB, o Options) *Host {
	tb.Helper()
	name := o.Name
	if name == "" {
		lang := o.Lang
		if lang == "" {
			lang = "lua"
		}
		name = "main." + lang
	}
	r := &Host{tb: tb, Dir: tb.TempDir(), errc: make(chan error, 1)}
	r.Script = filepath.Join(r.Dir, name)
	r.Write(name, o.Src)
	for n, body := range o.Files {
		r.Write(n, body)
	}
	workers := o.Workers
	if workers == 0 {
		workers = 1
	}
	env := o.Env
	if env == nil {
		env = map[string]string{}
	}
	cfg := imscript.Config{
		Script:    r.Script,
		Workers:   workers,
		Env:       env,
		Args:      o.Args,
		Languages: o.Languages,
		Logger:    slog.New(slog.NewTextHandler(&r.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Stdout:    &r.stdout,
		Stderr:    &r.stderr,
	}
	if o.Config != nil {
		o.Config(&cfg)
	}
	h, err := imscript.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	for _, m := range o.Modules {
		h.RegisterModule(m.Name, m.Build)
	}
	r.H = h
	tb.Cleanup(func() {
		_ = r.stopQuietly()
		if tb.Failed() {
			tb.Logf("\n--- stdout:\n%s--- stderr:\n%s--- log:\n%s", r.Stdout(), r.Stderr(), r.Logs())
		}
	})
	return r
}

// Start is New, then Run.
func Start(tb testing.TB, o Options) *Host {
	tb.Helper()
	return New(tb, o).Run()
}

// Run starts the host and waits until it has started; the test fails when
// it does not.
func (r *Host) Run() *Host {
	r.tb.Helper()
	if err := r.TryRun(); err != nil {
		r.tb.Fatalf("Run: %v", err)
	}
	return r
}

// TryRun starts the host and waits until it has started, or returns the
// error that kept it from starting (a syntax error, a port taken).
func (r *Host) TryRun() error {
	r.tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.ran = cancel, true
	go func() { r.errc <- r.H.Run(ctx) }()
	select {
	case <-r.H.Started():
		return nil
	case err := <-r.errc:
		r.done, r.err = true, err
		if err == nil {
			err = errors.New("Run returned nil before the host started")
		}
		return err
	case <-time.After(WaitLimit):
		r.tb.Fatalf("the host did not start within %v", WaitLimit)
		return nil
	}
}

// Stop stops the host (as SIGTERM would) and returns Run's error; a host
// that does not stop fails the test. Later calls return the same error.
func (r *Host) Stop() error {
	r.tb.Helper()
	if !r.ran || r.done {
		return r.err
	}
	r.cancel()
	return r.Wait()
}

func (r *Host) stopQuietly() error {
	if !r.ran || r.done {
		return r.err
	}
	r.cancel()
	return r.wait()
}

// Wait waits for Run to return by itself (srv:shutdown(), H.Shutdown())
// and returns its error.
func (r *Host) Wait() error {
	r.tb.Helper()
	if !r.ran || r.done {
		return r.err
	}
	return r.wait()
}

func (r *Host) wait() error {
	select {
	case r.err = <-r.errc:
	case <-time.After(WaitLimit):
		r.err = errors.New("the host did not stop")
		r.tb.Error(r.err)
	}
	r.done = true
	return r.err
}

// Stopped says whether Run has returned, without waiting.
func (r *Host) Stopped() bool {
	if r.done {
		return true
	}
	select {
	case r.err = <-r.errc:
		r.done = true
	default:
	}
	return r.done
}

// Write writes a file beside the script (name may hold folders).
func (r *Host) Write(name, src string) {
	r.tb.Helper()
	p := filepath.Join(r.Dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.tb.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		r.tb.Fatal(err)
	}
}

// Reload rewrites the main script with src and reloads it at once; the
// test fails when the reload does.
func (r *Host) Reload(src string) {
	r.tb.Helper()
	if err := os.WriteFile(r.Script, []byte(src), 0o644); err != nil {
		r.tb.Fatal(err)
	}
	if err := r.H.ReloadNow("test"); err != nil {
		r.tb.Fatalf("reload: %v", err)
	}
}

// Port is the bound port of the i-th server the script declared.
func (r *Host) Port(i int) int {
	r.tb.Helper()
	srvs := r.H.Servers()
	if i >= len(srvs) {
		r.tb.Fatalf("the script declared %d servers, not %d", len(srvs), i+1)
	}
	return srvs[i].Port()
}

// Stdout is what the script printed so far (print, console.log).
func (r *Host) Stdout() string { return r.stdout.String() }

// Stderr is what the script wrote to stderr (console.error).
func (r *Host) Stderr() string { return r.stderr.String() }

// Logs is what the host logged so far (text, debug level).
func (r *Host) Logs() string { return r.logs.String() }

// LogLines is the log's lines at level WARN and ERROR.
func (r *Host) LogLines() string {
	var out []string
	for _, l := range strings.Split(r.Logs(), "\n") {
		if strings.Contains(l, "level=ERROR") || strings.Contains(l, "level=WARN") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// Eventually polls cond until it holds; the test fails after WaitLimit.
func (r *Host) Eventually(what string, cond func() bool) {
	r.tb.Helper()
	deadline := time.Now().Add(WaitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			stopped := ""
			if r.ran && r.Stopped() {
				stopped = fmt.Sprintf(" (the host had stopped: %v)", r.err)
			}
			r.tb.Fatalf("timed out after %v waiting for %s%s", WaitLimit, what, stopped)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// WaitStdout waits until the script has printed s and returns everything
// it printed.
func (r *Host) WaitStdout(s string) string {
	r.tb.Helper()
	r.Eventually("stdout to hold "+strconv.Quote(s), func() bool { return strings.Contains(r.Stdout(), s) })
	return r.Stdout()
}

// WaitLog waits until the host has logged s.
func (r *Host) WaitLog(s string) {
	r.tb.Helper()
	r.Eventually("the log to hold "+strconv.Quote(s), func() bool { return strings.Contains(r.Logs(), s) })
}

// Expect waits for the script to print last and then compares everything
// it printed with want.
func (r *Host) Expect(last, want string) {
	r.tb.Helper()
	if got := r.WaitStdout(last); got != want {
		r.tb.Fatalf("the script printed:\n%s\nwant:\n%s", got, want)
	}
}

// Run runs a script to a point: it starts the host, waits until stdout
// holds until (only for the start when until is ""), stops the host, and
// returns what the script printed and what the host logged.
func Run(tb testing.TB, o Options, until string) (stdout, logs string) {
	tb.Helper()
	r := Start(tb, o)
	if until != "" {
		r.WaitStdout(until)
	}
	if err := r.Stop(); err != nil {
		tb.Fatalf("Run: %v", err)
	}
	return r.Stdout(), r.Logs()
}

// Buffer is a bytes.Buffer safe for the host's goroutines and the test.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
