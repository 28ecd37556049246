package js

import (
	_ "embed"
	"fmt"
	neturl "net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/imscript/imscript/bindings/js/internal/goja"
	nodeerrors "github.com/imscript/imscript/bindings/js/internal/gojanode/errors"
)

// events.js is require("events"): Node's EventEmitter, in JavaScript.
//
//go:embed events.js
var eventsSrc string

// util.js is require("util"), path.js require("path").
//
//go:embed util.js
var utilSrc string

//go:embed path.js
var pathSrc string

//go:embed diagnostics_channel.js
var dcSrc string

var (
	eventsProgram = sync.OnceValue(func() *goja.Program {
		return goja.MustCompile("imscript:events.js", eventsSrc, true)
	})
	utilProgram = sync.OnceValue(func() *goja.Program {
		return goja.MustCompile("imscript:util.js", utilSrc, true)
	})
	pathProgram = sync.OnceValue(func() *goja.Program {
		return goja.MustCompile("imscript:path.js", pathSrc, true)
	})
	dcProgram = sync.OnceValue(func() *goja.Program {
		return goja.MustCompile("imscript:diagnostics_channel.js", dcSrc, true)
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

// nodePath is require("path"): POSIX paths; resolve() starts from the
// script's folder.
func (v *vm) nodePath() goja.Value {
	fnv, err := v.rt.RunProgram(pathProgram())
	if err != nil {
		panic(err)
	}
	fn, ok := goja.AssertFunction(fnv)
	if !ok {
		panic("path.js is not a function")
	}
	p, err := fn(goja.Undefined(), v.rt.ToValue(v.inst.ScriptDir()))
	if err != nil {
		panic(err)
	}
	return p
}

// nodeURL is require("url"): goja_nodejs's URL and URLSearchParams, with
// fileURLToPath and pathToFileURL.
func (v *vm) nodeURL() goja.Value {
	rt := v.rt
	mod, err := v.req.Require("url")
	if err != nil {
		panic(rt.NewGoError(fmt.Errorf("require \"url\": %w", err)))
	}
	o := mod.ToObject(rt)
	_ = o.Set("fileURLToPath", func(fc goja.FunctionCall) goja.Value {
		s := fc.Argument(0).String() // a URL object's string is its href
		p, ok := strings.CutPrefix(s, "file://")
		if !ok {
			panic(nodeerrors.NewTypeError(rt, "ERR_INVALID_URL_SCHEME", "The URL must be of scheme file"))
		}
		if u, err := neturl.PathUnescape(p); err == nil {
			p = u
		}
		return rt.ToValue(p)
	})
	_ = o.Set("pathToFileURL", func(fc goja.FunctionCall) goja.Value {
		p := fc.Argument(0).String()
		if !filepath.IsAbs(p) {
			p = filepath.Join(v.inst.ScriptDir(), p)
		}
		u := (&neturl.URL{Scheme: "file", Path: filepath.ToSlash(p)}).String()
		ret, err := rt.New(o.Get("URL"), rt.ToValue(u))
		if err != nil {
			panic(err)
		}
		return ret
	})
	return o
}

// nodeDiagnosticsChannel is require("diagnostics_channel").
func (v *vm) nodeDiagnosticsChannel() goja.Value {
	fnv, err := v.rt.RunProgram(dcProgram())
	if err != nil {
		panic(err)
	}
	fn, ok := goja.AssertFunction(fnv)
	if !ok {
		panic("diagnostics_channel.js is not a function")
	}
	m, err := fn(goja.Undefined())
	if err != nil {
		panic(err)
	}
	return m
}

// nodeConsole is require("console"): the console global.
func (v *vm) nodeConsole() goja.Value { return v.rt.Get("console") }

// nodeTimers is require("timers"): the timer globals.
func (v *vm) nodeTimers() goja.Value {
	o := v.rt.NewObject()
	for _, n := range []string{"setTimeout", "setInterval", "setImmediate", "clearTimeout", "clearInterval", "clearImmediate", "queueMicrotask"} {
		_ = o.Set(n, v.rt.Get(n))
	}
	return o
}

// nodeProcess is require("process"): the process global.
func (v *vm) nodeProcess() goja.Value { return v.rt.Get("process") }

// "module" lists nodeBuiltins: it is added here, not in the map's
// initializer, which it would refer to.
func init() { nodeBuiltins["module"] = (*vm).nodeModule }

// nodeModule is require("module"): createRequire(filename or file URL),
// builtinModules, isBuiltin.
func (v *vm) nodeModule() goja.Value {
	rt := v.rt
	o := rt.NewObject()
	_ = o.Set("createRequire", func(fc goja.FunctionCall) goja.Value {
		f := strings.TrimPrefix(fc.Argument(0).String(), "file://")
		if !filepath.IsAbs(f) {
			panic(nodeerrors.NewTypeError(rt, nodeerrors.ErrCodeInvalidArgType, `The argument 'filename' must be a file URL object, file URL string, or absolute path string. Received %q`, f))
		}
		return v.makeRequire(filepath.Dir(f), false)
	})
	_ = o.Set("builtinModules", builtinNames())
	_ = o.Set("isBuiltin", func(fc goja.FunctionCall) goja.Value {
		n := strings.TrimPrefix(fc.Argument(0).String(), "node:")
		return rt.ToValue(nodeBuiltins[n] != nil || coreModules[n])
	})
	return o
}

// builtinNames lists the Node modules require() serves, sorted.
func builtinNames() []any {
	var names []string
	for n := range nodeBuiltins {
		names = append(names, n)
	}
	for n := range coreModules {
		names = append(names, n)
	}
	slices.Sort(names)
	out := make([]any, len(names))
	for i, n := range names {
		out[i] = n
	}
	return out
}
