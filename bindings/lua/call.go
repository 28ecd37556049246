package lua

import (
	"sync"

	lua "github.com/imscript/imscript/bindings/lua/internal/gopherlua"

	"github.com/imscript/imscript/script"
)

// call implements script.Call over the Lua stack of one Go function call.
type call struct {
	v    *vm
	L    *lua.LState
	base int // stack index of argument 0
	self *script.Object
	nret int
	name string
	wait *waiter // set by Async without a callback: the call suspends (suspend.go)
}

// invoke runs a host Function for a Lua call. Calls are reused from a small
// per-VM stack (a host function may call back into Lua).
func (v *vm) invoke(L *lua.LState, fn script.Function, method bool) (nret int) {
	if v.depth == len(v.calls) {
		v.calls = append(v.calls, &call{v: v})
	}
	c := v.calls[v.depth]
	v.depth++
	c.L, c.base, c.self, c.nret, c.wait = L, 1, nil, 0, nil
	if method {
		ud, ok := L.Get(1).(*lua.LUserData)
		var o *script.Object
		if ok {
			o, _ = ud.Value.(*script.Object)
		}
		if o == nil {
			v.depth--
			L.RaiseError("method called without its object: use obj:method(...)")
			return 0
		}
		c.self, c.base = o, 2
	}
	defer func() {
		v.depth--
		if r := recover(); r != nil {
			if ue, ok := r.(*script.UsageError); ok {
				L.RaiseError("%s", ue.Msg)
				return
			}
			panic(r)
		}
	}()
	fn(c)
	if w := c.wait; w != nil {
		c.wait = nil
		return v.finishWait(c, w)
	}
	return c.nret
}

func (c *call) Instance() script.Instance { return c.v.inst }
func (c *call) Self() *script.Object      { return c.self }
func (c *call) NArgs() int {
	n := c.L.GetTop() - c.base + 1
	if n < 0 {
		return 0
	}
	return n
}

func (c *call) get(i int) lua.LValue { return c.L.Get(c.base + i) }

func (c *call) Arg(i int) script.Value {
	v, err := c.v.fromLua(c.get(i), 0)
	if err != nil {
		script.Usagef("argument %d: %v", i+1, err)
	}
	return v
}

func (c *call) Absent(i int) bool { return c.get(i) == lua.LNil }

func (c *call) bad(i int, name, want string) {
	script.Usagef("bad argument #%d (%s): %s expected, got %s", i+1, name, want, c.get(i).Type().String())
}

func (c *call) Int(i int, name string) int64 {
	n, ok := c.get(i).(lua.LNumber)
	if !ok {
		c.bad(i, name, "number")
	}
	return int64(n)
}

func (c *call) OptInt(i int, name string, def int64) int64 {
	if c.get(i) == lua.LNil {
		return def
	}
	return c.Int(i, name)
}

func (c *call) Float(i int, name string) float64 {
	n, ok := c.get(i).(lua.LNumber)
	if !ok {
		c.bad(i, name, "number")
	}
	return float64(n)
}

func (c *call) OptFloat(i int, name string, def float64) float64 {
	if c.get(i) == lua.LNil {
		return def
	}
	return c.Float(i, name)
}

func (c *call) Bool(i int, name string) bool {
	b, ok := c.get(i).(lua.LBool)
	if !ok {
		c.bad(i, name, "boolean")
	}
	return bool(b)
}

func (c *call) OptBool(i int, name string, def bool) bool {
	if c.get(i) == lua.LNil {
		return def
	}
	return c.Bool(i, name)
}

func (c *call) Str(i int, name string) string {
	switch x := c.get(i).(type) {
	case lua.LString:
		return string(x)
	case lua.LNumber:
		return x.String()
	}
	c.bad(i, name, "string")
	return ""
}

func (c *call) OptStr(i int, name string, def string) string {
	if c.get(i) == lua.LNil {
		return def
	}
	return c.Str(i, name)
}

func (c *call) Bytes(i int, name string) []byte {
	switch x := c.get(i).(type) {
	case lua.LString:
		return stringBytes(string(x))
	case lua.LNumber:
		return []byte(x.String())
	}
	c.bad(i, name, "string")
	return nil
}

func (c *call) Func(i int, name string) script.Callback {
	f, ok := c.get(i).(*lua.LFunction)
	if !ok {
		c.bad(i, name, "function")
	}
	return &callback{vm: c.v, fn: f}
}

func (c *call) Table(i int, name string) script.Map {
	t, ok := c.get(i).(*lua.LTable)
	if !ok {
		c.bad(i, name, "table")
	}
	m := make(script.Map)
	// Next boxes nothing; ForEach would allocate every string key.
	for k, val := t.Next(lua.LNil); k != lua.LNil; k, val = t.Next(k) {
		ks, ok := k.(lua.LString)
		if !ok {
			script.Usagef("bad argument #%d (%s): keys must be strings, got %s", i+1, name, k.Type().String())
		}
		e, err := c.v.fromLua(val, 1)
		if err != nil {
			script.Usagef("%v", err)
		}
		m[string(ks)] = e
	}
	return m
}

func (c *call) Fields(i int, name string, names []string, vals []script.Value) {
	t, ok := c.get(i).(*lua.LTable)
	if !ok {
		c.bad(i, name, "table")
	}
	for j, n := range names {
		v, err := c.v.fromLua(t.RawGetString(n), 1)
		if err != nil {
			script.Usagef("%v", err)
		}
		vals[j] = v
	}
}

func (c *call) OptTable(i int, name string) script.Map {
	if c.get(i) == lua.LNil {
		return nil
	}
	return c.Table(i, name)
}

