package goja

// Tests of imscript's changes to goja (README.md): what each saves, and
// that the objects behave as the ones upstream's paths made.

import (
	"testing"
)

// TestStackKeptBetweenCalls: a top-level call from Go reuses the stack the
// last one grew (upstream dropped it in leave, so each call allocated it
// again), and the kept stack holds none of the last call's values.
func TestStackKeptBetweenCalls(t *testing.T) {
	r := New()
	v, err := r.RunString(`(function (a, b, c) { const x = a + b; return x + c; })`)
	if err != nil {
		t.Fatal(err)
	}
	f, ok := AssertFunction(v)
	if !ok {
		t.Fatal("not a function")
	}
	one := r.ToValue(1)
	args := []Value{one, one, one}
	call := func() {
		if res, err := f(nil, args...); err != nil || res.ToInteger() != 3 {
			t.Fatalf("f(1, 1, 1) = %v, %v; want 3", res, err)
		}
	}
	call()
	if got := testing.AllocsPerRun(200, call); got != 0 {
		t.Errorf("a call of a function that allocates nothing: %.1f allocations, want 0", got)
	}
	if cap(r.vm.stack) == 0 {
		t.Errorf("the stack was dropped after the call")
	}
	for i, val := range r.vm.stack[:cap(r.vm.stack)] {
		if val != nil {
			t.Fatalf("slot %d of the kept stack holds %v after the call", i, val)
		}
	}
}

// TestStackKeptHoldsNothingAlive: after calls that return an object and
// keep values in locals, every slot of the kept stack, to its capacity,
// is nil: it keeps nothing alive and shows the next call nothing. (goja's
// call stack keeps the last call's result past its end, as upstream's
// does: README.)
func TestStackKeptHoldsNothingAlive(t *testing.T) {
	r := New()
	v, err := r.RunString(`(function (o, n) { let a = [o], b = {o}, c = n + 1; return [a, b, c, o]; })`)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := AssertFunction(v)
	payload := &struct{ N int }{N: 7}
	for range 3 {
		res, err := f(nil, r.ToValue(payload), r.ToValue(1))
		if err != nil || res.(*Object).Get("3").Export() != payload {
			t.Fatalf("f(o, 1) = %v, %v; want [a, b, c, o]", res, err)
		}
	}
	if cap(r.vm.stack) == 0 {
		t.Fatal("the stack was dropped after the call")
	}
	for i, val := range r.vm.stack[:cap(r.vm.stack)] {
		if val != nil {
			t.Fatalf("slot %d of %d of the kept stack holds %v after the call", i, cap(r.vm.stack), val)
		}
	}
}

// TestRuntimeNewUint8Array: the array is what `new Uint8Array(arrayBuffer)` makes
// over the same bytes (with the given prototype), in one allocation, and
// takes properties like any object.
func TestRuntimeNewUint8Array(t *testing.T) {
	r := New()
	data := []byte("hello")
	proto := r.NewObject()
	uproto, err := r.RunString(`Uint8Array.prototype`)
	if err != nil {
		t.Fatal(err)
	}
	_ = proto.SetPrototype(uproto.(*Object))
	_ = proto.Set("tag", "sub")
	a := r.NewUint8Array(data, proto)
	p := r.NewUint8Array(data, nil)
	_ = r.Set("a", a)
	_ = r.Set("p", p)
	_ = r.Set("proto", proto)
	for _, check := range []string{
		`a instanceof Uint8Array`,
		`Object.getPrototypeOf(a) === proto && a.tag === "sub"`,
		`Object.getPrototypeOf(p) === Uint8Array.prototype`,
		`a.length === 5 && a.byteLength === 5 && a.byteOffset === 0`,
		`a.buffer instanceof ArrayBuffer && a.buffer.byteLength === 5`,
		`String.fromCharCode(...a) === "hello"`,
		`a.subarray(1, 3).length === 2 && a.subarray(1, 3)[0] === 101`,
		`(a.x = 1, a.x === 1 && Object.keys(a).includes("x"))`,
		`(Object.defineProperty(p, "y", {value: 2}), p.y === 2)`,
		`(a.buffer.z = 3, a.buffer.z === 3)`,
		`(a[0] = 72, a[0] === 72)`,
		`a.slice(0, 2) instanceof Uint8Array && a.slice(0, 2).length === 2`,
	} {
		res, err := r.RunString(check)
		if err != nil {
			t.Fatalf("%s: %v", check, err)
		}
		if !res.ToBoolean() {
			t.Errorf("%s: false", check)
		}
	}
	if data[0] != 'H' {
		t.Errorf("a write through the array did not reach its bytes: %q", data)
	}
	if n := testing.AllocsPerRun(200, func() { _ = r.NewUint8Array(data, proto) }); n > 1 {
		t.Errorf("NewUint8Array: %.1f allocations, want 1", n)
	}
}

