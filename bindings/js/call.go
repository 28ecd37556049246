package js

import (
	"runtime"
	"sync"
	"unsafe"

	"github.com/imscript/imscript/bindings/js/internal/goja"

	"github.com/imscript/imscript/script"
)

// call implements script.Call over a goja.FunctionCall.
type call struct {
	v    *vm
	args []goja.Value
	self *script.Object
	this goja.Value // the receiver as JS sees it (methods)
	ret  goja.Value
}

// function wraps a host Function as a JS function. Methods find their host
// object through `this`.
func (v *vm) function(fn script.Function, method bool) func(goja.FunctionCall) goja.Value {
	return func(fc goja.FunctionCall) goja.Value {
		if v.depth == len(v.calls) {
			v.calls = append(v.calls, &call{v: v})
		}
		c := v.calls[v.depth]
		v.depth++
		c.args, c.self, c.this, c.ret = fc.Arguments, nil, nil, nil
		defer func() {
			v.depth--
			c.args, c.this = nil, nil
			if r := recover(); r != nil {
				if ue, ok := r.(*script.UsageError); ok {
					panic(v.rt.NewTypeError(ue.Msg))
				}
				// A fault in Go code (nil map, bad index...) becomes a JS
				// error, as gopher-lua's pcall makes it a Lua error; goja
				// would let it crash the process. goja's own panics are
				// never runtime.Errors.
				if re, ok := r.(runtime.Error); ok {
					panic(v.rt.NewGoError(re))
				}
				panic(r)
			}
		}()
		if method {
			c.self, c.this = v.receiver(fc.This), fc.This
			if c.self == nil {
				script.Usagef("method called without its object: use obj.method(...)")
			}
		}
		fn(c)
		if c.ret == nil {
			return goja.Undefined()
		}
		return c.ret
	}
}

func (c *call) Instance() script.Instance { return c.v.inst }
func (c *call) Self() *script.Object      { return c.self }
func (c *call) NArgs() int                { return len(c.args) }

func (c *call) get(i int) goja.Value {
	if i < len(c.args) {
		return c.args[i]
	}
	return goja.Undefined()
}

func absent(v goja.Value) bool { return v == nil || goja.IsUndefined(v) || goja.IsNull(v) }

func (c *call) Arg(i int) script.Value { return c.v.fromJS(c.get(i), 0) }

func (c *call) Absent(i int) bool { return absent(c.get(i)) }

func (c *call) typeName(v goja.Value) string {
	if absent(v) {
		if v != nil && goja.IsNull(v) {
			return "null"
		}
		return "undefined"
	}
	switch v.ExportType() {
	case typeString:
		return "string"
	case typeInt, typeFloat:
		return "number"
	case typeBool:
		return "boolean"
	}
	if _, ok := goja.AssertFunction(v); ok {
		return "function"
	}
	return "object"
}

func (c *call) bad(i int, name, want string) {
	script.Usagef("argument %d (%s) must be %s, got %s", i+1, name, want, c.typeName(c.get(i)))
}

func (c *call) Int(i int, name string) int64 {
	v := c.get(i)
	switch v.ExportType() {
	case typeInt, typeFloat:
		return v.ToInteger()
	}
	c.bad(i, name, "a number")
	return 0
}

func (c *call) OptInt(i int, name string, def int64) int64 {
	if absent(c.get(i)) {
		return def
	}
	return c.Int(i, name)
}

func (c *call) Float(i int, name string) float64 {
	v := c.get(i)
	switch v.ExportType() {
	case typeInt, typeFloat:
		return v.ToFloat()
	}
	c.bad(i, name, "a number")
	return 0
}

func (c *call) OptFloat(i int, name string, def float64) float64 {
	if absent(c.get(i)) {
		return def
	}
	return c.Float(i, name)
}

func (c *call) Bool(i int, name string) bool {
	v := c.get(i)
	if v.ExportType() != typeBool {
		c.bad(i, name, "a boolean")
	}
	return v.ToBoolean()
}

