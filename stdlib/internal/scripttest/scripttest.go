// Package scripttest runs small scripts in an in-process host for the
// standard modules' tests: write the script, run it with every standard
// module, wait for what it prints, stop it.
package scripttest

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imscript/imscript/host"
	"github.com/imscript/imscript/internal/testutil"

	"github.com/imscript/imscript"
)

// WaitLimit bounds every wait: generous, for a slow and busy machine.
const WaitLimit = 20 * time.Second

// Langs are the script languages; tests run their scripts in each.
var Langs = []string{"lua", "js"}

type syncBuffer = testutil.SyncBuffer

// Host is a script running in a host in this process.
type Host struct {
	t      *testing.T
	H      *host.Host
	Dir    string
	stdout syncBuffer
	logs   syncBuffer
}

// Start writes src as script.<lang> in a fresh folder and runs it on one
// worker with env as its environment. The host stops when the test ends;
// its output is logged if the test failed.
func Start(t *testing.T, lang, src string, env map[string]string) *Host {
	t.Helper()
	r := &Host{t: t, Dir: t.TempDir()}
	script := filepath.Join(r.Dir, "script."+lang)
	if err := os.WriteFile(script, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if env == nil {
		env = map[string]string{}
	}
	h, err := imscript.New(host.Config{
		Script:  script,
		Workers: 1,
		Env:     env,
		Logger:  slog.New(slog.NewTextHandler(&r.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Stdout:  &r.stdout,
		Stderr:  &r.stdout,
	})
	if err != nil {
		t.Fatal(err)
	}
	r.H = h
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("\n--- stdout:\n%s--- log:\n%s", r.stdout.String(), r.logs.String())
		}
	})
	testutil.Start(t, h, WaitLimit, nil)
	return r
}

// Stdout is what the script printed so far.
func (r *Host) Stdout() string { return r.stdout.String() }

// Logs is what the host logged so far.
func (r *Host) Logs() string { return r.logs.String() }

// Wait waits until the script has printed s and returns everything it
// printed.
func (r *Host) Wait(s string) string {
	r.t.Helper()
	deadline := time.Now().Add(WaitLimit)
	for !strings.Contains(r.stdout.String(), s) {
		if time.Now().After(deadline) {
			r.t.Fatalf("the script did not print %q within %v", s, WaitLimit)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return r.stdout.String()
}

// Expect waits for the script to print last and then compares everything
// it printed with want.
func (r *Host) Expect(last, want string) {
	r.t.Helper()
	got := r.Wait(last)
	if got != want {
		r.t.Fatalf("the script printed:\n%s\nwant:\n%s", got, want)
	}
}
