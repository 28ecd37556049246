package script

import (
	"math"
	"strings"
	"testing"
)

func TestTypeName(t *testing.T) {
	for want, v := range map[string]Value{
		"nil": nil, "boolean": true, "number": 1.5, "string": "s", "bytes": []byte("b"),
		"list": List{}, "table": Map{}, "object": &Object{}, "function": Function(func(Call) {}),
	} {
		if got := TypeName(v); got != want {
			t.Errorf("TypeName(%#v) = %q, want %q", v, got, want)
		}
	}
	if got := TypeName(int64(3)); got != "number" {
		t.Errorf("TypeName(int64) = %q", got)
	}
}

func TestMillis(t *testing.T) {
	for _, tc := range []struct {
		ms   float64
		want string
	}{
		{1, "1ms"}, {1.5, "1.5ms"}, {0, "0s"}, {-5, "0s"}, {math.NaN(), "0s"}, {2500, "2.5s"},
	} {
		if got := Millis(tc.ms).String(); got != tc.want {
			t.Errorf("Millis(%v) = %s, want %s", tc.ms, got, tc.want)
		}
	}
}

func TestCopy(t *testing.T) {
	in := Map{"l": List{int64(1), 2.5, "s", []byte("b"), true, nil}, "m": Map{"k": int(7)}}
	out, size, err := Copy(in)
	if err != nil || size <= 0 {
		t.Fatalf("Copy = %v, %d, %v", out, size, err)
	}
	om := out.(Map)
	b := om["l"].(List)[3].([]byte)
	in["l"].(List)[3].([]byte)[0] = 'X'
	if string(b) != "b" || om["m"].(Map)["k"] != int64(7) {
		t.Fatalf("the copy shares the original's bytes or kept an int: %v", out)
	}
	deep := Value("bottom")
	for i := 0; i < 150; i++ {
		deep = List{deep}
	}
	for v, want := range map[string]Value{"nested deeper than 100 levels": deep, "a function cannot cross": Function(func(Call) {}), "an object cannot cross": &Object{}} {
		if _, _, err := Copy(want); err == nil || !strings.Contains(err.Error(), v) {
			t.Errorf("Copy: %v, want %q", err, v)
		}
	}
}
