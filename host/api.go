package host

import (
	"fmt"
	"slices"
	"strings"
)

// Value is a language-neutral script value. It holds one of:
// nil, bool, int64, float64, string, []byte (binary data), List, Map,
// *Object, Function (a Go function) or Callback (a script function).
type Value = any

// List is a neutral array (Lua sequence, JS Array).
type List = []Value

// Map is a neutral record (Lua table with string keys, JS object).
type Map = map[string]Value

// Function is a Go function callable from scripts. It reads its arguments and
// writes its results through the Call the binding hands it.
type Function func(c Call)

// Call is one invocation of a Function from a script. Each binding implements
// it directly over its VM's argument stack, so typed accessors cost no
// boxing. Argument indexes start at 0 and never include the receiver.
//
// The typed accessors raise a usage error that names the argument (see
// Usagef) when the argument has the wrong type.
type Call interface {
	// Instance is the script instance (one VM on one worker) making the call.
	Instance() *Instance
	// Self is the receiver of a method call (nil for plain functions).
	Self() *Object
	NArgs() int
	// Arg returns argument i converted to a neutral value (nil when absent).
	Arg(i int) Value
	Int(i int, name string) int64
	OptInt(i int, name string, def int64) int64
	Float(i int, name string) float64
	OptFloat(i int, name string, def float64) float64
	Bool(i int, name string) bool
	OptBool(i int, name string, def bool) bool
	// Str accepts a string or binary data and returns it as a string.
	Str(i int, name string) string
	OptStr(i int, name string, def string) string
	// Bytes accepts a string or binary data. The result may share memory
	// with the VM's value: it must be treated as read-only and copied before
	// it is kept beyond the call.
	Bytes(i int, name string) []byte
	// Func returns a script function argument as a Callback bound to this
	// instance.
	Func(i int, name string) Callback
	// Table returns a Lua table / JS object argument as a Map.
	Table(i int, name string) Map
	// OptTable is Table, or nil when the argument is absent or nil.
	OptTable(i int, name string) Map
	// Fields reads the fields names[j] of the table / object argument i
	// into vals[j] (nil when absent) without building a Map: a record
	// read for hot paths. Fields not named are not looked at.
	Fields(i int, name string, names []string, vals []Value)

	// Return sets the results of the call (Lua: multiple values; JS: the
	// first one).
	Return(vals ...Value)
	ReturnInt(n int64)
	ReturnFloat(f float64)
	ReturnBool(b bool)
	ReturnStr(s string)
	// ReturnFields returns a new table / object with the fields names[j] =
	// vals[j] in that order (nil values are left out), built without a
	// Map: a record return for hot paths.
	ReturnFields(names []string, vals []Value)
	// Fail reports a routine failure: the call returns false (Lua: false and
	// the reason as a second value; JS: false).
	Fail(reason string)

	// Async makes the call asynchronous. JS: the call returns a Promise.
	// Lua: argument cbArg, if given, is a callback fn(result, err). The
	// returned settle function may be called once, from any goroutine; the
	// result reaches the script on its worker, in order with its other
	// events. A failure with no Lua callback is logged.
	Async(cbArg int) (settle func(result Value, err error))
}

// UsageError is raised (panicked) by API functions for misuse: wrong
// argument types, unknown setting names, unknown event names. Bindings turn it
// into a Lua error / a thrown JS TypeError.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Usagef raises a UsageError. It does not return.
func Usagef(format string, args ...any) {
	panic(&UsageError{Msg: fmt.Sprintf(format, args...)})
}

// OnArgs reads the arguments of an object's on(event, handler): the index
// of event in names and the handler. An unknown event is a usage error
// naming what (e.g. "client.on") and the events there are.
func OnArgs(c Call, what string, names []string) (int, Callback) {
	name := c.Str(0, "event")
	fn := c.Func(1, "handler")
	i := slices.Index(names, name)
	if i < 0 {
		Usagef("%s: unknown event %q (%s)", what, name, strings.Join(names, ", "))
	}
	return i, fn
}

// Type describes a kind of host object exposed to scripts: its methods and
// read-only properties. Bindings build one metatable / prototype per Type.
type Type struct {
	Name    string
	Methods map[string]Function
	// Props are read-only fields computed on access (srv.port, p.pid).
	Props map[string]func(o *Object) Value
	// Transient objects (an HTTP response) are not kept in the bindings'
	// identity tables: each crossing makes a new script value, and the
	// value is collected with the script's last reference.
	Transient bool
	// Iter, when set, makes the objects iterable: Lua gets a pairs()
	// method (`for k, v in obj:pairs() do`), JS objects are iterable
	// (`for (const [k, v] of obj)`). Iter starts one iteration; each call
	// of next yields the next entry, and ok = false once there are no more.
	// next is called on the script's worker only.
	Iter func(o *Object) (next func() (key, value Value, ok bool))
}

// Object is a host object handed to scripts. Each binding maps one *Object to
// one script value per VM, so identity is kept (the srv given to a handler is
// the srv the script declared).
type Object struct {
	Type *Type
	Data any
}

// Callback is a script function bound to the instance (VM) that created it.
// It may only be invoked on that instance's worker, through Instance.Call.
type Callback interface {
	// Instance is the script instance that owns the function.
	Instance() *Instance
}
