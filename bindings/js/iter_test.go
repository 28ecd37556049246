package js_test

import "testing"

// TestIterableTypesAreIterable: an object of a host type with Iter
// (t.iterable, testutil.IterableType) is a JS iterable: for...of, spread
// and Array.from walk k1..kn, none for an empty one, and its iterator is
// itself iterable; its only own key is its property; an object without
// Iter is not iterable; the iterator method called on another object says
// how to call it; t.record (testutil.Record) reads fields of an object and
// returns them by name, and refuses what is not an object.
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
