package json_test

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/imscript/imscript/script"
	"github.com/imscript/imscript/script/scripttest"
	"github.com/imscript/imscript/stdlib/json"
)

// The module's functions as a script calls them, on a fake instance: no
// host, no VM.

func fns(t *testing.T) (inst *scripttest.Instance, encode, decode script.Function, emptyArray script.Value) {
	t.Helper()
	inst = scripttest.NewInstance(t)
	m := json.Module(inst).(script.Map)
	return inst, m["encode"].(script.Function), m["decode"].(script.Function), m["empty_array"]
}

func TestEncodeThroughInvoke(t *testing.T) {
	inst, encode, _, emptyArray := fns(t)
	for _, tc := range []struct {
		name string
		in   script.Value
		want string
	}{
		{"nil", nil, `null`},
		{"bool", false, `false`},
		{"int", int64(-7), `-7`},
		{"whole float", 2.0, `2`},
		{"float", 0.25, `0.25`},
		{"string", "a\"b", `"a\"b"`},
		{"bytes", []byte("raw\x00"), `"raw\u0000"`},
		{"list", script.List{int64(1), "x", nil}, `[1,"x",null]`},
		{"map", script.Map{"b": true, "a": script.List{}}, `{"a":[],"b":true}`},
		{"empty_array", script.Map{"l": emptyArray}, `{"l":[]}`},
	} {
		r := inst.Invoke(encode, nil, tc.in)
		if r.Usage != "" || r.Failed != "" || len(r.Values) != 1 || r.Value() != tc.want {
			t.Errorf("encode(%s) = %+v, want %s", tc.name, r, tc.want)
		}
	}
	// No argument at all is nil.
	if r := inst.Invoke(encode, nil); r.Value() != "null" {
		t.Errorf("encode() = %+v, want null", r)
	}
}

func TestDecodeThroughInvoke(t *testing.T) {
	inst, encode, decode, _ := fns(t)
	for in, want := range map[string]script.Value{
		`null`:                     nil,
		`true`:                     true,
		`-1.5`:                     -1.5,
		`"s"`:                      "s",
		`[1, "a", null, []]`:       script.List{1.0, "a", nil, script.List{}},
		`{"k": {"n": 2}, "e": {}}`: script.Map{"k": script.Map{"n": 2.0}, "e": script.Map{}},
	} {
		for _, arg := range []script.Value{in, []byte(in)} { // a string or binary data
			r := inst.Invoke(decode, nil, arg)
			if r.Usage != "" || r.Failed != "" || len(r.Values) != 1 || !reflect.DeepEqual(r.Value(), want) {
				t.Errorf("decode(%T %s) = %+v, want %#v", arg, in, r, want)
			}
		}
	}
	// What encode makes, decode reads back.
	v := script.Map{"list": script.List{1.0, "a", false}, "n": 0.5}
	if back := inst.Invoke(decode, nil, inst.Invoke(encode, nil, v).Value()); !reflect.DeepEqual(back.Value(), v) {
		t.Errorf("round trip: %+v", back)
	}
	// Bad JSON is a routine failure (false, and the reason), not misuse.
	for in, want := range map[string]string{`{bad`: "json.decode: invalid character", `1 2`: "json.decode: trailing data after the JSON value"} {
		r := inst.Invoke(decode, nil, in)
		if r.Usage != "" || !strings.HasPrefix(r.Failed, want) || len(r.Values) != 2 || r.Values[0] != false || r.Values[1] != r.Failed {
			t.Errorf("decode(%s) = %+v, want a failure %q", in, r, want)
		}
	}
}

func TestUsageErrorsThroughInvoke(t *testing.T) {
	inst, encode, decode, _ := fns(t)
	for _, tc := range []struct {
		name string
		fn   script.Function
		args []script.Value
		want string
	}{
		{"encode a Go function", encode, []script.Value{script.Map{"f": script.Function(func(script.Call) {})}}, "json.encode: cannot encode a function"},
		{"encode a script function", encode, []script.Value{script.List{inst.Func(func(...script.Value) script.Value { return nil })}}, "json.encode: cannot encode a function"},
		{"encode an object", encode, []script.Value{&script.Object{Type: &script.Type{Name: "srv"}}}, "json.encode: cannot encode a object"},
		{"encode NaN", encode, []script.Value{script.List{0.0, math.NaN()}}, "json.encode: cannot encode NaN"},
		{"decode a table", decode, []script.Value{script.Map{}}, "bad argument #1 (text): string expected, got table"},
		{"decode nothing", decode, nil, "bad argument #1 (text): string expected, got nil"},
	} {
		r := inst.Invoke(tc.fn, nil, tc.args...)
		if r.Usage != tc.want || len(r.Values) != 0 {
			t.Errorf("%s: usage %q, values %v; want the usage error %q", tc.name, r.Usage, r.Values, tc.want)
		}
	}
}
