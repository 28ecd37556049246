package js

import (
	"testing"

	"github.com/imscript/imscript/host"
	"github.com/imscript/imscript/internal/testutil"
	"github.com/imscript/imscript/stdlib"
)

// run runs src as main.js on workers JS VMs (see testutil.BindingRun).
var run = testutil.BindingRunner(func() host.Language { return New() }, ".js", stdlib.Register, testModule)

func writeFiles(t *testing.T, files map[string]string) string { return testutil.WriteFiles(t, files) }

func describe(v host.Value) string { return testutil.Describe(v, true) }

// testModule is imscript.t / require("t"): the functions shared with the
// Lua tests (testutil.Module) and those only the JS tests use.
func testModule(inst *host.Instance) host.Value {
	return testutil.Module(host.Map{
		"give": testutil.Give(map[string]func() host.Value{
			"bytes": func() host.Value { return []byte("abc") },
			"big":   func() host.Value { return float64(1 << 53) },
			"half":  func() host.Value { return 2.5 },
		}),
		// opt returns its optional arguments (or their defaults) described
		// as one list, since a JS function returns a single value.
		"opt": host.Function(func(c host.Call) {
			c.ReturnStr(describe(host.List{c.OptInt(0, "n", 5), c.OptFloat(1, "f", 1.5), c.OptBool(2, "b", true),
				c.OptStr(3, "s", "def"), c.OptTable(4, "t") == nil}))
		}),
		"int": host.Function(func(c host.Call) { c.ReturnInt(c.Int(0, "n")) }),
		"str": host.Function(func(c host.Call) { c.ReturnStr(c.Str(0, "s")) }),
		// keep holds on to a value; kept returns what Go holds now.
		"keep": host.Function(func(c host.Call) { c.Instance().SetValue("kept", c.Arg(0)) }),
		"kept": host.Function(func(c host.Call) { c.ReturnStr(describe(c.Instance().Value("kept"))) }),
		// apply calls a script function through the VM and describes the result.
		"apply": host.Function(func(c host.Call) {
			v, err := c.Instance().VM().Call(c.Func(0, "fn"), c.Arg(1))
			if err != nil {
				c.ReturnStr("error: " + err.Error())
				return
			}
			c.ReturnStr(describe(v))
		}),
	})
}
