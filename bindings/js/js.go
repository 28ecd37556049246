// Package js exposes the imscript host API to JavaScript scripts through
// goja: CommonJS files and ES modules with Node's resolution (modules.go),
// Node's Buffer, console, timers and process, Node's events, util, path,
// crypto, url, module and diagnostics_channel modules, and the web
// platform's TextEncoder, TextDecoder, atob, btoa, crypto, fetch,
// AbortController, EventTarget and structuredClone (web.go). It marshals
// neutral host values once, generically: no host method is written here.
package js

import (
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/imscript/imscript/bindings/js/internal/goja"
	"github.com/imscript/imscript/bindings/js/internal/gojanode/buffer"
	"github.com/imscript/imscript/bindings/js/internal/gojanode/require"
	"github.com/imscript/imscript/bindings/js/internal/gojanode/url"

	"github.com/imscript/imscript/script"
)

// Language is the JavaScript script.Language.
type Language struct{}

// New returns the JavaScript language.
func New() *Language { return &Language{} }

// Name implements script.Language.
func (*Language) Name() string { return "js" }

// Extensions implements script.Language.
func (*Language) Extensions() []string { return []string{".js", ".mjs", ".cjs"} }

// program is a compiled main script plus the loader whose compiled files
// are shared by the VMs of one version (modules.go), and a goja_nodejs
// registry for its core modules (buffer, url, util).
type program struct {
	path string
	ld   *loader
	reg  *require.Registry
}

func (p *program) Path() string { return p.path }

// Compile implements script.Language: the main script, as a CommonJS file
// or an ES module (modules.go).
func (*Language) Compile(path string) (script.Program, error) {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	p := &program{path: path, ld: newLoader(), reg: require.NewRegistry()}
	if s := p.ld.source(path); s.err != nil {
		return nil, s.err
	}
	return p, nil
}

func displayName(path string) string {
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, path); err == nil && !strings.HasPrefix(rel, "..") {
			return rel
		}
	}
	return path
}

// vm is one goja runtime owned by one worker.
type vm struct {
	rt   *goja.Runtime
	inst script.Instance
	req  *require.RequireModule
	buf  *buffer.Buffer

	// files are the modules of files this VM ran, by path: require.cache
	// (modules.go).
	files *goja.Object

	objects map[*script.Object]*goja.Object
	types   map[*script.Type]*typeMethods
	// mods caches what require() returned for registered modules, so
	// require("x") === require("x") === imscript.x, as in Node and Lua.
	mods map[string]goja.Value
	// webcrypto is the global crypto (web.js), isView ArrayBuffer.isView;
	// webDone says web.js has run (web.go).
	webDone   bool
	webcrypto *goja.Object
	// web is what web.js returned (DOMException, for fetch.js);
	// fetchDone says fetch.js has run.
	web       *goja.Object
	fetchDone bool
	// born is when the VM was made: performance.now()'s zero.
	born   time.Time
	isView goja.Callable
	// iterProtoObj is %IteratorPrototype%, for host iterators.
	iterProtoObj *goja.Object
	// lastThis and lastHost remember the last method receiver; madeThis
	// and madeHost the transient object made last (a request's res, the
	// next receiver), without taking lastThis's place (a server whose
	// methods each message's handler calls).
	lastThis *goja.Object
	lastHost *script.Object
	madeThis *goja.Object
	madeHost *script.Object

	calls []*call
	cells []script.Cell // RowCall.Cells
	depth int
	// frameNames are the handlers' stack frame names (stack.go).
	frameNames map[string]string
	// ints and strs are the last integers and short strings made JS
	// values (marshal.go); args are Call's argument lists, one per
	// depth of Call.
	ints [boxSlots]intBox
	strs [boxSlots]strBox
	args [][]goja.Value

	// entered counts the Run/Call frames on the Go stack: goja runs the
	// promise jobs when the outermost returns, and then the rejections
	// nothing handled are reported.
	entered   int
	unhandled []*goja.Promise

	// mainPromise is the promise of a main script that awaits at its top
	// level (an async module wrapper), set when it starts running.
	mainPromise *goja.Object
	// ready are the promises of the modules that await at their top level
	// (or await their imports), by path; allowAsync says that the next
	// load may run one (require.__imscript_ready's).
	ready      map[string]*goja.Object
	allowAsync bool
}

