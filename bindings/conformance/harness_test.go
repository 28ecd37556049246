package conformance

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/imscript/imscript/script"
	"github.com/imscript/imscript/script/scripttest"

	"github.com/imscript/imscript/internal/testutil"
)

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

// waitLimit bounds a client's exchange with the script.
const waitLimit = 5 * time.Second

// runScript runs src as case<ext> in a fresh host (scripttest) with one
// worker and the probe module, waits until it prints opts.until, stops the
// host and returns what it printed and logged. A script that fails to load
// is no failure here: the outcome holds the error (runErr). scripttest logs
// the output when the test fails.
func runScript(t *testing.T, ext, src string, opts runOpts) outcome {
	t.Helper()
	h := scripttest.New(t, scripttest.Options{
		Name:    "case" + ext,
		Src:     src,
		Files:   opts.files,
		Workers: 1,
		Env:     opts.env,
		Args:    opts.args,
		Modules: []script.Module{{Name: "probe", Build: probeModule}},
	})
	out := func() outcome {
		return outcome{stdout: h.Stdout(), stderr: h.Stderr(), log: h.Logs()}
	}
	if err := h.TryRun(); err != nil {
		o := out()
		o.runErr = err
		return o
	}
	if opts.client != nil {
		opts.client(t, h.Port(0))
	}
	if opts.until != "" {
		h.WaitStdout(opts.until)
	}
	if err := h.Stop(); err != nil {
		t.Fatalf("Run: %v", err)
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
