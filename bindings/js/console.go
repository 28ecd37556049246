package js

import (
	"io"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"

	"github.com/imscript/imscript/bindings/js/internal/goja"

	"github.com/imscript/imscript/script"
)

// installConsole adds console.log/info/debug (stdout) and warn/error
// (stderr), formatting like Node: strings as they are, other values
// inspected.
func (v *vm) installConsole() {
	rt := v.rt
	con := rt.NewObject()
	out := func(w func() io.Writer) func(goja.FunctionCall) goja.Value {
		return func(fc goja.FunctionCall) goja.Value {
			parts := make([]string, len(fc.Arguments))
			for i, a := range fc.Arguments {
				parts[i] = v.inspect(a)
			}
			_, _ = io.WriteString(w(), strings.Join(parts, " ")+"\n")
			return goja.Undefined()
		}
	}
	h := v.inst
	for _, n := range []string{"log", "info", "debug"} {
		_ = con.Set(n, out(h.Stdout))
	}
	for _, n := range []string{"warn", "error"} {
		_ = con.Set(n, out(h.Stderr))
	}
	_ = rt.Set("console", con)
}

func (v *vm) inspect(a goja.Value) string {
	if a == nil || goja.IsUndefined(a) {
		return "undefined"
	}
	if goja.IsNull(a) {
		return "null"
	}
	o, ok := a.(*goja.Object)
	if !ok {
		return a.String()
	}
	if _, isFn := goja.AssertFunction(o); isFn {
		return "[Function]"
	}
	if o.ExportType() == typeBytes || o.ClassName() == "Error" {
		return a.String()
	}
	if j, ok := v.rt.Get("JSON").(*goja.Object); ok {
		if str, ok := goja.AssertFunction(j.Get("stringify")); ok {
			if s, err := str(j, a); err == nil && !goja.IsUndefined(s) {
				return s.String()
			}
		}
	}
	return a.String()
}

// installTimers adds setTimeout/setInterval/clearTimeout/clearInterval on
// the host's timers (the same ones as imscript.after/tick/clear).
func (v *vm) installTimers() {
	rt := v.rt
	set := func(repeat bool) func(goja.FunctionCall) goja.Value {
		return func(fc goja.FunctionCall) goja.Value {
			fn, ok := goja.AssertFunction(fc.Argument(0))
			if !ok {
				panic(rt.NewTypeError("the callback must be a function"))
			}
			ms := fc.Argument(1).ToFloat()
			if ms != ms || ms < 1 {
				ms = 1
			}
			args := script.List{}
			for _, a := range fc.Arguments[min(2, len(fc.Arguments)):] {
				args = append(args, &jsValue{a})
			}
			id := v.inst.AddTimer(script.Millis(ms), repeat, &callback{vm: v, fn: fn, v: fc.Argument(0)}, args)
			return rt.ToValue(id)
		}
	}
	clear := func(fc goja.FunctionCall) goja.Value {
		a := fc.Argument(0)
		if absent(a) {
			return goja.Undefined()
		}
		v.inst.ClearTimer(a.ToInteger())
		return goja.Undefined()
	}
	_ = rt.Set("setTimeout", set(false))
	_ = rt.Set("setInterval", set(true))
	_ = rt.Set("clearTimeout", clear)
	_ = rt.Set("clearInterval", clear)
	// setImmediate runs fn on the worker's next turn, after the timers
	// already due (a 0 ms timer: setTimeout's shortest is 1 ms, as Node's).
	_ = rt.Set("setImmediate", func(fc goja.FunctionCall) goja.Value {
		fn, ok := goja.AssertFunction(fc.Argument(0))
		if !ok {
			panic(rt.NewTypeError("the callback must be a function"))
		}
		args := script.List{}
		for _, a := range fc.Arguments[min(1, len(fc.Arguments)):] {
			args = append(args, &jsValue{a})
		}
		return rt.ToValue(v.inst.AddTimer(0, false, &callback{vm: v, fn: fn, v: fc.Argument(0)}, args))
	})
	_ = rt.Set("clearImmediate", clear)
	// queueMicrotask runs fn once the current callback and the promise
	// jobs before it are done; what it throws is reported as an unhandled
	// rejection of that callback.
	_ = rt.Set("queueMicrotask", func(fc goja.FunctionCall) goja.Value {
		v.microtask("queueMicrotask", fc.Argument(0), nil)
		return goja.Undefined()
	})
}

// microtask queues a call of fn(args...) as a promise job: after the
// current callback, before the worker's next event. What fn throws
// rejects the job's promise, which nothing handles, so it is reported.
func (v *vm) microtask(name string, f goja.Value, args []goja.Value) {
	rt := v.rt
	fn, ok := goja.AssertFunction(f)
	if !ok {
		panic(rt.NewTypeError(name + ": the callback must be a function"))
	}
	p, resolve, _ := rt.NewPromise()
	then, _ := goja.AssertFunction(rt.ToValue(p).(*goja.Object).Get("then"))
	_, _ = then(rt.ToValue(p), rt.ToValue(func(goja.FunctionCall) goja.Value {
		if _, err := fn(goja.Undefined(), args...); err != nil {
			panic(err)
		}
		return goja.Undefined()
	}))
	_ = resolve(goja.Undefined())
}

// installProcess adds Node's process global, for what a handler uses of
// it: env (the same object as imscript.env), argv ("imscript", the script,
// then imscript.args), pid, platform and nextTick (a promise job: Node runs
// its nextTick queue before the promise jobs; here they run in the order
// they were queued). process.exit is left out on purpose: one script's
// exit would stop every worker's; a script calls srv.shutdown() for that.
func (v *vm) installProcess(imscript *goja.Object) {
	rt := v.rt
	p := rt.NewObject()
	_ = p.Set("env", imscript.Get("env"))
	argv := []any{"imscript", imscript.Get("script")}
	if args, ok := imscript.Get("args").(*goja.Object); ok {
		for i := range int(args.Get("length").ToInteger()) {
			argv = append(argv, args.Get(strconv.Itoa(i)))
		}
	}
	_ = p.Set("argv", argv)
	_ = p.Set("pid", os.Getpid())
	_ = p.Set("platform", goruntime.GOOS)
	_ = p.Set("nextTick", func(fc goja.FunctionCall) goja.Value {
		// The arguments are a view of the VM's stack: copy them.
		args := append([]goja.Value(nil), fc.Arguments[min(1, len(fc.Arguments)):]...)
		v.microtask("process.nextTick", fc.Argument(0), args)
		return goja.Undefined()
	})
	_ = rt.Set("process", p)
}

// jsValue carries a JS value through the host unchanged (timer arguments).
type jsValue struct{ v goja.Value }