var (
	typeString  = reflect.TypeOf("")
	typePromise = reflect.TypeOf((*goja.Promise)(nil))
	typeInt     = reflect.TypeOf(int64(0))
	typeFloat   = reflect.TypeOf(float64(0))
	typeBigInt  = reflect.TypeOf((*big.Int)(nil))
	typeBool    = reflect.TypeOf(true)
	typeBytes   = reflect.TypeOf([]byte(nil))
	typeAB      = reflect.TypeOf(goja.ArrayBuffer{})
)

// NewVM implements script.Language.
func (*Language) NewVM(inst script.Instance) (script.VM, error) {
	p, ok := inst.Program().(*program)
	if !ok {
		return nil, errors.New("js: not a JavaScript program")
	}
	rt := goja.New()
	rt.SetFieldNameMapper(goja.UncapFieldNameMapper())
	v := &vm{
		rt:      rt,
		inst:    inst,
		born:    time.Now(),
		objects: map[*script.Object]*goja.Object{},
		types:   map[*script.Type]*typeMethods{},
	}
	v.req = p.reg.Enable(rt)
	buffer.Enable(rt)
	v.buf = buffer.GetApi(rt)
	// goja_nodejs's Buffer constructor refuses a length, so the inherited
	// TypedArray slice() throws. In Node, Buffer#slice is subarray (a view).
	if bc, ok := rt.Get("Buffer").(*goja.Object); ok {
		if bp, ok := bc.Get("prototype").(*goja.Object); ok {
			_ = bp.Set("slice", bp.Get("subarray"))
		}
		if v := bc.Get("byteLength"); v == nil || goja.IsUndefined(v) {
			_ = bc.Set("byteLength", func(fc goja.FunctionCall) goja.Value {
				a := fc.Argument(0)
				if o, ok := a.(*goja.Object); ok && o.ExportType() == typeBytes {
					return rt.ToValue(len(o.Export().([]byte)))
				}
				return rt.ToValue(len(a.String()))
			})
		}
		// Node's unsafe allocations are zeroed here.
		for _, name := range []string{"allocUnsafe", "allocUnsafeSlow"} {
			if v := bc.Get(name); v == nil || goja.IsUndefined(v) {
				_ = bc.Set(name, bc.Get("alloc"))
			}
		}
		if v := bc.Get("isBuffer"); v == nil || goja.IsUndefined(v) {
			_ = bc.Set("isBuffer", func(fc goja.FunctionCall) goja.Value {
				o, ok := fc.Argument(0).(*goja.Object)
				return rt.ToValue(ok && o.ExportType() == typeBytes)
			})
		}
	}
	exports := v.toJS(inst.Exports(), 0)
	if err := rt.Set("imscript", exports); err != nil {
		return nil, err
	}
	v.mods = map[string]goja.Value{"imscript": exports}
	if eo, ok := exports.(*goja.Object); ok {
		for _, k := range eo.Keys() {
			if _, isMod := inst.Module(k); isMod && (nodeBuiltins[k] == nil || nodeYields[k]) {
				v.mods[k] = eo.Get(k)
			}
		}
	}
	_ = rt.Set("require", v.makeRequire(inst.ScriptDir(), false))
	v.installConsole()
	v.installTimers()
	v.installWeb()
	if eo, ok := exports.(*goja.Object); ok {
		v.installProcess(eo)
	}
	url.Enable(rt)
	rt.SetPromiseRejectionTracker(v.trackRejection)
	return v, nil
}

// Run implements script.VM. A main script that awaits at its top level
// goes on after Run returns (RunPending says when it ends).
func (v *vm) Run(p script.Program) error {
	_, err := v.RunPending(p)
	return err
}

