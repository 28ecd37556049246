package scripttest

import (
	"fmt"

	"github.com/imscript/imscript/script"
)

// fakeCall is a script.Call over Go values (Instance.Invoke).
type fakeCall struct {
	inst *Instance
	self *script.Object
	args []script.Value
	res  *Result
}

func (c *fakeCall) Instance() script.Instance { return c.inst }
func (c *fakeCall) Self() *script.Object      { return c.self }
func (c *fakeCall) NArgs() int                { return len(c.args) }

func (c *fakeCall) Absent(i int) bool { return c.Arg(i) == nil }

func (c *fakeCall) Arg(i int) script.Value {
	if i < len(c.args) {
		return c.args[i]
	}
	return nil
}

func (c *fakeCall) bad(i int, name, want string) {
	script.Usagef("bad argument #%d (%s): %s expected, got %s", i+1, name, want, script.TypeName(c.Arg(i)))
}

func (c *fakeCall) Int(i int, name string) int64 {
	switch x := c.Arg(i).(type) {
	case int64:
		return x
	case float64:
		return int64(x)
	case int:
		return int64(x)
	}
	c.bad(i, name, "number")
	return 0
}

func (c *fakeCall) OptInt(i int, name string, def int64) int64 {
	if c.Arg(i) == nil {
		return def
	}
	return c.Int(i, name)
}

func (c *fakeCall) Float(i int, name string) float64 {
	switch x := c.Arg(i).(type) {
	case int64:
		return float64(x)
	case float64:
		return x
	case int:
		return float64(x)
	}
	c.bad(i, name, "number")
	return 0
}

func (c *fakeCall) OptFloat(i int, name string, def float64) float64 {
	if c.Arg(i) == nil {
		return def
	}
	return c.Float(i, name)
}

func (c *fakeCall) Bool(i int, name string) bool {
	b, ok := c.Arg(i).(bool)
	if !ok {
		c.bad(i, name, "boolean")
	}
	return b
}

func (c *fakeCall) OptBool(i int, name string, def bool) bool {
	if c.Arg(i) == nil {
		return def
	}
	return c.Bool(i, name)
}

func (c *fakeCall) Str(i int, name string) string {
	switch x := c.Arg(i).(type) {
	case string:
		return x
	case []byte:
		return string(x)
	case int64, float64:
		return fmt.Sprint(x)
	}
	c.bad(i, name, "string")
	return ""
}

func (c *fakeCall) OptStr(i int, name string, def string) string {
	if c.Arg(i) == nil {
		return def
	}
	return c.Str(i, name)
}

func (c *fakeCall) Bytes(i int, name string) []byte {
	switch x := c.Arg(i).(type) {
	case string:
		return []byte(x)
	case []byte:
		return x
	}
	c.bad(i, name, "string")
	return nil
}

func (c *fakeCall) Func(i int, name string) script.Callback {
	f, ok := c.Arg(i).(script.Callback)
	if !ok {
		c.bad(i, name, "function")
	}
	return f
}

func (c *fakeCall) Table(i int, name string) script.Map {
	switch x := c.Arg(i).(type) {
	case script.Map:
		return x
	case script.List:
		if len(x) == 0 {
			return script.Map{}
		}
	}
	c.bad(i, name, "table")
	return nil
}

func (c *fakeCall) OptTable(i int, name string) script.Map {
	if c.Arg(i) == nil {
		return nil
	}
	return c.Table(i, name)
}

func (c *fakeCall) Fields(i int, name string, names []string, vals []script.Value) {
	m := c.Table(i, name)
	for j, n := range names {
		vals[j] = m[n]
	}
}

func (c *fakeCall) Return(vals ...script.Value) { c.res.Values = append(c.res.Values, vals...) }
func (c *fakeCall) ReturnSelf()                 { c.Return(c.self) }
func (c *fakeCall) ReturnInt(n int64)           { c.Return(n) }
func (c *fakeCall) ReturnFloat(f float64)       { c.Return(f) }
func (c *fakeCall) ReturnBool(b bool)           { c.Return(b) }
func (c *fakeCall) ReturnStr(s string)          { c.Return(s) }

func (c *fakeCall) ReturnFields(names []string, vals []script.Value) {
	m := script.Map{}
	for j, n := range names {
		if vals[j] != nil {
			m[n] = vals[j]
		}
	}
	c.Return(m)
}

func (c *fakeCall) Fail(reason string) {
	c.res.Failed = reason
	c.Return(false, reason)
}

// Suspends implements script.Call: the fake never suspends.
func (c *fakeCall) Suspends() bool { return false }

// Run implements script.Call: work runs on Go's pool.
func (c *fakeCall) Run(cbArg int, work func() (script.Value, error)) {
	settle := c.Async(cbArg)
	script.Go(func() { settle(work()) })
}

// Async settles into the Result (Await); a callback argument, when given,
// is called through the instance's queue as the Lua binding does.
func (c *fakeCall) Async(cbArg int) func(script.Value, error) {
	cb, _ := c.Arg(cbArg).(script.Callback)
	ch := make(chan settlement, 1)
	c.res.settled = ch
	inst := c.inst
	return func(v script.Value, err error) {
		select {
		case ch <- settlement{v, err}:
		default:
			return // settled twice: the first one counts
		}
		if cb != nil {
			inst.Post(func() {
				if err != nil {
					inst.Call("callback", cb, nil, err.Error(), script.ErrorCode(err))
				} else {
					inst.Call("callback", cb, v)
				}
			})
		}
	}
}
