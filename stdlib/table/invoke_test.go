package table_test

import (
	"strings"
	"testing"

	"github.com/imscript/imscript/internal/testutil"
	"github.com/imscript/imscript/script"
	"github.com/imscript/imscript/script/scripttest"
	"github.com/imscript/imscript/stdlib/table"
)

// The module's functions as a script calls them, on a fake instance: no
// host, no VM.

// modules returns imscript.table and imscript.atomic as inst's scripts see
// them.
func modules(t *testing.T, inst script.Instance) (declare, atomic script.Function) {
	t.Helper()
	for _, m := range table.Modules() {
		switch m.Name {
		case "table":
			declare = m.Build(inst).(script.Function)
		case "atomic":
			atomic = m.Build(inst).(script.Function)
		}
	}
	if declare == nil || atomic == nil {
		t.Fatal("table.Modules lacks table or atomic")
	}
	return declare, atomic
}

func TestDeclareSetGetIncrThroughInvoke(t *testing.T) {
	inst := scripttest.NewInstance(t)
	declare, _ := modules(t, inst)
	cols := script.Map{"fd": "int", "name": script.List{"string", int64(8)}, "score": "float"}
	r := inst.Invoke(declare, nil, "users", script.Map{"size": int64(2), "max_size": int64(2), "columns": cols})
	tb, ok := r.Value().(*script.Object)
	if r.Usage != "" || !ok || tb.Type.Name != "table" {
		t.Fatalf("imscript.table(users) = %+v", r)
	}
	// Declared again, or looked up by name: the same object.
	if again := inst.Invoke(declare, nil, "users").Value(); again != tb {
		t.Errorf("imscript.table(users) again = %v, want the same object", again)
	}
	if got := table.Lookup(inst, "users"); got != tb.Data {
		t.Errorf("Lookup(users) = %v, want the script's table", got)
	}
	method := func(name string, args ...script.Value) *scripttest.Result {
		t.Helper()
		fn := tb.Type.Methods[name]
		if fn == nil {
			t.Fatalf("a table has no method %s", name)
		}
		return inst.Invoke(fn, tb, args...)
	}
	show := func(r *scripttest.Result) string {
		if r.Usage != "" {
			return "usage: " + r.Usage
		}
		parts := make([]string, len(r.Values))
		for i, v := range r.Values {
			parts[i] = testutil.Describe(v, false)
		}
		return strings.Join(parts, " ")
	}
	for _, step := range []struct {
		name string
		args []script.Value
		want string
	}{
		{"set", []script.Value{"a", script.Map{"fd": int64(3), "name": "ann", "score": 1.5}}, `true`},
		{"get", []script.Value{"a"}, `{fd=3,name="ann",score=1.5}`},
		{"get", []script.Value{"a", "name"}, `"ann"`},
		{"get", []script.Value{"zz"}, `nil`},
		{"incr", []script.Value{"a", "fd"}, `4`},
		{"incr", []script.Value{"a", "fd", int64(5)}, `9`},
		{"decr", []script.Value{"a", "fd", 2.0}, `7`},
		{"incr", []script.Value{"a", "score", 0.25}, `1.75`},
		{"incr", []script.Value{"b", "fd", int64(2)}, `2`}, // a new row
		{"count", nil, `2`},
		{"set", []script.Value{"c", script.Map{"fd": int64(1)}}, `false "table users is full: 2 rows is its max_size"`},
		{"set", []script.Value{"a", script.Map{"name": "way too long"}}, `usage: table users: column name holds at most 8 bytes, got 12`},
		{"incr", []script.Value{"a", "name"}, `usage: table users: incr needs an int or float column; name is a string column`},
		{"incr", []script.Value{"a", "fd", 0.5}, `usage: argument 3 (by) must be a whole number, got 0.5`},
		{"get", []script.Value{"a", "nope"}, `usage: table users has no column "nope" (columns: { fd=int, name=string(8), score=float })`},
		{"del", []script.Value{"a"}, `true`},
		{"exists", []script.Value{"a"}, `false`},
	} {
		if got := show(method(step.name, step.args...)); got != step.want {
			t.Errorf("%s%v = %s, want %s", step.name, step.args, got, step.want)
		}
	}
	// A full table is logged once, as a warning.
	if logs := inst.Log.String(); strings.Count(logs, "table full") != 1 || !strings.Contains(logs, "table=users max_size=2") {
		t.Errorf("the log:\n%s\nwant one warning naming the table", logs)
	}
	for _, tc := range []struct {
		args []script.Value
		want string
	}{
		{[]script.Value{"t3"}, `imscript.table: no table "t3"; declare it with its columns first`},
		{[]script.Value{"users", script.Map{"columns": script.Map{"fd": "int"}}}, `imscript.table users: already declared with other columns: { fd=int, name=string(8), score=float }, not { fd=int }`},
		{[]script.Value{"t2", script.Map{"colums": script.Map{"x": "int"}}}, `imscript.table t2: unknown option "colums" (want columns, size, max_size)`},
	} {
		if r := inst.Invoke(declare, nil, tc.args...); r.Usage != tc.want {
			t.Errorf("imscript.table%v: usage %q, want %q", tc.args, r.Usage, tc.want)
		}
	}
}

// TestAtomicThroughInvoke: instances of one host share atomics (Shared);
// another host's do not.
func TestAtomicThroughInvoke(t *testing.T) {
	inst := scripttest.NewInstance(t)
	_, atomic := modules(t, inst)
	a := inst.Invoke(atomic, nil, "hits", int64(5)).Value().(*script.Object)
	call := func(name string, args ...script.Value) script.Value {
		t.Helper()
		r := inst.Invoke(a.Type.Methods[name], a, args...)
		if r.Usage != "" {
			t.Fatalf("%s: %s", name, r.Usage)
		}
		return r.Value()
	}
	if got := []script.Value{call("add"), call("add", int64(10)), call("sub", 4.0), call("cmpset", int64(11), int64(1)), call("get")}; testutil.Describe(got, false) != "[6,16,12,false,12]" {
		t.Errorf("add, add 10, sub 4, cmpset 11 1, get = %s", testutil.Describe(got, false))
	}
	if again := inst.Invoke(atomic, nil, "hits", int64(100)).Value(); again != a {
		t.Errorf("imscript.atomic(hits, 100) is another counter")
	}
	if got := table.LookupAtomic(inst, "hits"); got == nil || got.Value() != 12 {
		t.Errorf("LookupAtomic(hits) = %v", got)
	}
	other := scripttest.NewInstance(t)
	_, atomic2 := modules(t, other)
	if got := other.Invoke(atomic2, nil, "hits").Value().(*script.Object).Data.(*table.Atomic).Value(); got != 0 {
		t.Errorf("another host's hits = %d, want 0", got)
	}
	if r := inst.Invoke(a.Type.Methods["add"], a, 1.5); r.Usage != "argument 1 (by) must be a whole number, got 1.5" {
		t.Errorf("add(1.5): usage %q", r.Usage)
	}
}
