package lua_test

import (
	"testing"

	"github.com/imscript/imscript/bindings/lua"
	"github.com/imscript/imscript/script"
	"github.com/imscript/imscript/script/scripttest"

	"github.com/imscript/imscript/internal/testutil"
)

// run runs src as main.lua (plus files beside it) on workers Lua VMs with
// the standard modules and the test module, waits for stdout to hold until
// (or only for the load when until is ""), stops, and returns stdout and
// the log (scripttest.Run).
func run(t *testing.T, workers int, src, until string, files map[string]string) (stdout, logs string) {
	t.Helper()
	return scripttest.Run(t, scripttest.Options{
		Lang:      "lua",
		Src:       src,
		Files:     files,
		Workers:   workers,
		Languages: []script.Language{lua.New()},
		Modules:   []script.Module{{Name: "t", Build: testModule}},
	}, until)
}

func writeFiles(t *testing.T, files map[string]string) string { return testutil.WriteFiles(t, files) }

// testModule is imscript.t / require("t"): the functions shared with the
// JS tests (testutil.Module) and those only the Lua tests use.
func testModule(inst script.Instance) script.Value {
	return testutil.Module(script.Map{
		"give": testutil.Give(map[string]func() script.Value{
			"ints": func() script.Value { return []int64{3, 1, 2} },
			// deep nests 150 lists, deeper than maxDepth lets a value cross.
			"deep": func() script.Value {
				var v script.Value = "bottom"
				for i := 0; i < 150; i++ {
					v = script.List{v}
				}
				return v
			},
		}),
		"three": script.Function(func(c script.Call) { c.Return(int64(1), nil, "three") }),
		// opt returns its optional arguments (or their defaults) as separate
		// values, since Lua has multiple returns.
		"opt": script.Function(func(c script.Call) {
			c.Return(c.OptInt(0, "n", 5), c.OptFloat(1, "f", 1.5), c.OptBool(2, "b", true), c.OptStr(3, "s", "def"), c.OptTable(4, "t") == nil)
		}),
		"worker": script.Function(func(c script.Call) { c.ReturnInt(int64(c.Instance().WorkerID())) }),
		// protos counts the required modules compiled for this version.
		"protos": script.Function(func(c script.Call) {
			c.ReturnInt(int64(lua.CompiledModules(c.Instance().Program())))
		}),
	})
}
