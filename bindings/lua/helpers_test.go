package lua

import (
	"testing"

	"github.com/imscript/imscript/host"
	"github.com/imscript/imscript/script"

	"github.com/imscript/imscript/internal/testutil"
	"github.com/imscript/imscript/stdlib"
)

// run runs src as main.lua on workers Lua VMs (see testutil.BindingRun).
var run = testutil.BindingRunner(func() script.Language { return New() }, ".lua", func(h *host.Host) {
	for _, m := range stdlib.Modules() {
		h.RegisterModule(m.Name, m.Build)
	}
}, testModule)

func writeFiles(t *testing.T, files map[string]string) string { return testutil.WriteFiles(t, files) }

func describe(v script.Value) string { return testutil.Describe(v, true) }

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
			p := c.Instance().Program().(*program)
			p.mu.Lock()
			defer p.mu.Unlock()
			c.ReturnInt(int64(len(p.modules)))
		}),
	})
}
