package log_test

import (
	"strings"
	"testing"

	"github.com/imscript/imscript/script"
	"github.com/imscript/imscript/script/scripttest"
	"github.com/imscript/imscript/stdlib/log"
)

// TestFieldsReachTheLogger calls the module's functions on a fake instance
// (no host, no VM) and reads what reached its logger (text, level info).
func TestFieldsReachTheLogger(t *testing.T) {
	inst := scripttest.NewInstance(t)
	inst.Worker = 3
	m := log.Module(inst).(script.Map)
	call := func(level, msg string, fields script.Value) *scripttest.Result {
		t.Helper()
		args := []script.Value{msg}
		if fields != nil {
			args = append(args, fields)
		}
		r := inst.Invoke(m[level].(script.Function), nil, args...)
		if r.Usage != "" || r.Failed != "" || len(r.Values) != 0 {
			t.Fatalf("log.%s(%q) = %+v, want no result", level, msg, r)
		}
		return r
	}
	call("debug", "hidden", script.Map{"n": int64(1)})
	call("info", "hello", script.Map{
		"n": int64(3), "f": 1.5, "s": "x y", "ok": true, "data": []byte("a\x00b"),
		"list": script.List{int64(1), int64(2)}, "map": script.Map{"k": "v"},
		"srv": &script.Object{Type: &script.Type{Name: "server"}},
	})
	call("warn", "careful", nil)
	call("error", "bad", script.Map{})
	lines := strings.Split(strings.TrimSpace(inst.Log.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3 (debug is below the level):\n%s", len(lines), inst.Log.String())
	}
	// The fields, sorted by name, after the worker; bytes as a string,
	// lists and maps printed, objects by their type's name.
	const hello = `level=INFO msg=hello worker=3 data="a\x00b" f=1.5 list="[1 2]" map=map[k:v] n=3 ok=true s="x y" srv=server`
	for i, want := range []string{hello, `level=WARN msg=careful worker=3`, `level=ERROR msg=bad worker=3`} {
		if _, rest, _ := strings.Cut(lines[i], " "); rest != want { // after time=...
			t.Errorf("line %d:\n%s\nwant\n%s", i, rest, want)
		}
	}
}

func TestLogUsageErrors(t *testing.T) {
	inst := scripttest.NewInstance(t)
	info := log.Module(inst).(script.Map)["info"].(script.Function)
	for _, tc := range []struct {
		args []script.Value
		want string
	}{
		{[]script.Value{script.Map{}}, "bad argument #1 (msg): string expected, got table"},
		{nil, "bad argument #1 (msg): string expected, got nil"},
		{[]script.Value{"m", "not a table"}, "bad argument #2 (fields): table expected, got string"},
	} {
		if r := inst.Invoke(info, nil, tc.args...); r.Usage != tc.want {
			t.Errorf("info(%v): usage %q, want %q", tc.args, r.Usage, tc.want)
		}
	}
	if s := inst.Log.String(); s != "" {
		t.Errorf("misuse logged:\n%s", s)
	}
}
