package lua

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
