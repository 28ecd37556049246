package script

import "time"

// Go runs fn off the worker, on a goroutine of a pool that every module
// shares: a module's asynchronous call does its work there and settles
// (Call.Async) when it is done. A goroutine that finishes waits up to
// goIdle for the next fn, keeping the stack it has grown: a database
// driver's call runs deep (SQLite's VM, database/sql), and a fresh
// goroutine would grow its stack, copying it, several times per call.
// There is no bound on how many run at once: fn must end by itself (its
// call's timeout or the instance's context).
func Go(fn func()) {
	select {
	case goIdleFn <- fn:
	default:
		go goRun(fn)
	}
}

// goIdleFn takes fn to a goroutine of Go's pool that waits for work.
var goIdleFn = make(chan func())

// goIdle is how long a goroutine of Go's pool waits for work before it
// ends.
const goIdle = 10 * time.Second

func goRun(fn func()) {
	t := time.NewTimer(goIdle)
	defer t.Stop()
	for {
		fn()
		fn = nil // not kept alive while waiting
		t.Reset(goIdle)
		select {
		case fn = <-goIdleFn:
		case <-t.C:
			return
		}
	}
}
