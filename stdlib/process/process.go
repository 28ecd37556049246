// Package process is imscript.process: child OS processes (exec: stdin
// writes, stdout/stderr/exit events, kill) and spawned scripts (spawn: a
// script file in its own VM and goroutine, with messages both ways).
package process

import (
	"errors"
	"os"

	"github.com/imscript/imscript/script"
)

// Module builds imscript.process for one instance. In a spawned script it
// also holds parent (send, on "message") and arg.
func Module(inst script.Instance) script.Value {
	m := script.Funcs(API.Funcs)
	m["pid"] = int64(os.Getpid())
	if p := inst.Parent(); p != nil {
		m["parent"] = &script.Object{Type: parentType, Data: &parentObj{p: p}}
		m["arg"] = p.Arg()
	}
	return m
}

// API describes imscript.process for editors.
var API = &script.API{
	Doc: "Child processes and spawned scripts.",
	Funcs: map[string]script.Method{
		"exec":  {Fn: apiExec, Args: "options: {cmd: string, args?: string[], env?: {[string]: string}, cwd?: string}", Returns: "Process", Doc: "Starts a program; its output arrives as events."},
		"spawn": {Fn: apiSpawn, Args: "path: string, arg?: any", Returns: "ProcessChild", Doc: "Runs a script in a VM of its own (path relative to this script)."},
		"exit":  {Fn: apiExit, Args: "code?: integer", Doc: "In a spawned script: ends it once the running callback returns."},
	},
	Fields: map[string]script.Field{
		"pid":     {Type: "integer", Doc: "The host's process id."},
		"parent?": {Type: "ProcessParent", Doc: "In a spawned script: the link to its parent."},
		"arg?":    {Type: "any", Doc: "In a spawned script: the argument its parent passed."},
	},
	Types: []*script.Type{procType, childType, parentType},
}

// ---- spawned scripts, the parent's side ----

type childObj struct {
	c         script.Child
	inst      script.Instance
	onMessage script.Callback
	onExit    script.Callback
}

var childType = &script.Type{
	Name:      "process.child",
	Doc:       "A spawned script, as its parent sees it.",
	Transient: true,
	Props: map[string]func(o *script.Object) script.Value{
		"id": func(o *script.Object) script.Value { return o.Data.(*childObj).c.ID() },
	},
	Fields: map[string]script.Field{"id": {Type: "integer", Doc: "The child's host-unique id."}},
	Events: []script.Event{
		{Name: "message", Args: "value: any", Doc: "The child sent a value."},
		{Name: "exit", Args: "code: integer?", Doc: "The child ended (code nil: killed)."},
	},
}

func init() {
	childType.Define(map[string]script.Method{
		"send": {Fn: childSend, Args: "value: any", Returns: "boolean, string?", Doc: "Sends a copy of value to the child."},
		"on":   {Fn: childOn, Args: "event: string, handler: function", Doc: "Sets the handler of an event."},
		"kill": {Fn: childKill, Returns: "boolean, string?", Doc: "Ends the child."},
	})
}

func apiSpawn(c script.Call) {
	path := c.Str(0, "path")
	inst := c.Instance()
	child, err := inst.Spawn(path, c.Arg(1))
	if err != nil {
		script.Usagef("imscript.process.spawn: %v", err)
	}
	co := &childObj{c: child, inst: inst}
	child.OnMessage(func(v script.Value) {
		if co.onMessage != nil {
			inst.Call("child message", co.onMessage, v)
		}
	})
	child.OnExit(func(code script.Value) {
		if co.onExit != nil {
			inst.Call("child exit", co.onExit, code)
		}
	})
	c.Return(&script.Object{Type: childType, Data: co})
}

func childSelf(c script.Call) *childObj {
	return script.Receiver[*childObj](c, "child method called without its object (use child:method() in Lua)")
}

func childSend(c script.Call) {
	co := childSelf(c)
	sendResult(c, "child.send", co.c.Send(c.Arg(0)))
}

// sendResult turns a send error into the call's result: routine failures
// return false (and the reason), values that cannot cross are misuse.
func sendResult(c script.Call, what string, err error) {
	switch {
	case err == nil:
		c.ReturnBool(true)
	case errors.Is(err, script.ErrExited), errors.Is(err, script.ErrBacklog):
		c.Fail(err.Error())
	default:
		script.Usagef("%s: bad argument #1 (value): %v", what, err)
	}
}

func childOn(c script.Call) {
	co := childSelf(c)
	name := c.Str(0, "event")
	fn := c.Func(1, "handler")
	switch name {
	case "message":
		co.onMessage = fn
	case "exit":
		co.onExit = fn
	default:
		script.Usagef("child.on: unknown event %q (message, exit)", name)
	}
}

func childKill(c script.Call) {
	co := childSelf(c)
	if !co.c.Kill() {
		c.Fail("the spawned script has exited")
		return
	}
	c.ReturnBool(true)
}

// ---- spawned scripts, the child's side ----

type parentObj struct {
	p         script.Parent
	onMessage script.Callback
}

var parentType = &script.Type{
	Name:   "process.parent",
	Doc:    "A spawned script's link to its parent.",
	Events: []script.Event{{Name: "message", Args: "value: any", Doc: "The parent sent a value."}},
}

func init() {
	parentType.Define(map[string]script.Method{
		"send": {Fn: parentSend, Args: "value: any", Returns: "boolean, string?", Doc: "Sends a copy of value to the parent."},
		"on":   {Fn: parentOn, Args: "event: string, handler: function", Doc: "Sets the handler of an event."},
	})
}

func parentSelf(c script.Call) *parentObj {
	return script.Receiver[*parentObj](c, "parent method called without its object (use imscript.process.parent:method() in Lua)")
}

func parentSend(c script.Call) {
	po := parentSelf(c)
	sendResult(c, "parent.send", po.p.Send(c.Arg(0)))
}

func parentOn(c script.Call) {
	po := parentSelf(c)
	name := c.Str(0, "event")
	fn := c.Func(1, "handler")
	if name != "message" {
		script.Usagef("parent.on: unknown event %q (message)", name)
	}
	po.onMessage = fn
	inst := c.Instance()
	po.p.OnMessage(func(v script.Value) {
		if po.onMessage != nil {
			inst.Call("parent message", po.onMessage, v)
		}
	})
}

func apiExit(c script.Call) {
	p := c.Instance().Parent()
	if p == nil {
		script.Usagef("imscript.process.exit: only a spawned script can exit (a server script stops with srv:shutdown())")
	}
	p.Exit(c.OptInt(0, "code", 0))
}
