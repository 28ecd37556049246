package lua

import (
	"math"
	"sort"
	"strconv"
	"unsafe"

	lua "github.com/imscript/imscript/bindings/lua/internal/gopherlua"

	"github.com/imscript/imscript/script"
)

// maxDepth bounds nested tables crossing the boundary (and catches cycles).
const maxDepth = 100

// callback is a Lua function handed to the host.
type callback struct {
	vm *vm
	fn *lua.LFunction
}

func (c *callback) Instance() script.Instance { return c.vm.inst }

// bytesString views b as a Lua string without copying. The host never
// mutates data it has handed to a script.
func bytesString(b []byte) lua.LString {
	if len(b) == 0 {
		return ""
	}
	return lua.LString(unsafe.String(&b[0], len(b)))
}

// stringBytes views a Lua string as read-only bytes.
func stringBytes(s string) []byte {
	if s == "" {
		return []byte{}
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

func (v *vm) toLua(val script.Value, depth int) lua.LValue {
	if depth > maxDepth {
		script.Usagef("value nested deeper than %d levels", maxDepth)
	}
	switch x := val.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(x)
	case int64:
		return v.integer(x)
	case int:
		return v.integer(int64(x))
	case float64:
		return lua.LNumber(x)
	case string:
		return v.str(x)
	case []byte:
		return bytesString(x)
	case script.List:
		t := v.L.CreateTable(len(x), 0)
		for i, e := range x {
			t.RawSetInt(i+1, v.toLua(e, depth+1))
		}
		return t
	case script.Map:
		t := v.L.CreateTable(0, len(x))
		for k, e := range x {
			t.RawSetString(k, v.toLua(e, depth+1))
		}
		return t
	case []int64:
		t := v.L.CreateTable(len(x), 0)
		for i, e := range x {
			t.RawSetInt(i+1, lua.LNumber(e))
		}
		return t
	case *script.Object:
		return v.object(x)
	case script.Function:
		return v.function(x)
	case *callback:
		return x.fn
	}
	script.Usagef("cannot pass a Go %T to Lua", val)
	return lua.LNil
}

func (v *vm) fromLua(lv lua.LValue, depth int) (script.Value, error) {
	if depth > maxDepth {
		script.Usagef("table nested deeper than %d levels (a cycle?)", maxDepth)
	}
	switch x := lv.(type) {
	case *lua.LNilType:
		return nil, nil
	case lua.LBool:
		return bool(x), nil
	case lua.LNumber:
		return float64(x), nil
	case lua.LString:
		return string(x), nil
	case *lua.LFunction:
		return &callback{vm: v, fn: x}, nil
	case *lua.LUserData:
		if o, ok := x.Value.(*script.Object); ok {
			return o, nil
		}
		return nil, nil
	case *lua.LTable:
		return v.tableValue(x, depth)
	}
	return nil, nil
}

// tableValue turns a sequence (keys 1..n) into a List and anything else
// into a Map with string keys. It walks the table with Next, which boxes
// nothing (ForEach allocates each string key).
func (v *vm) tableValue(t *lua.LTable, depth int) (script.Value, error) {
	n := t.MaxN()
	isList := n > 0
	count := 0
	for k, _ := t.Next(lua.LNil); k != lua.LNil; k, _ = t.Next(k) {
		count++
		if isList {
			if num, ok := k.(lua.LNumber); !ok || float64(num) != math.Trunc(float64(num)) || num < 1 || int(num) > n {
				isList = false
			}
		}
	}
	if isList && count == n {
		l := make(script.List, n)
		for i := 1; i <= n; i++ {
			e, err := v.fromLua(t.RawGetInt(i), depth+1)
			if err != nil {
				return nil, err
			}
			l[i-1] = e
		}
		return l, nil
	}
	m := make(script.Map, count)
	for k, val := t.Next(lua.LNil); k != lua.LNil; k, val = t.Next(k) {
		var key string
		switch kk := k.(type) {
		case lua.LString:
			key = string(kk)
		case lua.LNumber:
			key = strconv.FormatFloat(float64(kk), 'f', -1, 64)
		default:
			key = kk.String()
		}
		e, err := v.fromLua(val, depth+1)
		if err != nil {
			return nil, err
		}
		m[key] = e
	}
	return m, nil
}

// object returns the one userdata that stands for o in this VM.
func (v *vm) object(o *script.Object) *lua.LUserData {
	if !o.Type.Transient {
		if ud, ok := v.objects[o]; ok {
			return ud
		}
	}
	ud := v.L.NewUserData()
	ud.Value = o
	switch t := o.Type; {
	case !t.Transient && len(t.Props) > 0:
		ud.Metatable = v.ownMeta(o)
	case t.Transient && t.Iter != nil && len(t.Props) > 0:
		v.record(o, ud)
	default:
		ud.Metatable = v.meta(t)
	}
	if !o.Type.Transient {
		v.objects[o] = ud
	}
	return ud
}

// record is how a VM shows the objects of a transient iterable type with
// properties (a WebSocket frame: a record, its fields its entries, each
// handler reading most of them): the newest one's fields are set in a
// table of the VM's, its __index, so that reading one is a table lookup
// (an __index function costs a Go call and a boxed key per read). When
// the next one comes, the one before gets the type's own metatable,
// whose __index computes its fields from its own object: one the script
// keeps still reads its own values.
type record struct {
	fields *lua.LTable // the newest object's fields, and the methods
	fast   *lua.LTable // its metatable: __index = fields
	slow   *lua.LTable // the type's metatable (meta)
	names  []string    // the properties that are not methods, in order
	props  []func(o *script.Object) script.Value
	vals   []lua.LValue // what fields holds for each name now
	last   *lua.LUserData
}

func (v *vm) record(o *script.Object, ud *lua.LUserData) {
	t := o.Type
	r := v.records[t]
	if r == nil {
		L := v.L
		r = &record{slow: v.meta(t)}
		methods := v.methodTables[t]
		r.fields = L.CreateTable(0, len(t.Props)+len(t.Methods)+1)
		for k, m := methods.Next(lua.LNil); k != lua.LNil; k, m = methods.Next(k) {
			r.fields.RawSetH(k, m)
		}
		for name := range t.Props {
			if methods.RawGetString(name) == lua.LNil {
				r.names = append(r.names, name)
			}
		}
		sort.Strings(r.names)
		for _, name := range r.names {
			r.props = append(r.props, t.Props[name])
		}
		r.vals = make([]lua.LValue, len(r.names))
		r.fast = L.CreateTable(0, 3)
		r.fast.RawSetString("__index", r.fields)
		r.fast.RawSetString("__tostring", r.slow.RawGetString("__tostring"))
		r.fast.RawSetString("__metatable", r.slow.RawGetString("__metatable"))
		v.records[t] = r
	}
	if r.last != nil {
		r.last.Metatable = r.slow
	}
	for i, p := range r.props {
		// A field that has not changed (the fd of the same connection,
		// "text") is left as it is: setting one costs two map writes.
		if val := v.toLua(p(o), 0); val != r.vals[i] {
			r.fields.RawSetString(r.names[i], val)
			r.vals[i] = val
		}
	}
	ud.Metatable = r.fast
	r.last = ud
}

// ownMeta is the metatable of a long-lived object with properties (a
// server, a client): its __index is a table of its own holding the
// type's methods, whose own __index computes the properties. A method
// call (srv:send) is then a plain table lookup, where an __index function
// would cost a boxed key per call.
func (v *vm) ownMeta(o *script.Object) *lua.LTable {
	L := v.L
	tm := v.meta(o.Type)
	methods := v.methodTables[o.Type]
	idx := L.CreateTable(0, len(o.Type.Methods)+1)
	for k, m := methods.Next(lua.LNil); k != lua.LNil; k, m = methods.Next(k) {
		idx.RawSetH(k, m)
	}
	props := L.CreateTable(0, 1)
	props.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		if ks, ok := L.Get(2).(lua.LString); ok {
			if p, ok := o.Type.Props[string(ks)]; ok {
				L.Push(v.toLua(p(o), 0))
				return 1
			}
		}
		L.Push(lua.LNil)
		return 1
	}))
	idx.Metatable = props
	mt := L.CreateTable(0, 3)
	mt.RawSetString("__index", idx)
	mt.RawSetString("__tostring", tm.RawGetString("__tostring"))
	mt.RawSetString("__metatable", tm.RawGetString("__metatable"))
	return mt
}

