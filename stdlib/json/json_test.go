package json

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/imscript/imscript/script"
)

func TestMarshal(t *testing.T) {
	deep := script.Value("x")
	for i := 0; i < 101; i++ {
		deep = script.List{deep}
	}
	for _, tc := range []struct {
		in   script.Value
		want string
	}{
		{nil, "null"},
		{true, "true"},
		{int64(-3), "-3"},
		{3.0, "3"},
		{1.5, "1.5"},
		{1e20, "100000000000000000000"},
		{"<a & b>\t\"q\"", `"<a & b>\t\"q\""`},
		{"héllo", `"héllo"`},
		{[]byte("bytes"), `"bytes"`},
		{[]byte{'o', 'k', 0xff}, `"ok` + "\uFFFD" + `"`},
		{script.List{}, "[]"},
		{script.Map{}, "{}"},
		{script.List{int64(1), "two", nil, script.List{true}}, `[1,"two",null,[true]]`},
		{script.Map{"b": int64(2), "a": script.Map{"z": 1.25, "y": script.List{}}}, `{"a":{"y":[],"z":1.25},"b":2}`},
	} {
		got, err := Marshal(tc.in)
		if err != nil || string(got) != tc.want {
			t.Errorf("Marshal(%#v) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		in   script.Value
		want string
	}{
		{math.NaN(), "cannot encode NaN"},
		{math.Inf(1), "cannot encode +Inf"},
		{script.Map{"f": script.Function(func(script.Call) {})}, "cannot encode a function"},
		{script.List{&script.Object{}}, "cannot encode a object"},
		{struct{}{}, "cannot encode a struct {}"},
		{deep, "nested deeper than 100 levels"},
	} {
		if _, err := Marshal(tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Marshal(%T) error %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestUnmarshal(t *testing.T) {
	got, err := Unmarshal([]byte(` {"a": [1, 2.5, "s", true, null, {"b": {}}], "n": -0} `))
	if err != nil {
		t.Fatal(err)
	}
	want := script.Map{"a": script.List{1.0, 2.5, "s", true, nil, script.Map{"b": script.Map{}}}, "n": 0.0}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v\nwant %#v", got, want)
	}
	for in, want := range map[string]script.Value{`"x"`: "x", `null`: nil, `[]`: script.List{}, `7`: 7.0} {
		if got, err := Unmarshal([]byte(in)); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("Unmarshal(%s) = %#v, %v", in, got, err)
		}
	}
	for in, want := range map[string]string{
		`{bad`: "invalid character",
		`1 2`:  "trailing data after the JSON value",
		``:     "EOF",
		`[1,]`: "invalid character",
	} {
		if _, err := Unmarshal([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Unmarshal(%q) error %v, want %q", in, err, want)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	v := script.Map{"list": script.List{1.0, "a", false}, "map": script.Map{"k": "v"}, "n": 0.5}
	b, err := Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Unmarshal(b)
	if err != nil || !reflect.DeepEqual(back, v) {
		t.Errorf("round trip: %#v, %v", back, err)
	}
}

func TestModuleExports(t *testing.T) {
	m, ok := Module(nil).(script.Map)
	if !ok {
		t.Fatal("the module is not a map")
	}
	for _, name := range []string{"encode", "decode"} {
		if _, ok := m[name].(script.Function); !ok {
			t.Errorf("json.%s is not a function", name)
		}
	}
}