// RunPending implements script.PendingRunner: an ES module main script
// that awaits at its top level returns at its first await that does not
// settle in the promise jobs of the run; the Pending settles when the
// module has run to its end, or with its error (led by its file:line, as
// a throw before any await is).
func (v *vm) RunPending(p script.Program) (script.Pending, error) {
	jp, ok := p.(*program)
	if !ok {
		return nil, fmt.Errorf("js: not a JavaScript program: %s", p.Path())
	}
	var main *mainRun
	// Through a JS call, so that a throw is an error and the promise jobs
	// run when it returns; the main promise's handlers are set within it,
	// so that an error after an await is its outcome, not an unhandled
	// rejection.
	run, _ := goja.AssertFunction(v.rt.ToValue(func(goja.FunctionCall) goja.Value {
		ret := v.load(jp.path)
		if v.mainPromise != nil {
			main = v.watchMain(v.mainPromise)
			v.mainPromise = nil
		}
		return ret
	}))
	v.entered++
	_, err := run(goja.Undefined())
	v.entered--
	if err = v.withRejections(jsErrorIn(err, "", v.entered == 0), ""); err != nil || main == nil {
		return nil, err
	}
	if main.settled {
		return nil, main.err
	}
	return main, nil
}

var _ script.PendingRunner = (*vm)(nil)

// mainRun is the end of a main script that awaits at its top level
// (script.Pending).
type mainRun struct {
	settled bool
	err     error
	then    []func(script.Value, error)
}

// watchMain follows the main script's promise p.
func (v *vm) watchMain(p *goja.Object) *mainRun {
	m := &mainRun{}
	settle := func(err error) {
		m.settled, m.err = true, err
		for _, fn := range m.then {
			fn(nil, err)
		}
		m.then = nil
	}
	then, _ := goja.AssertFunction(p.Get("then"))
	onValue := func(goja.FunctionCall) goja.Value { settle(nil); return goja.Undefined() }
	onError := func(fc goja.FunctionCall) goja.Value {
		reason := fc.Argument(0)
		text := rejectionText(reason)
		if o, ok := reason.(*goja.Object); ok {
			if st := o.Get("stack"); st != nil && !goja.IsUndefined(st) {
				text = cleanStack(strings.TrimSpace(st.String()), "", true)
			}
		}
		settle(errors.New(text))
		return goja.Undefined()
	}
	if _, err := then(p, v.rt.ToValue(onValue), v.rt.ToValue(onError)); err != nil {
		settle(jsError(err))
	}
	return m
}

// Then implements script.Pending: fn runs on the worker when the main
// script has run to its end (at once if it has).
func (m *mainRun) Then(fn func(script.Value, error)) {
	if m.settled {
		fn(nil, m.err)
		return
	}
	m.then = append(m.then, fn)
}

// Call implements script.VM.
func (v *vm) Call(cb script.Callback, args ...script.Value) (script.Value, error) {
	jc, ok := cb.(*callback)
	if !ok || jc.vm != v {
		return nil, errors.New("js: callback belongs to another VM")
	}
	// An argument list of this depth's own: goja copies the arguments
	// onto its stack, so the list is free again once the call returns.
	depth := v.entered
	for len(v.args) <= depth {
		v.args = append(v.args, nil)
	}
	jargs := v.args[depth][:0]
	for _, a := range args {
		jargs = append(jargs, v.toJS(a, 0))
	}
	v.args[depth] = jargs
	// The outermost call's error goes to the host's log: its handler's
	// frame is named and its first line says where. A Go function calling
	// back gets the error as the script threw it.
	outer := v.entered == 0
	handler := ""
	if outer {
		handler = v.handlerFrame()
	}
	v.entered++
	ret, err := jc.fn(goja.Undefined(), jargs...)
	v.entered--
	clear(jargs)
	if err = v.withRejections(jsErrorIn(err, handler, outer), handler); err != nil {
		return nil, err
	}
	if ret == nil || goja.IsUndefined(ret) || goja.IsNull(ret) {
		return nil, nil
	}
	// ExportType first: Export would convert every other object whole.
	if o, ok := ret.(*goja.Object); ok && o.ExportType() == typePromise {
		if p, ok := o.Export().(*goja.Promise); ok {
			// An async function: a rejected promise was reported above.
			switch p.State() {
			case goja.PromiseStatePending:
				return &pending{vm: v, p: o, handler: handler}, nil
			case goja.PromiseStateFulfilled:
				ret = p.Result()
				if ret == nil || goja.IsUndefined(ret) || goja.IsNull(ret) {
					return nil, nil
				}
			}
		}
	}
	return v.fromJS(ret, 0), nil
}

// pending is a promise a callback returned that had not settled when the
// callback returned (script.Pending).
type pending struct {
	vm *vm
	p  *goja.Object
	// handler names the handler that returned it ("receive handler"),
	// for its rejection's stack; "" when a Go function called back.
	handler string
}