// meta builds a type's metatable: __index finds methods in the type's
// method table, then computes properties.
func (v *vm) meta(t *script.Type) *lua.LTable {
	if mt, ok := v.metas[t]; ok {
		return mt
	}
	L := v.L
	methods := L.CreateTable(0, len(t.Methods))
	for name, fn := range t.Methods {
		fn := fn
		methods.RawSetString(name, L.NewFunction(func(L *lua.LState) int { return v.invoke(L, fn, true) }))
	}
	if t.Iter != nil && t.Methods["pairs"] == nil {
		pairs := iterPairs(t.Iter)
		methods.RawSetString("pairs", L.NewFunction(func(L *lua.LState) int { return v.invoke(L, pairs, true) }))
	}
	v.methodTables[t] = methods
	mt := L.CreateTable(0, 3)
	if len(t.Props) == 0 {
		// Methods only: a plain table lookup.
		mt.RawSetString("__index", methods)
	} else {
		mt.RawSetString("__index", v.indexWithProps(t, methods))
	}
	mt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(t.Name))
		return 1
	}))
	mt.RawSetString("__metatable", lua.LString(t.Name))
	v.metas[t] = mt
	return mt
}

// indexWithProps is __index for types with properties: methods first, then
// properties computed from the userdata.
func (v *vm) indexWithProps(t *script.Type, methods *lua.LTable) *lua.LFunction {
	return v.L.NewFunction(func(L *lua.LState) int {
		key := L.Get(2)
		if ks, ok := key.(lua.LString); ok {
			if m := methods.RawGetString(string(ks)); m != lua.LNil {
				L.Push(m)
				return 1
			}
			if p, ok := t.Props[string(ks)]; ok {
				if ud, ok := L.Get(1).(*lua.LUserData); ok {
					if o, ok := ud.Value.(*script.Object); ok {
						L.Push(v.toLua(p(o), 0))
						return 1
					}
				}
			}
		}
		L.Push(lua.LNil)
		return 1
	})
}