func (c *call) Return(vals ...script.Value) {
	for _, v := range vals {
		c.L.Push(c.v.toLua(v, 0))
	}
	c.nret += len(vals)
}

// ReturnSelf pushes the receiver's own userdata (stack index 1): no
// second userdata for the same object.
func (c *call) ReturnSelf() {
	if c.self == nil {
		c.L.Push(lua.LNil)
	} else {
		c.L.Push(c.L.Get(1))
	}
	c.nret++
}

func (c *call) ReturnInt(n int64) {
	c.L.Push(c.L.NumberValue(lua.LNumber(n)))
	c.nret++
}

func (c *call) ReturnFloat(f float64) {
	c.L.Push(c.L.NumberValue(lua.LNumber(f)))
	c.nret++
}

func (c *call) ReturnBool(b bool) {
	c.L.Push(lua.LBool(b))
	c.nret++
}

func (c *call) ReturnStr(s string) {
	c.L.Push(lua.LString(s))
	c.nret++
}

func (c *call) ReturnFields(names []string, vals []script.Value) {
	t := c.L.CreateTable(0, len(names))
	for j, n := range names {
		if vals[j] != nil {
			t.RawSetString(n, c.v.toLua(vals[j], 1))
		}
	}
	c.L.Push(t)
	c.nret++
}

func (c *call) Fail(reason string) {
	c.L.Push(lua.LFalse)
	c.L.Push(lua.LString(reason))
	c.nret += 2
}

// Suspends implements script.Call.
func (c *call) Suspends() bool {
	_, isFn := c.get(c.NArgs()).(*lua.LFunction) // no callback can follow the arguments
	return !isFn && c.v.inst.CanSuspend()
}

// Async implements script.Call: with a callback at cbArg, the result goes
// to fn(result, err [, code]) on the worker; without one, the handler
// suspends until it is settled (suspend.go).
func (c *call) Async(cbArg int) func(script.Value, error) {
	var cb script.Callback
	switch f := c.get(cbArg).(type) {
	case *lua.LFunction:
		cb = &callback{vm: c.v, fn: f}
	case *lua.LNilType:
		return c.suspending()
	default:
		c.bad(cbArg, "callback", "function")
	}
	inst := c.v.inst
	var once sync.Once
	return func(res script.Value, err error) {
		once.Do(func() {
			inst.Post(func() {
				if err != nil {
					inst.Call("callback", cb, nil, err.Error(), script.ErrorCode(err))
				} else if rs, ok := res.(script.Results); ok {
					inst.Call("callback", cb, rs...)
				} else {
					inst.Call("callback", cb, res)
				}
			})
		})
	}
}

// Run implements script.Call: a suspending call keeps its work for the
// handler's goroutine (finishWait); a call with a callback runs it on
// Go's pool.
func (c *call) Run(cbArg int, work func() (script.Value, error)) {
	prev := c.wait
	settle := c.Async(cbArg)
	if w := c.wait; w != nil && w != prev {
		w.work = work // a fresh waiter: nothing can have settled it
		return
	}
	script.Go(func() { settle(work()) })
}

// ReadRow implements script.RowCall.
func (c *call) ReadRow(i int, name string, names []string, cells []script.Cell) {
	t, ok := c.get(i).(*lua.LTable)
	if !ok {
		c.bad(i, name, "table")
	}
	for j, n := range names {
		switch x := t.RawGetString(n).(type) {
		case lua.LNumber:
			cells[j] = script.Cell{Kind: script.CellNumber, Num: float64(x)}
		case lua.LString:
			cells[j] = script.Cell{Kind: script.CellString, Str: string(x)}
		case *lua.LNilType:
			cells[j] = script.Cell{}
		default:
			v, err := c.v.fromLua(x, 1)
			if err != nil {
				script.Usagef("%v", err)
			}
			cells[j] = script.Cell{Kind: script.CellValue, Val: v}
		}
	}
}

// ReturnRow implements script.RowCall.
func (c *call) ReturnRow(into int, names []string, cells []script.Cell) {
	var t *lua.LTable
	if into >= 0 {
		var ok bool
		if t, ok = c.get(into).(*lua.LTable); !ok {
			c.bad(into, "row", "table")
		}
	} else {
		t = c.L.CreateTable(0, len(names))
	}
	for j, n := range names {
		var lv lua.LValue
		switch cl := &cells[j]; cl.Kind {
		case script.CellAbsent:
			continue
		case script.CellNumber:
			lv = c.L.NumberValue(lua.LNumber(cl.Num))
		case script.CellInt:
			lv = c.L.NumberValue(lua.LNumber(cl.Int))
		case script.CellString:
			if into >= 0 {
				// A row read again into the same table: an unchanged
				// string is left as it is (no new string value).
				if old, ok := t.RawGetString(n).(lua.LString); ok && string(old) == cl.Str {
					continue
				}
			}
			lv = lua.LString(cl.Str)
		default:
			lv = c.v.toLua(cl.Val, 1)
		}
		// The name boxed once (v.str keeps the box of a short string at
		// the same address: a table's column names), not per call.
		t.RawSetH(c.v.str(n), lv)
	}
	c.L.Push(t)
	c.nret++
}

// IsTable implements script.RowCall.
func (c *call) IsTable(i int) bool {
	_, ok := c.get(i).(*lua.LTable)
	return ok
}

// Cells implements script.RowCall.
func (c *call) Cells(n int) []script.Cell {
	if cap(c.v.cells) < n {
		c.v.cells = make([]script.Cell, n)
	}
	return c.v.cells[:n]
}
