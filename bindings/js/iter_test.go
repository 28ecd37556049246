package js

import (
	"strconv"
	"testing"

	"github.com/imscript/imscript/host"
)

// iterableType is a generic iterable host type (Type.Iter) with a property.
var iterableType = &host.Type{
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

// newIterable is t.iterable(n): an object iterating k1..kn.
func newIterable(c host.Call) {
	c.Return(&host.Object{Type: iterableType, Data: int(c.Int(0, "n"))})
}

// record reads fields a, b and missing of its argument with Fields and
// returns them with ReturnFields as b, a, missing.
func record(c host.Call) {
	vals := make([]host.Value, 3)
	c.Fields(0, "rec", []string{"a", "b", "missing"}, vals)
	c.ReturnFields([]string{"b", "a", "missing"}, vals)
}

func TestIterableTypesAreIterable(t *testing.T) {
	src := `
const t = imscript.t;
const it = t.iterable(3);
for (const [k, v] of it) console.log(k, v.i);
for (const [k] of t.iterable(0)) console.log("never", k);
console.log(it.n, it.size(), Object.keys(it).join(","), typeof it[Symbol.iterator]);
console.log([...it].length, [...it].map(([k]) => k).join(","), Array.from(it).length);
const i1 = it[Symbol.iterator]();
console.log(i1[Symbol.iterator]() === i1, JSON.stringify(i1.next()), i1.next().value[0], i1.next().done, i1.next().done);
try { for (const x of t) console.log(x); } catch (e) { console.log(e instanceof TypeError); }
try { it[Symbol.iterator].call({}); } catch (e) { console.log(e.message); }
const r = t.record({ a: 1, b: "x", z: true });
console.log(JSON.stringify(r), Object.keys(r).join(","));
try { t.record("no"); } catch (e) { console.log(e.message); }
console.log("done");
`
	out, _ := run(t, 1, src, "done", nil)
	want := "k1 1\nk2 2\nk3 3\n3 3 n function\n3 k1,k2,k3 3\n" +
		"true {\"value\":[\"k1\",{\"i\":1}],\"done\":false} k2 false true\ntrue\n" +
		"method called without its object: use obj.method(...)\n" +
		"{\"b\":1,\"a\":\"x\"} b,a\nargument 1 (rec) must be an object, got string\ndone\n"
	if out != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", out, want)
	}
}
