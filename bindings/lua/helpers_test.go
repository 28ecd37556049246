package lua

import (
	"strconv"
	"testing"

	"github.com/imscript/imscript/host"
	"github.com/imscript/imscript/internal/testutil"
	"github.com/imscript/imscript/stdlib"
)

// run loads main.lua (plus files) on workers Lua VMs with the standard
// modules and the test module, waits for stdout to hold until (or only
// for the load when until is ""), stops, and returns stdout and the log.
func run(t *testing.T, workers int, src, until string, files map[string]string) (stdout, logs string) {
	t.Helper()
	return testutil.Run(t, New(), ".lua", workers, src, until, files, func(h *host.Host) {
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
			case "ints":
				c.Return([]int64{3, 1, 2})
			case "int":
				c.Return(7)
			case "gofunc":
				c.Return(host.Function(func(c host.Call) { c.ReturnStr("from go " + c.Str(0, "x")) }))
			case "struct":
				c.Return(struct{}{})
			case "deep":
				var v host.Value = "bottom"
				for i := 0; i < 150; i++ {
					v = host.List{v}
				}
				c.Return(v)
			}
		}),
		"none":  host.Function(func(c host.Call) {}),
		"three": host.Function(func(c host.Call) { c.Return(int64(1), nil, "three") }),
		"nargs": host.Function(func(c host.Call) { c.ReturnInt(int64(c.NArgs())) }),
		"fail":  host.Function(func(c host.Call) { c.Fail("nope") }),
		"opt": host.Function(func(c host.Call) {
			c.Return(c.OptInt(0, "n", 5), c.OptFloat(1, "f", 1.5), c.OptBool(2, "b", true), c.OptStr(3, "s", "def"), c.OptTable(4, "t") == nil)
		}),
		"table":    host.Function(func(c host.Call) { c.ReturnStr(describe(c.Table(0, "opts"))) }),
		"iterable": host.Function(newIterable), // iter_test.go
		"record":   host.Function(record),      // iter_test.go
		"bytes":    host.Function(func(c host.Call) { c.ReturnStr(strconv.Quote(string(c.Bytes(0, "data")))) }),
		"worker":   host.Function(func(c host.Call) { c.ReturnInt(int64(c.Instance().WorkerID())) }),
		// protos counts the required modules compiled for this version.
		"protos": host.Function(func(c host.Call) {
			p := c.Instance().Program().(*program)
			p.mu.Lock()
			defer p.mu.Unlock()
			c.ReturnInt(int64(len(p.modules)))
		}),
	}
}