func (c *call) OptBool(i int, name string, def bool) bool {
	if absent(c.get(i)) {
		return def
	}
	return c.Bool(i, name)
}

func (c *call) Str(i int, name string) string {
	v := c.get(i)
	switch v.ExportType() {
	case typeString, typeInt, typeFloat:
		return v.String()
	}
	if o, ok := v.(*goja.Object); ok {
		if b, ok := o.Bytes(); ok {
			return string(b)
		}
	}
	c.bad(i, name, "a string")
	return ""
}

func (c *call) OptStr(i int, name string, def string) string {
	if absent(c.get(i)) {
		return def
	}
	return c.Str(i, name)
}

// Bytes implements script.Call. A string's bytes are a view of its Go
// string (immutable, as a Lua string's are): no copy.
func (c *call) Bytes(i int, name string) []byte {
	v := c.get(i)
	switch v.ExportType() {
	case typeString:
		s := v.String()
		if s == "" {
			return []byte{}
		}
		return unsafe.Slice(unsafe.StringData(s), len(s))
	case typeInt, typeFloat:
		return []byte(v.String())
	}
	if o, ok := v.(*goja.Object); ok {
		if b, ok := o.Bytes(); ok {
			return b
		}
	}
	c.bad(i, name, "a string or Buffer")
	return nil
}

func (c *call) Func(i int, name string) script.Callback {
	v := c.get(i)
	fn, ok := goja.AssertFunction(v)
	if !ok {
		c.bad(i, name, "a function")
	}
	return &callback{vm: c.v, fn: fn, v: v}
}

func (c *call) Table(i int, name string) script.Map {
	v := c.get(i)
	o, ok := v.(*goja.Object)
	if !ok || absent(v) {
		c.bad(i, name, "an object")
	}
	m, ok := c.v.fromJS(o, 0).(script.Map)
	if !ok {
		c.bad(i, name, "an object")
	}
	return m
}

func (c *call) Fields(i int, name string, names []string, vals []script.Value) {
	v := c.get(i)
	o, ok := v.(*goja.Object)
	if !ok || absent(v) {
		c.bad(i, name, "an object")
	}
	for j, n := range names {
		vals[j] = c.v.fromJS(o.Get(n), 1)
	}
}

func (c *call) OptTable(i int, name string) script.Map {
	if absent(c.get(i)) {
		return nil
	}
	return c.Table(i, name)
}

func (c *call) Return(vals ...script.Value) {
	if len(vals) > 0 && c.ret == nil {
		c.ret = c.v.toJS(vals[0], 0)
	}
}

// ReturnSelf returns `this`: the receiver's own object, not a second one.
func (c *call) ReturnSelf() {
	if c.ret == nil && c.this != nil {
		c.ret = c.this
	}
}

func (c *call) ReturnInt(n int64)     { c.ret = c.v.rt.ToValue(n) }
func (c *call) ReturnFloat(f float64) { c.ret = c.v.rt.ToValue(f) }
func (c *call) ReturnBool(b bool)     { c.ret = c.v.rt.ToValue(b) }
func (c *call) ReturnStr(s string)    { c.ret = c.v.rt.ToValue(s) }
func (c *call) Fail(string)           { c.ret = c.v.rt.ToValue(false) }

func (c *call) ReturnFields(names []string, vals []script.Value) {
	if c.ret != nil {
		return
	}
	o := c.v.rt.NewObject()
	for j, n := range names {
		if vals[j] != nil {
			_ = o.Set(n, c.v.toJS(vals[j], 1))
		}
	}
	c.ret = o
}

// Suspends implements script.Call: JS never suspends; Async returns a
// Promise.
func (c *call) Suspends() bool { return false }

// Run implements script.Call: work runs on Go's pool and settles the
// call's Promise.
func (c *call) Run(cbArg int, work func() (script.Value, error)) {
	settle := c.Async(cbArg)
	script.Go(func() { settle(work()) })
}

