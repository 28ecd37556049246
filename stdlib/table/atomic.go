package table

import (
	"sync/atomic"

	"github.com/imscript/imscript/script"
)

// Atomic is imscript.atomic: a named int64 shared by every worker.
type Atomic struct {
	name string
	v    atomic.Int64
}

// Name is the counter's name.
func (a *Atomic) Name() string { return a.name }

// Value is the counter's value.
func (a *Atomic) Value() int64 { return a.v.Load() }

var atomicType = &script.Type{
	Name: "atomic",
	Doc:  "An integer shared by every worker.",
}

func init() {
	atomicType.Define(map[string]script.Method{
		"add": {Args: "by?: integer", Returns: "integer", Doc: "Adds (1 unless told); returns the new value.", Fn: func(c script.Call) {
			a := c.Self().Data.(*Atomic)
			c.ReturnInt(a.v.Add(optWhole(c, 0, "by", 1)))
		}},
		"sub": {Args: "by?: integer", Returns: "integer", Doc: "Subtracts (1 unless told); returns the new value.", Fn: func(c script.Call) {
			a := c.Self().Data.(*Atomic)
			c.ReturnInt(a.v.Add(-optWhole(c, 0, "by", 1)))
		}},
		"get": {Returns: "integer", Doc: "The value.", Fn: func(c script.Call) {
			c.ReturnInt(c.Self().Data.(*Atomic).v.Load())
		}},
		"set": {Args: "value: integer", Doc: "Sets the value.", Fn: func(c script.Call) {
			a := c.Self().Data.(*Atomic)
			a.v.Store(whole(c, 0, "value"))
		}},
		"cmpset": {Args: "old: integer, new: integer", Returns: "boolean", Doc: "Sets new if the value is old; whether it did.", Fn: func(c script.Call) {
			a := c.Self().Data.(*Atomic)
			old, nv := whole(c, 0, "old"), whole(c, 1, "new")
			c.ReturnBool(a.v.CompareAndSwap(old, nv))
		}},
	})
}

// declareAtomic is imscript.atomic(name [, initial]).
func (r *registry) declareAtomic(c script.Call) {
	name := c.Str(0, "name")
	if name == "" {
		script.Usagef("imscript.atomic: the name is empty")
	}
	initial := optWhole(c, 1, "initial", 0)
	r.mu.Lock()
	o, ok := r.atomics[name]
	if !ok {
		a := &Atomic{name: name}
		a.v.Store(initial)
		o = &script.Object{Type: atomicType, Data: a}
		r.atomics[name] = o
	}
	r.mu.Unlock()
	c.Return(o)
}
