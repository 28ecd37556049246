package js

import (
	"math"
	"math/big"
	"reflect"
	"sort"
	"unsafe"

	"github.com/imscript/imscript/bindings/js/internal/goja"

	"github.com/imscript/imscript/script"
)

const maxDepth = 100

// callback is a JS function handed to the host.
type callback struct {
	vm *vm
	fn goja.Callable
	v  goja.Value
}

func (c *callback) Instance() script.Instance { return c.vm.inst }

func (v *vm) toJS(val script.Value, depth int) goja.Value {
	if depth > maxDepth {
		script.Usagef("value nested deeper than %d levels", maxDepth)
	}
	rt := v.rt
	switch x := val.(type) {
	case nil:
		return goja.Null()
	case *script.Object:
		if x == script.Null {
			return goja.Null()
		}
		return v.object(x)
	case bool:
		return rt.ToValue(x)
	case int64:
		if x > maxSafe || x < -maxSafe {
			return rt.ToValue(big.NewInt(x)) // a BigInt: exact, where a number would round
		}
		return v.integer(x)
	case int:
		return v.integer(int64(x))
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return v.integer(int64(x))
		}
		return rt.ToValue(val) // val, not x: no second box
	case string:
		return v.str(x, val)
	case []byte:
		return v.buf.WrapBytes(x)
	case script.List:
		vals := make([]any, len(x))
		for i, e := range x {
			vals[i] = v.toJS(e, depth+1)
		}
		return rt.NewArray(vals...)
	case script.Map:
		o := rt.NewObject()
		for k, e := range x {
			_ = o.Set(k, v.toJS(e, depth+1))
		}
		return o
	case script.Function:
		return rt.ToValue(v.function(x, false))
	case *callback:
		return x.v
	case *jsValue:
		return x.v
	}
	script.Usagef("cannot pass a Go %T to JavaScript", val)
	return goja.Undefined()
}

// maxSafe is the largest integer a JS number holds exactly (2^53 - 1):
// 64-bit integers beyond it cross as BigInts.
const maxSafe = 1<<53 - 1

