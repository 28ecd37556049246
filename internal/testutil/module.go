package testutil

import (
	"strconv"

	"github.com/imscript/imscript/script"
)

// The bindings' tests each register a test module, imscript.t (require("t")),
// to call Go from a script. What follows is the part of that module that is
// the same in every language, so that the Lua and JS tests exercise the
// same Go functions and differ only in their scripts and in the functions
// that test what one binding alone has.

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
func Module(extra script.Map) script.Map {
	m := script.Map{
		"describe": script.Function(func(c script.Call) { c.ReturnStr(Describe(c.Arg(0), true)) }),
		"none":     script.Function(func(c script.Call) {}),
		"nargs":    script.Function(func(c script.Call) { c.ReturnInt(int64(c.NArgs())) }),
		"fail":     script.Function(func(c script.Call) { c.Fail("nope") }),
		"table":    script.Function(func(c script.Call) { c.ReturnStr(Describe(c.Table(0, "opts"), true)) }),
		"iterable": script.Function(NewIterable),
		"record":   script.Function(Record),
		"bytes":    script.Function(func(c script.Call) { c.ReturnStr(strconv.Quote(string(c.Bytes(0, "data")))) }),
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// Give returns t.give(what), which returns a Go value of the kind what
// names, to test how a binding converts it: "int" (a Go int, 7), "gofunc"
// (a script.Function returning "from go " and its argument), "struct" (a
// type that has no script form), or one of the binding's own kinds in
// more, made afresh on every call. It returns nothing for another what.
func Give(more map[string]func() script.Value) script.Function {
	return func(c script.Call) {
		switch what := c.Str(0, "what"); what {
		case "int":
			c.Return(7)
		case "gofunc":
			c.Return(script.Function(func(c script.Call) { c.ReturnStr("from go " + c.Str(0, "x")) }))
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
var IterableType = &script.Type{
	Name:    "iterable",
	Methods: map[string]script.Function{"size": func(c script.Call) { c.ReturnInt(int64(c.Self().Data.(int))) }},
	Props:   map[string]func(o *script.Object) script.Value{"n": func(o *script.Object) script.Value { return int64(o.Data.(int)) }},
	Iter: func(o *script.Object) func() (script.Value, script.Value, bool) {
		i, n := 0, o.Data.(int)
		return func() (script.Value, script.Value, bool) {
			if i == n {
				return nil, nil, false
			}
			i++
			return "k" + strconv.Itoa(i), script.Map{"i": int64(i)}, true
		}
	},
}

// NewIterable is t.iterable(n): an object of IterableType iterating k1..kn.
func NewIterable(c script.Call) {
	c.Return(&script.Object{Type: IterableType, Data: int(c.Int(0, "n"))})
}

// Record is t.record(rec): it reads fields a, b and missing of its argument
// with Fields and returns them with ReturnFields as b, a, missing.
func Record(c script.Call) {
	vals := make([]script.Value, 3)
	c.Fields(0, "rec", []string{"a", "b", "missing"}, vals)
	c.ReturnFields([]string{"b", "a", "missing"}, vals)
}
