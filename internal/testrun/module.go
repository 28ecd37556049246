// Package testrun is `imscript test`: the imscript.test module that test
// scripts use (test.it, the assertions, inboxes that turn events into
// values a test waits for) and the runner that runs the tests of a file
// on a host of its own, against the project's server running beside it.
package testrun

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/imscript/imscript/script"
)

// Name is the module's name: imscript.test, require("test").
const Name = "test"

// assertPrefix starts every assertion failure's message.
const assertPrefix = "assertion failed: "

// DefaultTakeTimeout is how long inbox:take() waits unless told.
const DefaultTakeTimeout = 5 * time.Second

// testCase is one test a script declared with test.it.
type testCase struct {
	name string
	fn   script.Callback
}

// registry collects the tests the main script of a test host declares.
type registry struct {
	mu    sync.Mutex
	inst  script.Instance // the main script's instance (worker 0)
	tests []testCase
	// timedOut is the last inbox:take timeout of the running test, said
	// with an assertion that then fails on nil (Lua's take returns nil and
	// the error, which t.equal(inbox:take(), x) does not show). Worker only.
	timedOut string
}

// module builds imscript.test for one instance.
func (r *registry) module(inst script.Instance) script.Value {
	m := script.Funcs(moduleFuncs)
	m["it"] = script.Function(r.it)
	m["inbox"] = script.Function(func(c script.Call) {
		c.Return(&script.Object{Type: inboxType, Data: &inbox{reg: r}})
	})
	for _, name := range []string{"equal", "ok"} {
		fn := moduleFuncs[name].Fn
		m[name] = script.Function(func(c script.Call) {
			defer func() {
				if e := recover(); e != nil {
					if ue, ok := e.(*script.UsageError); ok && r.timedOut != "" && c.Arg(0) == nil {
						ue.Msg += " (" + r.timedOut + ")"
					}
					panic(e)
				}
			}()
			fn(c)
		})
	}
	return m
}