func (c *call) Async(int) func(script.Value, error) {
	v := c.v
	rt := v.rt
	p, resolve, reject := rt.NewPromise()
	c.ret = rt.ToValue(p)
	inst := v.inst
	var once sync.Once
	return func(res script.Value, err error) {
		once.Do(func() {
			inst.Post(func() {
				// Settling through a JS-callable function makes goja run
				// the promise's reactions when the call returns.
				settle := func(goja.FunctionCall) goja.Value {
					if err != nil {
						e := rt.NewGoError(err)
						if code := script.ErrorCode(err); code != nil {
							_ = e.Set("code", v.toJS(code, 0))
						}
						_ = reject(e)
					} else {
						if rs, ok := res.(script.Results); ok {
							res = nil
							if len(rs) > 0 {
								res = rs[0]
							}
						}
						_ = resolve(v.toJS(res, 0))
					}
					return goja.Undefined()
				}
				fn, _ := goja.AssertFunction(rt.ToValue(settle))
				inst.Call("promise", &callback{vm: v, fn: fn}, nil)
			})
		})
	}
}

// ReadRow implements script.RowCall.
func (c *call) ReadRow(i int, name string, names []string, cells []script.Cell) {
	v := c.get(i)
	o, ok := v.(*goja.Object)
	if !ok || absent(v) {
		c.bad(i, name, "an object")
	}
	for j, n := range names {
		fv := o.Get(n)
		if absent(fv) {
			cells[j] = script.Cell{}
			continue
		}
		switch fv.ExportType() {
		case typeString:
			cells[j] = script.Cell{Kind: script.CellString, Str: fv.String()}
		case typeInt:
			cells[j] = script.Cell{Kind: script.CellNumber, Num: float64(fv.ToInteger())}
		case typeFloat:
			cells[j] = script.Cell{Kind: script.CellNumber, Num: fv.ToFloat()}
		default:
			cells[j] = script.Cell{Kind: script.CellValue, Val: c.v.fromJS(fv, 1)}
		}
	}
}

// ReturnRow implements script.RowCall.
func (c *call) ReturnRow(into int, names []string, cells []script.Cell) {
	rt := c.v.rt
	var o *goja.Object
	if into >= 0 {
		v := c.get(into)
		var ok bool
		if o, ok = v.(*goja.Object); !ok || absent(v) {
			c.bad(into, "row", "an object")
		}
	} else {
		o = rt.NewObject()
	}
	for j, n := range names {
		var jv goja.Value
		switch cl := &cells[j]; cl.Kind {
		case script.CellAbsent:
			continue
		case script.CellInt:
			if cl.Int > maxSafe || cl.Int < -maxSafe {
				jv = c.v.toJS(cl.Int, 1) // a BigInt, as toJS makes it
			} else {
				jv = rt.ToValue(cl.Int)
			}
		case script.CellNumber:
			jv = c.v.toJS(cl.Num, 1)
		case script.CellString:
			if into >= 0 {
				// A row read again into the same object: an unchanged
				// string is left as it is (no new string value).
				if old := o.Get(n); old != nil && old.ExportType() == typeString && old.String() == cl.Str {
					continue
				}
			}
			jv = rt.ToValue(cl.Str)
		default:
			jv = c.v.toJS(cl.Val, 1)
		}
		if err := o.Set(n, jv); err != nil {
			script.Usagef("cannot set field %s: %v", n, err)
		}
	}
	c.ret = o
}

// IsTable implements script.RowCall.
func (c *call) IsTable(i int) bool {
	o, ok := c.get(i).(*goja.Object)
	if !ok {
		return false
	}
	switch o.ExportType() {
	case typeHostObject, typeBytes, typeAB:
		return false
	}
	if o.ClassName() == "Array" {
		return false
	}
	_, isFn := goja.AssertFunction(o)
	return !isFn
}

// Cells implements script.RowCall.
func (c *call) Cells(n int) []script.Cell {
	if cap(c.v.cells) < n {
		c.v.cells = make([]script.Cell, n)
	}
	return c.v.cells[:n]
}