func (v *vm) fromJS(jv goja.Value, depth int) script.Value {
	if depth > maxDepth {
		script.Usagef("object nested deeper than %d levels (a cycle?)", maxDepth)
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
	case typeBigInt:
		if b, ok := jv.Export().(*big.Int); ok {
			if b.IsInt64() {
				return b.Int64()
			}
			return b.String()
		}
	}
	o, ok := jv.(*goja.Object)
	if !ok {
		return jv.String()
	}
	if ho := hostOf(o); ho != nil {
		return ho
	}
	if fn, ok := goja.AssertFunction(o); ok {
		return &callback{vm: v, fn: fn, v: o}
	}
	if b, ok := o.Bytes(); ok {
		return append([]byte(nil), b...)
	}
	if o.ClassName() == "Array" {
		n := int(o.Get("length").ToInteger())
		l := make(script.List, n)
		for i := 0; i < n; i++ {
			l[i] = v.fromJS(o.Get(itoa(i)), depth+1)
		}
		return l
	}
	keys := o.Keys()
	m := make(script.Map, len(keys))
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

// hostObject is the JS face of a host object: a goja dynamic object whose
// properties are the type's methods and computed properties. Methods find
// their host object through `this` (Export), so no lookup table is kept
// and transient objects (HTTP responses) are garbage like any other.
type hostObject struct {
	v  *vm
	o  *script.Object
	tm *typeMethods
	// mem is the JS object's own memory: hostObject and object are one
	// allocation (goja.NewDynamicObjectIn).
	mem goja.DynamicObjectMem
}

// typeMethods caches a type's method functions per VM.
type typeMethods struct {
	methods map[string]goja.Value
	names   []string
	// proto is the prototype of iterable types' objects (Type.Iter): it
	// carries Symbol.iterator.
	proto *goja.Object
}

var typeHostObject = reflect.TypeOf((*hostObject)(nil))

func (h *hostObject) Get(key string) goja.Value {
	if m, ok := h.tm.methods[key]; ok {
		return m
	}
	if p, ok := h.o.Type.Props[key]; ok {
		return h.v.toJS(p(h.o), 0)
	}
	if key == "toString" {
		return h.tm.methods["toString"]
	}
	return nil
}

func (h *hostObject) Set(string, goja.Value) bool { return false }

func (h *hostObject) Has(key string) bool {
	_, m := h.tm.methods[key]
	_, p := h.o.Type.Props[key]
	return m || p
}

func (h *hostObject) Delete(string) bool { return false }

func (h *hostObject) Keys() []string { return h.tm.names }

// object returns the JS object that stands for o in this VM: always the
// same one unless the type is transient.
func (v *vm) object(o *script.Object) *goja.Object {
	if !o.Type.Transient {
		if jo, ok := v.objects[o]; ok {
			return jo
		}
	}
	tm := v.methods(o.Type)
	// Dynamic objects cannot hold symbol keys but look them up on their
	// prototype: an iterable type's Symbol.iterator lives in tm.proto (nil:
	// Object.prototype).
	h := &hostObject{v: v, o: o, tm: tm}
	jo := v.rt.NewDynamicObjectIn(&h.mem, h, tm.proto)
	if !o.Type.Transient {
		v.objects[o] = jo
	} else {
		// A transient object (a request's res) is made to be called on
		// next: the receiver cache then needs no Export (which allocates).
		v.madeThis, v.madeHost = jo, o
	}
	return jo
}

// receiver is hostOf for the `this` of a method call. It remembers the
// last receiver, so a loop calling methods of one object skips Export
// (which allocates).
func (v *vm) receiver(this goja.Value) *script.Object {
	o, ok := this.(*goja.Object)
	if !ok || o == nil {
		return nil
	}
	if o == v.lastThis {
		return v.lastHost
	}
	if o == v.madeThis {
		return v.madeHost
	}
	ho := hostOf(o)
	if ho != nil {
		v.lastThis, v.lastHost = o, ho
	}
	return ho
}

// hostOf returns the host object behind a JS value, or nil.
func hostOf(val goja.Value) *script.Object {
	o, ok := val.(*goja.Object)
	if !ok || o.ExportType() != typeHostObject {
		return nil
	}
	return o.Export().(*hostObject).o
}

func (v *vm) methods(t *script.Type) *typeMethods {
	if tm, ok := v.types[t]; ok {
		return tm
	}
	rt := v.rt
	tm := &typeMethods{methods: map[string]goja.Value{}}
	for name, fn := range t.Methods {
		tm.methods[name] = rt.ToValue(v.function(fn, true))
	}
	for name := range t.Props {
		tm.names = append(tm.names, name)
	}
	sort.Strings(tm.names)
	name := t.Name
	tm.methods["toString"] = rt.ToValue(func(goja.FunctionCall) goja.Value { return rt.ToValue("[object " + name + "]") })
	if t.Iter != nil {
		tm.proto = v.iterProto(t.Iter)
	}
	v.types[t] = tm
	return tm
}

// iterProto builds the prototype of an iterable type's objects: its
// [Symbol.iterator]() returns an iterator whose values are [key, value]
// pairs, as a Map's, so `for (const [k, v] of obj)` works.
func (v *vm) iterProto(iter func(*script.Object) func() (script.Value, script.Value, bool)) *goja.Object {
	rt := v.rt
	proto := rt.NewObject()
	start := script.Function(func(c script.Call) {
		next := iter(c.Self())
		it := rt.NewObject()
		if ip := v.iteratorPrototype(); ip != nil {
			_ = it.SetPrototype(ip)
		}
		step := script.Function(func(c script.Call) {
			k, val, ok := next()
			res := rt.NewObject()
			if ok {
				_ = res.Set("value", rt.NewArray(v.toJS(k, 0), v.toJS(val, 0)))
				_ = res.Set("done", false)
			} else {
				_ = res.Set("value", goja.Undefined())
				_ = res.Set("done", true)
			}
			c.Return(&jsValue{res})
		})
		_ = it.Set("next", v.function(step, false))
		c.Return(&jsValue{it})
	})
	_ = proto.SetSymbol(goja.SymIterator, v.function(start, true))
	return proto
}

// iteratorPrototype is %IteratorPrototype% (whose [Symbol.iterator]
// returns the iterator itself), found through an array iterator.
func (v *vm) iteratorPrototype() *goja.Object {
	if v.iterProtoObj == nil {
		arr := v.rt.NewArray()
		if fn, ok := goja.AssertFunction(arr.GetSymbol(goja.SymIterator)); ok {
			if it, err := fn(arr); err == nil {
				if o, ok := it.(*goja.Object); ok {
					if p := o.Prototype(); p != nil {
						v.iterProtoObj = p.Prototype()
					}
				}
			}
		}
	}
	return v.iterProtoObj
}

// Making a JS value of an integer or a string allocates. Handlers get the
// same few again and again (a connection's fd, "text", a field name), so
// the VM keeps the last values made, direct-mapped: a hit costs a
// compare.

const boxSlots = 64

type intBox struct {
	n int64
	v goja.Value
}

type strBox struct {
	p *byte
	n int
	v goja.Value // holds the string: its bytes cannot be reused meanwhile
}

// maxBoxedStr is the longest string kept: short constants, not payloads.
const maxBoxedStr = 16

func (v *vm) integer(n int64) goja.Value {
	b := &v.ints[uint64(n)%boxSlots]
	if b.v == nil || b.n != n {
		b.n, b.v = n, v.rt.ToValue(n)
	}
	return b.v
}

// str is s (boxed as val) as a JS string, the same value for the same
// string (same bytes in memory: a Go string is immutable).
func (v *vm) str(s string, val script.Value) goja.Value {
	if len(s) == 0 || len(s) > maxBoxedStr {
		return v.rt.ToValue(val)
	}
	p := unsafe.StringData(s)
	b := &v.strs[(uintptr(unsafe.Pointer(p))>>3+uintptr(len(s)))%boxSlots]
	if b.p != p || b.n != len(s) {
		b.p, b.n, b.v = p, len(s), v.rt.ToValue(val)
	}
	return b.v
}
