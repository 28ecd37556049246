package testrun

import (
	"reflect"
	"testing"

	"github.com/imscript/imscript/script"
)

func TestNormalizeAndShow(t *testing.T) {
	eq := func(a, b script.Value) bool { return reflect.DeepEqual(normalize(a), normalize(b)) }
	for _, c := range []struct {
		a, b script.Value
		want bool
	}{
		{[]byte("hi"), "hi", true},
		{int64(3), 3.0, true},
		{script.Map{"a": int64(1), "b": script.List{[]byte("x")}}, script.Map{"a": 1.0, "b": script.List{"x"}}, true},
		{script.Map{"a": 1.0}, script.Map{"a": 2.0}, false},
		{script.List{1.0, 2.0}, script.List{1.0}, false},
		{nil, false, false},
		{"1", 1.0, false},
	} {
		if got := eq(c.a, c.b); got != c.want {
			t.Errorf("equal(%#v, %#v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
	for v, want := range map[string]script.Value{
		`"a\n"`:              "a\n",
		"3":                  3.0,
		"2.5":                2.5,
		"nil":                nil,
		`{a = 1, b = ["x"]}`: script.Map{"b": script.List{"x"}, "a": 1.0},
	} {
		if got := show(want); got != v {
			t.Errorf("show(%#v) = %s, want %s", want, got, v)
		}
	}
}

func TestDescribe(t *testing.T) {
	for _, c := range []struct{ err, want string }{
		{"a_test.lua:3: assertion failed: x\nstack traceback:\n\t[G]: in function 'equal'\n\ta_test.lua:3: in test handler (a_test.lua:2)",
			"a_test.lua:3: assertion failed: x\n  a_test.lua:3: in test handler (a_test.lua:2)"},
		{"b.test.js:6:26: TypeError: assertion failed: nope\n    at test handler (b.test.js:6:26)",
			"b.test.js:6:26: assertion failed: nope\n  at test handler (b.test.js:6:26)"},
		{"Error: async boom\n    at test handler (b.test.js:3:70)",
			"b.test.js:3:70: Error: async boom\n  at test handler (b.test.js:3:70)"},
		{"GoError: inbox:take: nothing arrived within 5 s", "inbox:take: nothing arrived within 5 s"},
	} {
		if got := describe(errString(c.err)); got != c.want {
			t.Errorf("describe(%q) =\n%s\nwant\n%s", c.err, got, c.want)
		}
	}
}

type errString string

func (e errString) Error() string { return string(e) }
