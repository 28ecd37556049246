package js

import (
	"math"

	"github.com/dop251/goja"

	"github.com/imscript/imscript/host"
)

const maxDepth = 100

// callback is a JS function handed to the host.
type callback struct {
	vm *vm
	fn goja.Callable
	v  goja.Value
}

func (c *callback) Instance() *host.Instance { return c.vm.inst }

func (v *vm) toJS(val host.Value, depth int) goja.Value {
	if depth > maxDepth {
		host.Usagef("value nested deeper than %d levels", maxDepth)
	}
	rt := v.rt
	switch x := val.(type) {
	case nil:
		return goja.Null()
	case bool:
		return rt.ToValue(x)
	case int64:
		return rt.ToValue(x)
	case int:
		return rt.ToValue(int64(x))
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return rt.ToValue(int64(x))
		}
		return rt.ToValue(x)
	case string:
		return rt.ToValue(x)
	case []byte:
		return v.buf.WrapBytes(x)
	case host.List:
		vals := make([]any, len(x))
		for i, e := range x {
			vals[i] = v.toJS(e, depth+1)
		}
		return rt.NewArray(vals...)
	case host.Map:
		o := rt.NewObject()
		for k, e := range x {
			_ = o.Set(k, v.toJS(e, depth+1))
		}
		return o
	case *host.Object:
		return v.object(x)
	case host.Function:
		return rt.ToValue(v.function(x, false))
	case *callback:
		return x.v
	case *jsValue:
		return x.v
	}
	host.Usagef("cannot pass a Go %T to JavaScript", val)
	return goja.Undefined()
}

func (v *vm) fromJS(jv goja.Value, depth int) host.Value {
	if depth > maxDepth {
		host.Usagef("object nested deeper than %d levels (a cycle?)", maxDepth)
	}
	if jv == nil || goja.IsUndefined(jv) || goja.IsNull(jv) {
		return nil
	}
	switch jv.ExportType() {
	case typeString:
		return jv.String()
	case typeInt:
		return float64(jv.ToInteger())
	case typeFloat:
		return jv.ToFloat()
	case typeBool:
		return jv.ToBoolean()
	}
	o, ok := jv.(*goja.Object)
	if !ok {
		return jv.String()
	}
	if ho, ok := v.back[o]; ok {
		return ho
	}
	if fn, ok := goja.AssertFunction(o); ok {
		return &callback{vm: v, fn: fn, v: o}
	}
	switch o.ExportType() {
	case typeBytes:
		b := o.Export().([]byte)
		return append([]byte(nil), b...)
	case typeAB:
		b := o.Export().(goja.ArrayBuffer).Bytes()
		return append([]byte(nil), b...)
	}
	if o.ClassName() == "Array" {
		n := int(o.Get("length").ToInteger())
		l := make(host.List, n)
		for i := 0; i < n; i++ {
			l[i] = v.fromJS(o.Get(itoa(i)), depth+1)
		}
		return l
	}
	keys := o.Keys()
	m := make(host.Map, len(keys))
	for _, k := range keys {
		m[k] = v.fromJS(o.Get(k), depth+1)
	}
	return m
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	var b [20]byte
	n := len(b)
	for i > 0 {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
	}
	return string(b[n:])
}

// object returns the one JS object that stands for o in this VM.
func (v *vm) object(o *host.Object) *goja.Object {
	if jo, ok := v.objects[o]; ok {
		return jo
	}
	jo := v.rt.NewObject()
	_ = jo.SetPrototype(v.proto(o.Type))
	v.objects[o] = jo
	v.back[jo] = o
	return jo
}

// proto builds a type's prototype: its methods and property getters.
func (v *vm) proto(t *host.Type) *goja.Object {
	if p, ok := v.protos[t]; ok {
		return p
	}
	rt := v.rt
	p := rt.NewObject()
	for name, fn := range t.Methods {
		_ = p.Set(name, v.function(fn, true))
	}
	for name, get := range t.Props {
		get := get
		getter := rt.ToValue(func(call goja.FunctionCall) goja.Value {
			o, ok := call.This.(*goja.Object)
			if !ok {
				return goja.Undefined()
			}
			ho := v.back[o]
			if ho == nil {
				return goja.Undefined()
			}
			return v.toJS(get(ho), 0)
		})
		_ = p.DefineAccessorProperty(name, getter, nil, goja.FLAG_FALSE, goja.FLAG_TRUE)
	}
	_ = p.Set("toString", func(goja.FunctionCall) goja.Value { return rt.ToValue("[object " + t.Name + "]") })
	v.protos[t] = p
	return p
}
