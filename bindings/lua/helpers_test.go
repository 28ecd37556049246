package lua

import (
	"testing"

	"github.com/imscript/imscript/host"
	"github.com/imscript/imscript/internal/testutil"
	"github.com/imscript/imscript/stdlib"
)

// run runs src as main.lua on workers Lua VMs (see testutil.BindingRun).
var run = testutil.BindingRunner(func() host.Language { return New() }, ".lua", stdlib.Register, testModule)

func writeFiles(t *testing.T, files map[string]string) string { return testutil.WriteFiles(t, files) }

func describe(v host.Value) string { return testutil.Describe(v, true) }

// testModule is imscript.t / require("t"): the functions shared with the
// JS tests (testutil.Module) and those only the Lua tests use.
func testModule(inst *host.Instance) host.Value {
	return testutil.Module(host.Map{
		"give": testutil.Give(map[string]func() host.Value{
			"ints": func() host.Value { return []int64{3, 1, 2} },
			// deep nests 150 lists, deeper than maxDepth lets a value cross.
			"deep": func() host.Value {
				var v host.Value = "bottom"
				for i := 0; i < 150; i++ {
					v = host.List{v}
				}
				return v
			},
		}),
		"three": host.Function(func(c host.Call) { c.Return(int64(1), nil, "three") }),
		// opt returns its optional arguments (or their defaults) as separate
		// values, since Lua has multiple returns.
		"opt": host.Function(func(c host.Call) {
			c.Return(c.OptInt(0, "n", 5), c.OptFloat(1, "f", 1.5), c.OptBool(2, "b", true), c.OptStr(3, "s", "def"), c.OptTable(4, "t") == nil)
		}),
		"worker": host.Function(func(c host.Call) { c.ReturnInt(int64(c.Instance().WorkerID())) }),
		// protos counts the required modules compiled for this version.
		"protos": host.Function(func(c host.Call) {
			p := c.Instance().Program().(*program)
			p.mu.Lock()
			defer p.mu.Unlock()
			c.ReturnInt(int64(len(p.modules)))
		}),
	})
}
