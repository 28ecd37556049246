package js_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/imscript/imscript/bindings/js"
	"github.com/imscript/imscript/script"
	"github.com/imscript/imscript/script/scripttest"

	"github.com/imscript/imscript/internal/testutil"
)

// run runs src as main.js (plus files beside it) on workers JS VMs with
// the standard modules and the test module, waits for stdout to hold until
// (or only for the load when until is ""), stops, and returns stdout and
// the log (scripttest.Run).
func run(t *testing.T, workers int, src, until string, files map[string]string) (stdout, logs string) {
	t.Helper()
	return scripttest.Run(t, scripttest.Options{
		Lang:      "js",
		Src:       src,
		Files:     files,
		Workers:   workers,
		Languages: []script.Language{js.New()},
		Modules:   []script.Module{{Name: "t", Build: testModule}},
	}, until)
}

// runNamed is run with the main script named name (main.mjs, ...).
func runNamed(t *testing.T, workers int, name, src, until string, files map[string]string) (stdout, logs string) {
	t.Helper()
	return scripttest.Run(t, scripttest.Options{
		Name:      name,
		Src:       src,
		Files:     files,
		Workers:   workers,
		Languages: []script.Language{js.New()},
		Modules:   []script.Module{{Name: "t", Build: testModule}},
	}, until)
}

// eachWorker says whether out is want printed by each of n workers: the
// same lines, each n times, every worker's in want's order (lines of
// different workers may interleave).
func eachWorker(out, want string, n int) bool {
	wl := strings.Split(strings.TrimSuffix(want, "\n"), "\n")
	seen := make([]int, n) // per worker: how many of wl it printed
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		ok := false
		for w := range seen {
			if seen[w] < len(wl) && wl[seen[w]] == l {
				seen[w]++
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	for _, c := range seen {
		if c != len(wl) {
			return false
		}
	}
	return true
}

func writeFiles(t *testing.T, files map[string]string) string { return testutil.WriteFiles(t, files) }

func describe(v script.Value) string { return testutil.Describe(v, true) }

// kept is what t.keep holds, per instance.
var kept sync.Map

// testModule is imscript.t / require("t"): the functions shared with the
// Lua tests (testutil.Module) and those only the JS tests use.
func testModule(inst script.Instance) script.Value {
	return testutil.Module(script.Map{
		"give": testutil.Give(map[string]func() script.Value{
			"bytes":    func() script.Value { return []byte("abc") },
			"big":      func() script.Value { return float64(1 << 53) },
			"half":     func() script.Value { return 2.5 },
			"int64":    func() script.Value { return int64(1<<53 + 1) },
			"int64min": func() script.Value { return int64(-1 << 63) },
		}),
		// opt returns its optional arguments (or their defaults) described
		// as one list, since a JS function returns a single value.
		"opt": script.Function(func(c script.Call) {
			c.ReturnStr(describe(script.List{c.OptInt(0, "n", 5), c.OptFloat(1, "f", 1.5), c.OptBool(2, "b", true),
				c.OptStr(3, "s", "def"), c.OptTable(4, "t") == nil}))
		}),
		"int": script.Function(func(c script.Call) { c.ReturnInt(c.Int(0, "n")) }),
		"str": script.Function(func(c script.Call) { c.ReturnStr(c.Str(0, "s")) }),
		// keep holds on to a value; kept returns what Go holds now.
		"keep": script.Function(func(c script.Call) { kept.Store(c.Instance(), c.Arg(0)) }),
		"kept": script.Function(func(c script.Call) { v, _ := kept.Load(c.Instance()); c.ReturnStr(describe(v)) }),
		// apply calls a script function through the VM and describes the result.
		"apply": script.Function(func(c script.Call) {
			v, err := js.CallVM(c, c.Func(0, "fn"), c.Arg(1))
			if err != nil {
				c.ReturnStr("error: " + err.Error())
				return
			}
			c.ReturnStr(describe(v))
		}),
	})
}
