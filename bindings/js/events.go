package js

import (
	_ "embed"
	"sync"

	"github.com/dop251/goja"
)

// events.js is require("events"): Node's EventEmitter, in JavaScript.
//
//go:embed events.js
var eventsSrc string

// util.js is require("util").
//
//go:embed util.js
var utilSrc string

var (
	eventsProgram = sync.OnceValue(func() *goja.Program {
		return goja.MustCompile("imscript:events.js", eventsSrc, true)
	})
	utilProgram = sync.OnceValue(func() *goja.Program {
		return goja.MustCompile("imscript:util.js", utilSrc, true)
	})
)

// nodeEvents is require("events") (and "node:events"): the EventEmitter
// constructor, with EventEmitter.EventEmitter and events.once as in Node.
func (v *vm) nodeEvents() goja.Value {
	v.ensureWeb() // DOMException, for events.once's AbortError
	fnv, err := v.rt.RunProgram(eventsProgram())
	if err != nil {
		panic(err)
	}
	fn, ok := goja.AssertFunction(fnv)
	if !ok {
		panic("events.js is not a function")
	}
	ee, err := fn(goja.Undefined())
	if err != nil {
		panic(err)
	}
	return ee
}

// nodeUtil is require("util") (and "node:util"): format, inspect,
// inherits, promisify, callbackify, deprecate, types, isDeepStrictEqual.
func (v *vm) nodeUtil() goja.Value {
	v.ensureWeb() // TextEncoder, TextDecoder
	fnv, err := v.rt.RunProgram(utilProgram())
	if err != nil {
		panic(err)
	}
	fn, ok := goja.AssertFunction(fnv)
	if !ok {
		panic("util.js is not a function")
	}
	h := v.rt.NewObject()
	_ = h.Set("inspect", func(fc goja.FunctionCall) goja.Value { return v.rt.ToValue(v.inspect(fc.Argument(0))) })
	u, err := fn(goja.Undefined(), v.rt.GlobalObject(), h)
	if err != nil {
		panic(err)
	}
	return u
}

// nodeProcess is require("process"): the process global.
func (v *vm) nodeProcess() goja.Value { return v.rt.Get("process") }
