package js

import (
	"strconv"
	"testing"

	"github.com/imscript/imscript/host"
	"github.com/imscript/imscript/internal/testutil"
	"github.com/imscript/imscript/stdlib"
)

// run loads main.js (plus files) on workers JS VMs with the standard
// modules and the test module, waits for stdout to hold until (or only
// for the load when until is ""), stops, and returns stdout and the log.
func run(t *testing.T, workers int, src, until string, files map[string]string) (stdout, logs string) {
	t.Helper()
	return testutil.Run(t, New(), ".js", workers, src, until, files, func(h *host.Host) {
		stdlib.Register(h)
		h.RegisterModule("t", testModule)
	})
}

func writeFiles(t *testing.T, files map[string]string) string { return testutil.WriteFiles(t, files) }

func describe(v host.Value) string { return testutil.Describe(v, true) }

// testModule is imscript.t / require("t").
func testModule(inst *host.Instance) host.Value {
	return host.Map{
		"describe": host.Function(func(c host.Call) { c.ReturnStr(describe(c.Arg(0))) }),
		"give": host.Function(func(c host.Call) {
			switch c.Str(0, "what") {
			case "bytes":
				c.Return([]byte("abc"))
			case "int":
				c.Return(7)
			case "big":
				c.Return(float64(1 << 53))
			case "half":
				c.Return(2.5)
			case "gofunc":
				c.Return(host.Function(func(c host.Call) { c.ReturnStr("from go " + c.Str(0, "x")) }))
			case "struct":
				c.Return(struct{}{})
			}
		}),
		"none":  host.Function(func(c host.Call) {}),
		"fail":  host.Function(func(c host.Call) { c.Fail("nope") }),
		"nargs": host.Function(func(c host.Call) { c.ReturnInt(int64(c.NArgs())) }),
		"opt": host.Function(func(c host.Call) {
			c.ReturnStr(describe(host.List{c.OptInt(0, "n", 5), c.OptFloat(1, "f", 1.5), c.OptBool(2, "b", true),
				c.OptStr(3, "s", "def"), c.OptTable(4, "t") == nil}))
		}),
		"int":      host.Function(func(c host.Call) { c.ReturnInt(c.Int(0, "n")) }),
		"str":      host.Function(func(c host.Call) { c.ReturnStr(c.Str(0, "s")) }),
		"table":    host.Function(func(c host.Call) { c.ReturnStr(describe(c.Table(0, "opts"))) }),
		"iterable": host.Function(newIterable), // iter_test.go
		"record":   host.Function(record),      // iter_test.go
		"bytes":    host.Function(func(c host.Call) { c.ReturnStr(strconv.Quote(string(c.Bytes(0, "data")))) }),
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
	}
}
