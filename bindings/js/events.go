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

var eventsProgram = sync.OnceValue(func() *goja.Program {
	return goja.MustCompile("imscript:events.js", eventsSrc, true)
})

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

// nodeProcess is require("process"): the process global.
func (v *vm) nodeProcess() goja.Value { return v.rt.Get("process") }
