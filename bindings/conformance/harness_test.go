package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imscript/imscript/script"

	"github.com/imscript/imscript/internal/testutil"

	"github.com/imscript/imscript"
	"github.com/imscript/imscript/host"
)

// syncBuffer is a bytes.Buffer safe for the host's goroutines and the test.
type syncBuffer = testutil.SyncBuffer

// outcome is what a script run left behind.
type outcome struct {
	stdout, stderr, log string
	runErr              error // Run's error when the script failed to load
}

// runOpts say how to run one script.
type runOpts struct {
	files map[string]string // extra files beside the script
	env   map[string]string
	args  []string
	// until is printed by the script when it is done; "" means the host is
	// stopped as soon as it has started.
	until string
	// client, when set, runs once the host has started, with the port of
	// the script's first server.
	client func(t *testing.T, port int)
}

const waitLimit = 5 * time.Second

// runScript runs src as case<ext> in a fresh host with one worker and the
// probe module, waits until it prints opts.until, stops the host and
// returns what it printed and logged.
func runScript(t *testing.T, ext, src string, opts runOpts) outcome {
	t.Helper()
	dir := t.TempDir()
	for name, body := range opts.files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	script := filepath.Join(dir, "case"+ext)
	if err := os.WriteFile(script, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr, logs syncBuffer
	env := opts.env
	if env == nil {
		env = map[string]string{}
	}
	h, err := imscript.New(host.Config{
		Script:  script,
		Workers: 1,
		Env:     env,
		Args:    opts.args,
		Logger:  slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Stdout:  &stdout,
		Stderr:  &stderr,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.RegisterModule("probe", probeModule)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("\n--- stdout:\n%s--- stderr:\n%s--- log:\n%s", stdout.String(), stderr.String(), logs.String())
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- h.Run(ctx) }()
	out := func() outcome {
		return outcome{stdout: stdout.String(), stderr: stderr.String(), log: logs.String()}
	}
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	select {
	case err := <-errc:
		o := out()
		o.runErr = err
		if err == nil {
			o.runErr = errors.New("Run returned nil before the host started")
		}
		return o
	case <-h.Started():
	case <-deadline.C:
		t.Fatalf("host did not start within %v\nlog:\n%s", waitLimit, logs.String())
	}
	if opts.client != nil {
		srvs := h.Servers()
		if len(srvs) == 0 {
			t.Fatal("the script declared no server for the client")
		}
		opts.client(t, srvs[0].Port())
	}
	if opts.until != "" {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
	wait:
		for {
			if strings.Contains(stdout.String(), opts.until) {
				break
			}
			select {
			case <-tick.C:
			case err := <-errc:
				t.Fatalf("host stopped early: %v\nstdout:\n%s\nlog:\n%s", err, stdout.String(), logs.String())
			case <-deadline.C:
				t.Fatalf("script did not print %q within %v\nstdout:\n%s\nstderr:\n%s\nlog:\n%s",
					opts.until, waitLimit, stdout.String(), stderr.String(), logs.String())
				break wait
			}
		}
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-deadline.C:
		t.Fatalf("host did not stop within %v", waitLimit)
	}
	return out()
}

// probeModule is a Go module the cases use to see values cross the
// boundary: require("probe") / imscript.probe.
func probeModule(script.Instance) script.Value {
	return script.Map{
		// echo returns its argument: script -> Go -> script.
		"echo": script.Function(func(c script.Call) { c.Return(c.Arg(0)) }),
		// describe renders the Go value a script value became.
		"describe": script.Function(func(c script.Call) { c.ReturnStr(describe(c.Arg(0))) }),
		// value returns a Go value by name: Go -> script.
		"value": script.Function(func(c script.Call) {
			v, ok := goValues[c.Str(0, "name")]
			if !ok {
				script.Usagef("probe.value: unknown value %q", c.Str(0, "name"))
			}
			c.Return(v)
		}),
		// is256 says whether data holds exactly the bytes 0..255.
		"is256": script.Function(func(c script.Call) { c.ReturnBool(bytes.Equal(c.Bytes(0, "data"), all256())) }),
		// hex renders bytes as hex, to see them exactly.
		"hex": script.Function(func(c script.Call) { c.ReturnStr(fmt.Sprintf("%x", c.Bytes(0, "data"))) }),
		// multi returns two values (Lua sees both, JS the first).
		"multi": script.Function(func(c script.Call) { c.Return(int64(1), "two") }),
		// gopanic is a Go function with a bug: it writes to a nil map.
		"gopanic": script.Function(func(c script.Call) {
			var m map[string]int
			m["x"] = 1
		}),
		// later settles asynchronously from another goroutine: its argument
		// as the result, or, when it is "boom", as an error.
		"later": script.Function(func(c script.Call) {
			v := c.Arg(0)
			settle := c.Async(1)
			go func() {
				time.Sleep(time.Millisecond)
				if v == "boom" {
					settle(nil, errors.New("boom failed"))
					return
				}
				settle(v, nil)
			}()
		}),
		// fail is a routine failure.
		"fail": script.Function(func(c script.Call) { c.Fail("it did not work") }),
		// typed reads typed arguments, raising usage errors that name them.
		"typed": script.Function(func(c script.Call) {
			n := c.Int(0, "count")
			s := c.Str(1, "label")
			b := c.OptBool(2, "loud", false)
			c.ReturnStr(fmt.Sprintf("%d %s %v", n, s, b))
		}),
	}
}

func all256() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

var goValues = map[string]script.Value{
	"nil":    nil,
	"true":   true,
	"false":  false,
	"int":    int64(42),
	"neg":    int64(-7),
	"float":  3.25,
	"whole":  2.0,
	"big":    int64(1) << 40,
	"str":    "héllo wörld",
	"empty":  "",
	"bytes":  all256(),
	"text":   []byte("hello"),
	"list":   script.List{int64(1), "two", true},
	"map":    script.Map{"a": int64(1), "b": "x"},
	"nested": script.Map{"users": script.List{script.Map{"name": "ann", "tags": script.List{"a", "b"}}}, "meta": script.Map{"deep": script.Map{"ok": true}}},
}

// describe renders a neutral value canonically: numbers as %g, strings and
// bytes quoted alike, maps with sorted keys.
func describe(v script.Value) string { return testutil.Describe(v, false) }