type memDyn struct {
	mem DynamicObjectMem
	v   Value
}

func (d *memDyn) Get(key string) Value {
	if key == "v" {
		return d.v
	}
	return nil
}
func (d *memDyn) Set(string, Value) bool { return false }
func (d *memDyn) Has(key string) bool    { return key == "v" }
func (d *memDyn) Delete(string) bool     { return false }
func (d *memDyn) Keys() []string         { return []string{"v"} }

// TestNewDynamicObjectIn: a DynamicObject holding its object's memory is
// one allocation with it, and its prototype is the one given.
func TestNewDynamicObjectIn(t *testing.T) {
	r := New()
	proto := r.NewObject()
	_ = proto.Set("hello", "proto")
	d := &memDyn{v: r.ToValue(42)}
	o := r.NewDynamicObjectIn(&d.mem, d, proto)
	plain := r.NewDynamicObject(&memDyn{v: r.ToValue(1)})
	_ = r.Set("o", o)
	_ = r.Set("plain", plain)
	_ = r.Set("proto", proto)
	for _, check := range []string{
		`o.v === 42 && o.hello === "proto" && Object.getPrototypeOf(o) === proto`,
		`JSON.stringify(o) === '{"v":42}'`,
		`plain.v === 1 && Object.getPrototypeOf(plain) === Object.prototype`,
	} {
		res, err := r.RunString(check)
		if err != nil {
			t.Fatalf("%s: %v", check, err)
		}
		if !res.ToBoolean() {
			t.Errorf("%s: false", check)
		}
	}
	if o.Export() != d {
		t.Errorf("Export of the object is not its DynamicObject")
	}
	n := testing.AllocsPerRun(200, func() {
		d := &memDyn{}
		_ = r.NewDynamicObjectIn(&d.mem, d, nil)
	})
	if n > 1 {
		t.Errorf("a DynamicObject and its object: %.1f allocations, want 1", n)
	}
}

// TestObjectBytes: Bytes is the view Export gives, for the types whose
// Export is []byte or an ArrayBuffer, without allocating.
func TestObjectBytes(t *testing.T) {
	r := New()
	for _, c := range []struct {
		src  string
		want string
		ok   bool
	}{
		{`new Uint8Array([104, 105, 33]).subarray(1)`, "i!", true},
		{`new Uint8ClampedArray([104, 105])`, "hi", true},
		{`new Uint8Array([104, 105, 33]).buffer`, "hi!", true},
		{`new Uint8Array(0)`, "", true},
		{`new Int8Array([104])`, "", false},
		{`({length: 1, 0: 104})`, "", false},
	} {
		v, err := r.RunString(c.src)
		if err != nil {
			t.Fatal(err)
		}
		o := v.(*Object)
		b, ok := o.Bytes()
		if ok != c.ok || string(b) != c.want {
			t.Errorf("%s: Bytes() = %q, %v; want %q, %v", c.src, b, ok, c.want, c.ok)
		}
		if ok {
			var exp []byte
			switch e := o.Export().(type) {
			case []byte:
				exp = e
			case ArrayBuffer:
				exp = e.Bytes()
			}
			if string(exp) != string(b) {
				t.Errorf("%s: Bytes() = %q, Export %q", c.src, b, exp)
			}
		}
	}
	buf := r.NewUint8Array([]byte("abc"), nil)
	if n := testing.AllocsPerRun(200, func() { _, _ = buf.Bytes() }); n != 0 {
		t.Errorf("Bytes: %.1f allocations, want 0", n)
	}
}

// TestObjectBytesDetached: a Uint8Array whose buffer was detached (the
// Go API's ArrayBuffer.Detach) views no bytes.
func TestObjectBytesDetached(t *testing.T) {
	r := New()
	u := r.NewUint8Array([]byte("ab"), nil)
	_ = r.Set("u", u)
	abv, err := r.RunString(`u.buffer`)
	if err != nil {
		t.Fatal(err)
	}
	ab := abv.Export().(ArrayBuffer)
	if !ab.Detach() {
		t.Fatal("Detach: false")
	}
	if b, ok := u.Bytes(); !ok || len(b) != 0 {
		t.Errorf("Bytes() of a detached view = %q, %v; want none, true", b, ok)
	}
}