// Then implements script.Pending: fn runs in the promise job that settles
// it, on the worker; the rejection is then handled, not reported again.
func (p *pending) Then(fn func(script.Value, error)) {
	v := p.vm
	then, ok := goja.AssertFunction(p.p.Get("then"))
	if !ok {
		fn(nil, errors.New("js: a promise without then"))
		return
	}
	onValue := func(fc goja.FunctionCall) goja.Value {
		fn(v.fromJS(fc.Argument(0), 0), nil)
		return goja.Undefined()
	}
	onError := func(fc goja.FunctionCall) goja.Value {
		fn(nil, errors.New(rejectionTextIn(fc.Argument(0), p.handler)))
		return goja.Undefined()
	}
	if _, err := then(p.p, v.rt.ToValue(onValue), v.rt.ToValue(onError)); err != nil {
		fn(nil, jsError(err))
	}
}

// trackRejection is goja's promise rejection tracker: it keeps the
// promises rejected with no handler, and forgets one when a handler comes.
func (v *vm) trackRejection(p *goja.Promise, op goja.PromiseRejectionOperation) {
	switch op {
	case goja.PromiseRejectionReject:
		v.unhandled = append(v.unhandled, p)
	case goja.PromiseRejectionHandle:
		if i := slices.Index(v.unhandled, p); i >= 0 {
			v.unhandled = slices.Delete(v.unhandled, i, i+1)
		}
	}
}

// withRejections adds to err, when the outermost Run or Call returns, the
// promises that were rejected and still have no handler once the promise
// jobs ran (as Node's unhandledRejection): an async handler that throws
// fails like one that throws at once, and the error is not lost.
//
// Each is led by the place it was thrown, its bottom frame named handler
// when that is an anonymous function (stack.go).
func (v *vm) withRejections(err error, handler string) error {
	if v.entered > 0 || len(v.unhandled) == 0 {
		return err
	}
	errs := []error{err}
	for _, p := range v.unhandled {
		const what = "unhandled promise rejection: "
		text := what + rejectionText(p.Result())
		if o, ok := p.Result().(*goja.Object); ok {
			if st := o.Get("stack"); st != nil && !goja.IsUndefined(st) {
				text = cleanStack(what+strings.TrimSpace(st.String()), handler, true)
			}
		}
		errs = append(errs, errors.New(text))
	}
	v.unhandled = v.unhandled[:0]
	return errors.Join(errs...)
}

// rejectionText renders a rejection reason: an Error's stack (which
// starts with its name and message), else the value as a string.
func rejectionText(reason goja.Value) string { return rejectionTextIn(reason, "") }

// rejectionTextIn is rejectionText for the promise of the handler named
// handler: its frame is named (stack.go). The first line stays the
// error's own: it may reach a script (a task's error).
func rejectionTextIn(reason goja.Value, handler string) string {
	if o, ok := reason.(*goja.Object); ok {
		if st := o.Get("stack"); st != nil && !goja.IsUndefined(st) {
			return cleanStack(st.String(), handler, false)
		}
	}
	if reason == nil {
		return "undefined"
	}
	return strings.TrimSpace(reason.String())
}

// jsError renders a goja error with its JS stack (file:line:column).
func jsError(err error) error { return jsErrorIn(err, "", false) }

// jsErrorIn is jsError for an error of the handler named handler: its
// stack's script frames, the handler's named, led by the top frame's
// place when lead is set (stack.go).
func jsErrorIn(err error, handler string, lead bool) error {
	if err == nil {
		return nil
	}
	var ex *goja.Exception
	if errors.As(err, &ex) {
		return errors.New(cleanStack(ex.String(), handler, lead))
	}
	var ie *goja.InterruptedError
	if errors.As(err, &ie) {
		return errors.New(strings.TrimSpace(ie.String()))
	}
	return err
}

// Interrupt implements script.VM.
func (v *vm) Interrupt(reason string) { v.rt.Interrupt(reason) }

// ClearInterrupt implements script.VM.
func (v *vm) ClearInterrupt() { v.rt.ClearInterrupt() }

// Close implements script.VM.
func (v *vm) Close() {
	v.objects, v.types = nil, nil
}