// it is test.it(name, fn).
func (r *registry) it(c script.Call) {
	name := c.Str(0, "name")
	fn := c.Func(1, "fn")
	if name == "" {
		script.Usagef("test.it: the name is empty")
	}
	inst := c.Instance()
	if inst.WorkerID() != 0 {
		return // a spawned script or another worker: only the main script's tests run
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.inst == nil {
		r.inst = inst
	}
	if r.inst != inst {
		return
	}
	for _, t := range r.tests {
		if t.name == name {
			script.Usagef("test.it: a test named %q is declared already", name)
		}
	}
	r.tests = append(r.tests, testCase{name: name, fn: fn})
}

var inboxType = &script.Type{
	Name: "test.inbox",
	Doc:  "Values pushed by event handlers, taken in order by a test that waits for them.",
}

func init() {
	inboxType.Define(map[string]script.Method{
		"push": {Fn: inboxPush, Args: "value: any", Doc: "Adds a value (a handler got it); the oldest waiting take() gets it."},
		"take": {Fn: inboxTake, Args: "timeout?: number", Returns: "async any", Doc: "The oldest value pushed, waiting for one up to timeout seconds (5); a timeout is the error."},
		"size": {Fn: func(c script.Call) { c.ReturnInt(int64(len(self(c).items))) }, Returns: "integer", Doc: "How many values wait to be taken."},
	})
}

// moduleFuncs are the module's functions but it (which needs the registry).
var moduleFuncs = map[string]script.Method{
	"equal":    {Fn: assertEqual, Args: "actual: any, expected: any, message?: string", Doc: "Fails the test unless actual equals expected (bytes equal their string; tables and objects compared deeply)."},
	"ok":       {Fn: assertOK, Args: "value: any, message?: string", Doc: "Fails the test unless value is truthy (not nil/false; JS: not falsy)."},
	"contains": {Fn: assertContains, Args: "text: string|bytes, part: string|bytes, message?: string", Doc: "Fails the test unless text contains part."},
	"fail":     {Fn: func(c script.Call) { script.Usagef("%s%s", assertPrefix, c.OptStr(0, "message", "test.fail")) }, Args: "message?: string", Doc: "Fails the test."},
	"inbox":    {Fn: func(c script.Call) { c.Return(&script.Object{Type: inboxType, Data: &inbox{}}) }, Returns: "TestInbox", Doc: "A new inbox: handlers push what they get, the test takes it in order."},
}

// API describes imscript.test for editors.
var API = &script.API{
	Doc:   "Tests, for scripts run by `imscript test`: test.it(name, fn) declares one; a failed assertion or any error fails it.",
	Funcs: withIt(moduleFuncs),
	Types: []*script.Type{inboxType},
}

func withIt(ms map[string]script.Method) map[string]script.Method {
	out := map[string]script.Method{
		"it": {Args: "name: string, fn: fun(): any", Doc: "Declares a test; fn may wait (Lua handlers suspend, JS async functions await); the tests of a file run in order."},
	}
	for k, v := range ms {
		out[k] = v
	}
	return out
}

// Module describes the module for hosts that only need its description
// (the editor types): its functions, with an it that declares nothing.
func Module() script.Module {
	r := &registry{}
	return script.Module{Name: Name, Build: r.module, API: API}
}

func failf(c script.Call, idx int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if m := c.OptStr(idx, "message", ""); m != "" {
		msg = m + ": " + msg
	}
	script.Usagef("%s%s", assertPrefix, msg)
}

func assertEqual(c script.Call) {
	if c.NArgs() < 2 {
		script.Usagef("test.equal: want (actual, expected [, message])")
	}
	a, e := normalize(c.Arg(0)), normalize(c.Arg(1))
	if !reflect.DeepEqual(a, e) {
		failf(c, 2, "expected %s, got %s", show(e), show(a))
	}
}

func assertOK(c script.Call) {
	v := c.Arg(0)
	truthy := true
	switch x := v.(type) {
	case nil:
		truthy = false
	case bool:
		truthy = x
	}
	if !truthy {
		failf(c, 1, "expected a true value, got %s", show(normalize(v)))
	}
}

func assertContains(c script.Call) {
	text, part := c.Str(0, "text"), c.Str(1, "part")
	if !strings.Contains(text, part) {
		failf(c, 2, "expected %s to contain %s", show(text), show(part))
	}
}

// normalize makes values of both languages comparable: bytes are
// strings, numbers float64, lists and maps normalized inside.
func normalize(v script.Value) script.Value {
	switch x := v.(type) {
	case []byte:
		return string(x)
	case int64:
		return float64(x)
	case int:
		return float64(x)
	case script.List:
		out := make(script.List, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	case script.Map:
		out := make(script.Map, len(x))
		for k, e := range x {
			out[k] = normalize(e)
		}
		return out
	}
	return v
}

// show writes a value as a test report shows it.
func show(v script.Value) string {
	switch x := v.(type) {
	case nil:
		return "nil"
	case string:
		return strconv.Quote(x)
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return strconv.FormatInt(int64(x), 10)
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case script.List:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = show(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case script.Map:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + " = " + show(x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return script.TypeName(v)
}

// inbox is what test.inbox() returns. Its methods run on the worker of the
// instance that made it.
type inbox struct {
	reg     *registry // nil for an inbox made outside a test host
	items   []script.Value
	waiters []*taker
}

// taker is one take() waiting.
type taker struct {
	settle func(script.Value, error)
	timer  *time.Timer
	done   bool
}

func self(c script.Call) *inbox {
	return script.Receiver[*inbox](c, "inbox method called without its inbox: use inbox:take() (Lua) / inbox.take() (JS)")
}

func inboxPush(c script.Call) {
	ib := self(c)
	v := c.Arg(0)
	if b, ok := v.([]byte); ok {
		v = append([]byte(nil), b...)
	}
	for len(ib.waiters) > 0 {
		w := ib.waiters[0]
		ib.waiters = ib.waiters[1:]
		if w.done {
			continue
		}
		w.done = true
		w.timer.Stop()
		w.settle(v, nil)
		return
	}
	ib.items = append(ib.items, v)
}

func inboxTake(c script.Call) {
	ib := self(c)
	sec := c.OptFloat(0, "timeout", DefaultTakeTimeout.Seconds())
	if sec <= 0 || math.IsNaN(sec) || math.IsInf(sec, 0) {
		script.Usagef("inbox:take: timeout must be a number of seconds above 0, got %v", sec)
	}
	inst := c.Instance()
	settle := c.Async(1)
	if len(ib.items) > 0 {
		v := ib.items[0]
		ib.items = ib.items[1:]
		settle(v, nil)
		return
	}
	w := &taker{settle: settle}
	ib.waiters = append(ib.waiters, w)
	w.timer = time.AfterFunc(script.Seconds(sec), func() {
		inst.Post(func() {
			if w.done {
				return
			}
			w.done = true
			err := fmt.Errorf("inbox:take: nothing arrived within %s s", strconv.FormatFloat(sec, 'g', -1, 64))
			if ib.reg != nil {
				ib.reg.timedOut = err.Error()
			}
			settle(nil, err)
		})
	})
}
