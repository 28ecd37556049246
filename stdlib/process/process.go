// Package process is imscript.process: child OS processes (exec: stdin
// writes, stdout/stderr/exit events, kill) and spawned scripts (spawn: a
// script file in its own VM and goroutine, with messages both ways).
package process

import (
	"errors"
	"os"

	"github.com/imscript/imscript/host"
)

// Module builds imscript.process for one instance. In a spawned script it
// also holds parent (send, on "message") and arg.
func Module(inst *host.Instance) host.Value {
	m := host.Map{
		"exec":  host.Function(apiExec),
		"spawn": host.Function(apiSpawn),
		"exit":  host.Function(apiExit),
		"pid":   int64(os.Getpid()),
	}
	if p := inst.Parent(); p != nil {
		m["parent"] = &host.Object{Type: parentType, Data: &parentObj{p: p}}
		m["arg"] = p.Arg()
	}
	return m
}

// ---- spawned scripts, the parent's side ----

type childObj struct {
	c         *host.Child
	inst      *host.Instance
	onMessage host.Callback
	onExit    host.Callback
}

var childType = &host.Type{
	Name:      "process.child",
	Transient: true,
	Props: map[string]func(o *host.Object) host.Value{
		"id": func(o *host.Object) host.Value { return o.Data.(*childObj).c.ID() },
	},
	Methods: map[string]host.Function{
		"send": childSend,
		"on":   childOn,
		"kill": childKill,
	},
}

func apiSpawn(c host.Call) {
	path := c.Str(0, "path")
	inst := c.Instance()
	child, err := inst.Spawn(path, c.Arg(1))
	if err != nil {
		host.Usagef("imscript.process.spawn: %v", err)
	}
	co := &childObj{c: child, inst: inst}
	child.OnMessage(func(v host.Value) {
		if co.onMessage != nil {
			inst.Call("child message", co.onMessage, v)
		}
	})
	child.OnExit(func(code host.Value) {
		if co.onExit != nil {
			inst.Call("child exit", co.onExit, code)
		}
	})
	c.Return(&host.Object{Type: childType, Data: co})
}

func childSelf(c host.Call) *childObj {
	o := c.Self()
	if o == nil {
		host.Usagef("child method called without its object (use child:method() in Lua)")
	}
	return o.Data.(*childObj)
}

func childSend(c host.Call) {
	co := childSelf(c)
	sendResult(c, "child.send", co.c.Send(c.Arg(0)))
}

// sendResult turns a send error into the call's result: routine failures
// return false (and the reason), values that cannot cross are misuse.
func sendResult(c host.Call, what string, err error) {
	switch {
	case err == nil:
		c.ReturnBool(true)
	case errors.Is(err, host.ErrExited), errors.Is(err, host.ErrBacklog):
		c.Fail(err.Error())
	default:
		host.Usagef("%s: bad argument #1 (value): %v", what, err)
	}
}

func childOn(c host.Call) {
	co := childSelf(c)
	name := c.Str(0, "event")
	fn := c.Func(1, "handler")
	switch name {
	case "message":
		co.onMessage = fn
	case "exit":
		co.onExit = fn
	default:
		host.Usagef("child.on: unknown event %q (message, exit)", name)
	}
}

func childKill(c host.Call) {
	co := childSelf(c)
	if !co.c.Kill() {
		c.Fail("the spawned script has exited")
		return
	}
	c.ReturnBool(true)
}

// ---- spawned scripts, the child's side ----

type parentObj struct {
	p         *host.Parent
	onMessage host.Callback
}

var parentType = &host.Type{
	Name: "process.parent",
	Methods: map[string]host.Function{
		"send": parentSend,
		"on":   parentOn,
	},
}

func parentSelf(c host.Call) *parentObj {
	o := c.Self()
	if o == nil {
		host.Usagef("parent method called without its object (use imscript.process.parent:method() in Lua)")
	}
	return o.Data.(*parentObj)
}

func parentSend(c host.Call) {
	po := parentSelf(c)
	sendResult(c, "parent.send", po.p.Send(c.Arg(0)))
}

func parentOn(c host.Call) {
	po := parentSelf(c)
	name := c.Str(0, "event")
	fn := c.Func(1, "handler")
	if name != "message" {
		host.Usagef("parent.on: unknown event %q (message)", name)
	}
	po.onMessage = fn
	inst := c.Instance()
	po.p.OnMessage(func(v host.Value) {
		if po.onMessage != nil {
			inst.Call("parent message", po.onMessage, v)
		}
	})
}

func apiExit(c host.Call) {
	p := c.Instance().Parent()
	if p == nil {
		host.Usagef("imscript.process.exit: only a spawned script can exit (a server script stops with srv:shutdown())")
	}
	p.Exit(c.OptInt(0, "code", 0))
}