// function wraps a host Function as a Lua function.
func (v *vm) function(fn script.Function) *lua.LFunction {
	return v.L.NewFunction(func(L *lua.LState) int { return v.invoke(L, fn, false) })
}

// iterPairs is the pairs() method of an iterable type: it returns an
// iterator function for a generic for (`for k, v in obj:pairs() do`).
func iterPairs(iter func(*script.Object) func() (script.Value, script.Value, bool)) script.Function {
	return func(c script.Call) {
		next := iter(c.Self())
		c.Return(script.Function(func(c script.Call) {
			k, val, ok := next()
			if !ok {
				c.Return(nil)
				return
			}
			c.Return(k, val)
		}))
	}
}

// Boxing a number or a string as an lua.LValue allocates. Handlers get the
// same few again and again (a connection's fd, "text", a field name), so
// the VM keeps the last boxes made, direct-mapped: a hit costs a compare.

const boxSlots = 64

type intBox struct {
	n int64
	v lua.LValue
}

type strBox struct {
	p *byte
	n int
	v lua.LValue // holds the string: its bytes cannot be reused meanwhile
}

// maxBoxedStr is the longest string kept boxed: short constants, not
// payloads.
const maxBoxedStr = 16

func (v *vm) integer(n int64) lua.LValue {
	b := &v.ints[uint64(n)%boxSlots]
	if b.v == nil || b.n != n {
		b.n, b.v = n, lua.LNumber(n)
	}
	return b.v
}

// str boxes s, the same box for the same string (same bytes in memory:
// a Go string is immutable, and the box keeps its bytes alive).
func (v *vm) str(s string) lua.LValue {
	if len(s) == 0 || len(s) > maxBoxedStr {
		return lua.LString(s)
	}
	p := unsafe.StringData(s)
	b := &v.strs[(uintptr(unsafe.Pointer(p))>>3+uintptr(len(s)))%boxSlots]
	if b.p != p || b.n != len(s) {
		b.p, b.n, b.v = p, len(s), lua.LString(s)
	}
	return b.v
}
