package lua_test

import "testing"

// TestIterableTypesHavePairs: an object of a host type with Iter
// (t.iterable, testutil.IterableType) has pairs(), which walks k1..kn, none
// for an empty one, and may be nested; the type's method and property
// work; pairs called without its object says how to call it; t.record
// (testutil.Record) reads fields of a table and returns them by name, and
// refuses what is not a table.
func TestIterableTypesHavePairs(t *testing.T) {
	src := `
local t = imscript.t
local it = t.iterable(3)
for k, v in it:pairs() do print(k, v.i) end
for k in t.iterable(0):pairs() do print("never", k) end
print(it.n, it:size())
local a, b = {}, {}
for k in it:pairs() do
  a[#a + 1] = k
  for k2 in it:pairs() do b[#b + 1] = k2 end
end
print(#a, #b)
local function err(f, ...) return (select(2, pcall(f, ...)):gsub("^.-:%d+: ", "")) end
print(err(it.pairs))
local r = t.record({ a = 1, b = "x", z = true })
print(t.describe(r))
print(err(t.record, "no"))
print("done")
`
	out, _ := run(t, 1, src, "done", nil)
	want := "k1\t1\nk2\t2\nk3\t3\n3\t3\n3\t9\nmethod called without its object: use obj:method(...)\n" +
		"{a=\"x\",b=1}\nbad argument #1 (rec): table expected, got string\ndone\n"
	if out != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", out, want)
	}
}
