package testutil

import (
	"strconv"
	"testing"

	"github.com/imscript/imscript/host"
)

// The bindings' tests each register a test module, imscript.t (require("t")),
// to call Go from a script. What follows is the part of that module that is
// the same in every language, so that the Lua and JS tests exercise the
// same Go functions and differ only in their scripts and in the functions
// that test what one binding alone has.

// BindingRun is the run helper of a binding's tests: it loads main<ext>
// (src, plus files beside it) on workers VMs of the binding's language with
// the standard modules and the test module, waits for stdout to hold until
// (or only for the load when until is ""), stops, and returns stdout and
// the log.
type BindingRun func(t *testing.T, workers int, src, until string, files map[string]string) (stdout, logs string)

// BindingRunner returns the BindingRun of a binding: Run on a fresh
// Language from newLang for every script, with the standard modules
// registered by register (stdlib.Register, which this package cannot
// import: the standard modules' own tests import it) and module as "t".
func BindingRunner(newLang func() host.Language, ext string, register func(*host.Host), module host.ModuleFunc) BindingRun {
	return func(t *testing.T, workers int, src, until string, files map[string]string) (stdout, logs string) {
		t.Helper()
		return Run(t, newLang(), ext, workers, src, until, files, func(h *host.Host) {
			register(h)
			h.RegisterModule("t", module)
		})
	}
}

// Module returns the shared test functions with the binding's own (extra)
// added; an extra function replaces a shared one of the same name.
//
//   - describe(v) is Describe(v, true) of the value the script passed.
//   - none() returns nothing; nargs(...) returns how many arguments it got;
//     fail() fails the call with "nope".
//   - table(opts) describes its table argument.
//   - iterable(n) is an object iterating k1..kn (IterableType); record(rec)
//     is Record.
//   - bytes(data) returns the quoted bytes of its binary argument.
func Module(extra host.Map) host.Map {
	m := host.Map{
		"describe": host.Function(func(c host.Call) { c.ReturnStr(Describe(c.Arg(0), true)) }),
		"none":     host.Function(func(c host.Call) {}),
		"nargs":    host.Function(func(c host.Call) { c.ReturnInt(int64(c.NArgs())) }),
		"fail":     host.Function(func(c host.Call) { c.Fail("nope") }),
		"table":    host.Function(func(c host.Call) { c.ReturnStr(Describe(c.Table(0, "opts"), true)) }),
		"iterable": host.Function(NewIterable),
		"record":   host.Function(Record),
		"bytes":    host.Function(func(c host.Call) { c.ReturnStr(strconv.Quote(string(c.Bytes(0, "data")))) }),
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// Give returns t.give(what), which returns a Go value of the kind what
// names, to test how a binding converts it: "int" (a Go int, 7), "gofunc"
// (a host.Function returning "from go " and its argument), "struct" (a
// type that has no script form), or one of the binding's own kinds in
// more, made afresh on every call. It returns nothing for another what.
func Give(more map[string]func() host.Value) host.Function {
	return func(c host.Call) {
		switch what := c.Str(0, "what"); what {
		case "int":
			c.Return(7)
		case "gofunc":
			c.Return(host.Function(func(c host.Call) { c.ReturnStr("from go " + c.Str(0, "x")) }))
		case "struct":
			c.Return(struct{}{})
		default:
			if mk, ok := more[what]; ok {
				c.Return(mk())
			}
		}
	}
}

// IterableType is a generic iterable host type (Type.Iter) with a method,
// size, and a property, n: an object of it holds its length n as Data and
// iterates "k1".."kn", each with the value {i = its number}.
var IterableType = &host.Type{
	Name:    "iterable",
	Methods: map[string]host.Function{"size": func(c host.Call) { c.ReturnInt(int64(c.Self().Data.(int))) }},
	Props:   map[string]func(o *host.Object) host.Value{"n": func(o *host.Object) host.Value { return int64(o.Data.(int)) }},
	Iter: func(o *host.Object) func() (host.Value, host.Value, bool) {
		i, n := 0, o.Data.(int)
		return func() (host.Value, host.Value, bool) {
			if i == n {
				return nil, nil, false
			}
			i++
			return "k" + strconv.Itoa(i), host.Map{"i": int64(i)}, true
		}
	},
}

// NewIterable is t.iterable(n): an object of IterableType iterating k1..kn.
func NewIterable(c host.Call) {
	c.Return(&host.Object{Type: IterableType, Data: int(c.Int(0, "n"))})
}

// Record is t.record(rec): it reads fields a, b and missing of its argument
// with Fields and returns them with ReturnFields as b, a, missing.
func Record(c host.Call) {
	vals := make([]host.Value, 3)
	c.Fields(0, "rec", []string{"a", "b", "missing"}, vals)
	c.ReturnFields([]string{"b", "a", "missing"}, vals)
}
