package script

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

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
	Instance() Instance
	// Self is the receiver of a method call (nil for plain functions).
	Self() *Object
	NArgs() int
	// Arg returns argument i converted to a neutral value (nil when absent).
	Arg(i int) Value
	// Absent reports whether argument i is missing or nil (Lua) / null or
	// undefined (JS), without converting it as Arg does.
	Absent(i int) bool
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
	// ReturnSelf returns the receiver, the script's own value of it (a
	// method that chains: res:status(404):json{...}).
	ReturnSelf()
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
	// Lua: argument cbArg, if it is a function, is a callback fn(result,
	// err [, code]); without one the handler suspends until the call is
	// settled and gets result, or nil, the error and its code (the main
	// chunk cannot wait: it raises, saying to pass a callback). The
	// returned settle function may be called once, from any goroutine; the
	// result reaches the script on its worker, in order with its other
	// events.
	Async(cbArg int) (settle func(result Value, err error))
	// Run is Async with the call's work: work runs off the worker and
	// its result settles the call. A Lua handler that suspends runs it
	// on its own goroutine once the worker has gone on to other events
	// (no goroutine to wake for it); otherwise it runs on a goroutine of
	// Go's pool.
	Run(cbArg int, work func() (Value, error))
	// Suspends reports whether Async without a callback would suspend the
	// calling handler until the result is ready (Lua, in a handler) rather
	// than return a Promise (JS) or raise (the main chunk). A function that
	// blocks in JS (taskwait) waits without blocking the worker where it
	// can.
	Suspends() bool
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

// Millis converts a script duration in milliseconds (negative and NaN: 0).
func Millis(ms float64) time.Duration {
	if ms < 0 || math.IsNaN(ms) {
		return 0
	}
	return time.Duration(ms * float64(time.Millisecond))
}

// Seconds converts a script duration in seconds (this API's unit for
// timeouts; fractions allowed; negative and NaN: 0).
func Seconds(s float64) time.Duration {
	if s <= 0 || math.IsNaN(s) {
		return 0
	}
	return time.Duration(s * float64(time.Second))
}

// Receiver returns the receiver of a method call (Call.Self) as a T. A call
// without one, or with an object of another type (Lua's obj.method() for
// obj:method()), raises misuse as a usage error.
func Receiver[T any](c Call, misuse string) T {
	o := c.Self()
	if o == nil {
		Usagef("%s", misuse)
	}
	v, ok := o.Data.(T)
	if !ok {
		Usagef("%s", misuse)
	}
	return v
}

// CodedError is a routine failure that carries a machine-readable code: a
// SQLSTATE, a MySQL error number, a Redis error kind. A module settles an
// asynchronous call with it (Call.Async); Lua gets nil, the message and the
// code (a callback: fn(nil, message, code)), JS a rejected Promise whose
// Error has the code as err.code.
type CodedError struct {
	Msg  string
	Code Value // a string or a number
	Err  error // the cause, if any
}

func (e *CodedError) Error() string { return e.Msg }

// Unwrap returns the cause.
func (e *CodedError) Unwrap() error { return e.Err }

// ErrorCode is err's code when it is (or wraps) a *CodedError, else nil.
func ErrorCode(err error) Value {
	var ce *CodedError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return nil
}
