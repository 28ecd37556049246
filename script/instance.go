package script

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"
)

// Instance is one version of a script running in one VM on one worker: what
// a binding or a module may ask of the host. Every method but Post, Shared,
// Logger, Stdout, Stderr and Context must be called on the instance's worker
// (inside a Function, a Callback or a function given to Post).
type Instance interface {
	// WorkerID is the id of the worker that runs the instance (0-based;
	// negative in a spawned script).
	WorkerID() int
	// ScriptDir is the folder of the main script: relative paths
	// (require, files, spawn) resolve against it.
	ScriptDir() string
	// Program is the compiled version the instance runs.
	Program() Program
	// Exports is the imscript module as this instance sees it: the core
	// functions plus every registered module.
	Exports() Map
	// Module returns a registered module (or "imscript" itself) by name,
	// for require().
	Module(name string) (Value, bool)
	// AddDependency records a file the script required, so that saving it
	// reloads the script.
	AddDependency(path string)

	// Post runs fn on the instance's worker, after the events already
	// queued. It is how Go code running elsewhere (a module's goroutine)
	// gets back to the script: fn may call Call. Safe from any goroutine.
	// If the instance has closed meanwhile, fn is not run.
	Post(fn func())
	// Call invokes a script function of this instance with the watchdog
	// armed; errors are logged (with the script's stack) and counted,
	// never raised. what names the handler in the log.
	Call(what string, fn Callback, args ...Value) Value
	// CallErr is Call that also returns the error (already logged), for a
	// module that must know the function failed (a transaction rolls back).
	CallErr(what string, fn Callback, args ...Value) (Value, error)
	// AtClose registers fn to run on the worker when the instance closes:
	// replaced by a reload (once it has drained), discarded after a failed
	// load, or stopped with the host.
	AtClose(fn func())
	// Own ties r to the instance: r.Close() runs when the instance closes,
	// unless release was called first. Modules own what a script opened
	// (clients, processes, spawned scripts) this way.
	Own(r io.Closer) (release func())
	// Context is cancelled when the instance closes, so work it started
	// (an outgoing request) ends with the version that asked for it.
	Context() context.Context

	// Suspend parks the running handler until resume is called (once, from
	// any goroutine): start gets resume and starts the work. The worker
	// runs its other events meanwhile; when resume is called, the handler
	// goes on, on the worker, in order with its events, and Suspend
	// returns nil — or an error when the instance closed first. A
	// connection's later events wait meanwhile (unless its server has
	// ordered = false). Only a binding whose VM can wait in the middle of
	// a call uses it (Lua); CanSuspend says whether it would work here: not
	// in the main chunk, nor in an instance that is closing. work, when
	// set, runs on the handler's goroutine once the worker has gone on,
	// before the handler waits (the call's own work: Call.Run).
	Suspend(start func(resume func()), work func()) error
	CanSuspend() bool

	// AddTimer starts a timer on the instance's worker: after d, repeating
	// every d when repeat. fn is called with args, or with the timer id
	// when args is nil. It returns the timer id.
	AddTimer(d time.Duration, repeat bool, fn Callback, args []Value) int64
	// ClearTimer cancels a timer of this instance.
	ClearTimer(id int64) bool

	// Spawn starts the script at path (relative to ScriptDir; the
	// extension picks the language) in a VM of its own, as a child of
	// this instance, with a deep copy of arg as its argument. A missing
	// file or a syntax error (file:line) is the error.
	Spawn(path string, arg Value) (Child, error)
	// Parent is the link to the parent when the instance runs a spawned
	// script, else nil.
	Parent() Parent

	// Shared returns the host-wide value stored under key, creating it
	// with init on first use. Modules keep state here that every worker
	// (and task worker) shares and that survives reloads; a value that is
	// an io.Closer is closed when the host stops.
	Shared(key string, init func() any) any
	// Logger is the host's logger.
	Logger() *slog.Logger
	// Stdout and Stderr are where scripts print.
	Stdout() io.Writer
	Stderr() io.Writer
}

// CloserFunc adapts a function to io.Closer, for Instance.Own.
type CloserFunc func()

// Close calls f.
func (f CloserFunc) Close() error {
	f()
	return nil
}

// ModuleFunc builds a module's exports for one script instance (one VM).
type ModuleFunc func(inst Instance) Value

// Module is a named module: it appears as imscript.<Name> and as
// require("<Name>") in every VM.
type Module struct {
	Name  string
	Build ModuleFunc
	// API describes the module for editors (`imscript types`).
	API *API
}

// Child is a spawned script as its parent sees it. Its methods are called
// on the parent's worker (Kill from anywhere).
type Child interface {
	// ID is the child's host-unique id.
	ID() int64
	// Send queues a deep copy of v to the child's message handler. It
	// fails with ErrExited or ErrBacklog, or with an error naming what
	// cannot cross (functions, host objects).
	Send(v Value) error
	// Kill ends the child: a handler it is running is interrupted, and
	// nothing more runs in it. False when it had already ended.
	Kill() bool
	// OnMessage sets the function that receives the child's messages.
	OnMessage(fn func(Value))
	// OnExit sets the function called once the child has ended, after
	// every message it sent: code is its exit code (0 by default, 1 when
	// its script failed) or nil when it was killed.
	OnExit(fn func(code Value))
}

// Parent is the link a spawned script has to its parent. Its methods are
// called on the child's worker.
type Parent interface {
	// ID is the child's id (as the parent's Child.ID).
	ID() int64
	// Arg is the argument the parent passed to spawn.
	Arg() Value
	// Send queues a deep copy of v to the parent; failures as Child.Send.
	Send(v Value) error
	// OnMessage sets the function that receives the parent's messages.
	OnMessage(fn func(Value))
	// Exit ends the child once the running callback returns; the parent's
	// exit handler gets code.
	Exit(code Value)
}

var (
	// ErrExited is the failure of sending to (or from) a spawned script
	// that has exited or was killed.
	ErrExited = errors.New("the spawned script has exited")
	// ErrBacklog is the failure of sending when the receiver has too many
	// messages waiting.
	ErrBacklog = errors.New("too many messages waiting: the receiver is not keeping up")
)
