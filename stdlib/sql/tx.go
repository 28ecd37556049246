package sql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/imscript/imscript/script"
)

// db:transaction(fn [, callback]) runs fn(tx) inside a transaction:
//
//  1. BEGIN runs on a goroutine (waiting for a connection at most the
//     handle's timeout);
//  2. fn(tx) is called on the worker (Instance.Post, then Call); tx has
//     query, queryRow and exec, asynchronous like the handle's, run in
//     the order they were called on the transaction's one connection;
//  3. fn is done when it returns, or, when it returns a promise (a JS
//     async function) or suspends (a Lua handler that can suspend, which
//     hands back a script.Pending too), when that settles;
//  4. the transaction ends once fn is done and every tx call it started
//     has settled and its callback (or promise reactions) has run: a
//     callback may start more calls. It commits, and the transaction's
//     call settles with fn's result; or it rolls back when fn raised or
//     its promise rejected, or when any statement of the transaction
//     failed (even one whose error the script caught: a transaction with
//     a failed statement never commits), and the call fails with that
//     statement's error (its code kept) or fn's;
//  5. later calls of tx fail with "the transaction has ended".
//
// fn runs through Instance.CallErr, so a raise (Lua; JS outside an async
// function) is seen, logged as a handler error, and rolls back.
//
// There is no limit on the whole transaction: a JS promise that never
// settles keeps its connection until the script version ends (the
// version's end cancels the transaction's context, and database/sql rolls
// it back). Inside fn use tx, not the handle: with max_open = 1
// (sqlite::memory:) a handle call waits for the connection the
// transaction holds, until its timeout.

func callErr(inst script.Instance, what string, fn script.Callback, args ...script.Value) (script.Value, error) {
	return inst.CallErr(what, fn, args...)
}

var txType = &script.Type{Name: "sql.tx", Doc: "A transaction (inside db:transaction's function)."}

func init() {
	txType.Define(map[string]script.Method{
		"query":    {Fn: func(c script.Call) { txOf(c).call(c, opQuery) }, Args: "sql: string, ...: any", Returns: "async table[]", Doc: "The rows of a query."},
		"queryRow": {Fn: func(c script.Call) { txOf(c).call(c, opQueryRow) }, Args: "sql: string, ...: any", Returns: "async table?", Doc: "The first row of a query, or nil."},
		"exec":     {Fn: func(c script.Call) { txOf(c).call(c, opExec) }, Args: "sql: string, ...: any", Returns: "async SqlResult", Doc: "Runs a statement."},
	})
}

func txOf(c script.Call) *tx {
	return script.Receiver[*tx](c, "sql: call a transaction's methods as tx:exec(...) (Lua) or tx.exec(...) (JS)")
}

// tx is one transaction. The fields after settle are the worker's; the
// queue is shared with the goroutine that runs the statements.
type tx struct {
	h      *handle
	obj    *script.Object
	sqlTx  *sql.Tx
	ctx    context.Context // the instance's, cancelled when the transaction ends
	cancel context.CancelFunc
	settle func(script.Value, error)

	pending int  // tx calls not yet settled and delivered
	fnDone  bool // fn returned (and what it returned settled)
	ended   bool // commit or rollback is queued
	result  script.Value
	fnErr   error
	stmtErr error // the first statement that failed

	mu      sync.Mutex
	jobs    []func()
	running bool
}

// transaction is db:transaction(fn [, callback]).
func (h *handle) transaction(c script.Call) {
	fn := c.Func(0, "fn")
	settle := c.Async(1)
	if err := h.usable("transaction"); err != nil {
		settle(nil, err)
		return
	}
	t := &tx{h: h, settle: settle}
	t.obj = &script.Object{Type: txType, Data: t}
	t.ctx, t.cancel = context.WithCancel(h.inst.Context())
	script.Go(func() { t.begin(fn) })
}

// begin starts the transaction, then calls fn on the worker.
func (t *tx) begin(fn script.Callback) {
	timeout := t.h.timeout
	var timer *time.Timer
	if timeout > 0 {
		timer = time.AfterFunc(timeout, t.cancel)
	}
	sqlTx, err := t.h.pool.db.BeginTx(t.ctx, nil)
	if timer != nil && !timer.Stop() {
		if err == nil {
			_ = sqlTx.Rollback()
		}
		err = &script.CodedError{Msg: fmt.Sprintf("sql.transaction: timed out after %v waiting to begin", timeout), Code: timeoutCode, Err: err}
	}
	if err != nil {
		t.cancel()
		t.settle(nil, failure(t.h.pool, "transaction", nil, t.h.inst.Context(), timeout, err))
		return
	}
	t.sqlTx = sqlTx
	t.h.inst.Post(func() { t.callFn(fn) })
}

// callFn runs fn(tx) on the worker.
func (t *tx) callFn(fn script.Callback) {
	v, err := callErr(t.h.inst, "sql.transaction", fn, t.obj)
	if pend, ok := v.(script.Pending); ok && err == nil {
		pend.Then(t.fnFinished)
		return
	}
	t.fnFinished(v, err)
}

func (t *tx) fnFinished(v script.Value, err error) {
	t.fnDone, t.result, t.fnErr = true, v, err
	t.maybeEnd()
}

// call runs a statement of the transaction.
func (t *tx) call(c script.Call, o op) {
	st := readStatement(c, o)
	settle := c.Async(st.cbArg)
	if t.ended {
		settle(nil, plainf("sql.%s: the transaction has ended", o))
		return
	}
	t.pending++
	t.enqueue(func() {
		v, err := run(t.ctx, t.h.pool, t.sqlTx, t.h.timeout, st)
		settle(v, err)
		// Posted after settle's own post: this runs once the callback
		// (or the promise's reactions) has run.
		t.h.inst.Post(func() {
			if err != nil && t.stmtErr == nil {
				t.stmtErr = err
			}
			t.pending--
			t.maybeEnd()
		})
	})
}

// maybeEnd commits or rolls back once fn is done and no call is pending.
func (t *tx) maybeEnd() {
	if !t.fnDone || t.pending > 0 || t.ended {
		return
	}
	t.ended = true
	result, fnErr, stmtErr := t.result, t.fnErr, t.stmtErr
	t.enqueue(func() {
		defer t.cancel()
		if fnErr == nil && stmtErr == nil {
			if err := t.sqlTx.Commit(); err != nil {
				t.settle(nil, failure(t.h.pool, "transaction", nil, t.h.inst.Context(), 0, fmt.Errorf("commit: %w", err)))
				return
			}
			t.settle(result, nil)
			return
		}
		_ = t.sqlTx.Rollback()
		t.settle(nil, rolledBack(stmtErr, fnErr))
	})
}

// rolledBack is the failure of a transaction that rolled back: the failed
// statement's (with its code), else fn's error (its first line).
func rolledBack(stmtErr, fnErr error) error {
	var ce *script.CodedError
	if stmtErr != nil && errors.As(stmtErr, &ce) {
		return &script.CodedError{Msg: "sql.transaction: rolled back: " + ce.Msg, Code: ce.Code, Err: stmtErr}
	}
	if stmtErr != nil {
		return &script.CodedError{Msg: "sql.transaction: rolled back: " + stmtErr.Error(), Err: stmtErr}
	}
	msg, _, _ := strings.Cut(strings.TrimSpace(fnErr.Error()), "\n")
	return &script.CodedError{Msg: "sql.transaction: rolled back: " + msg, Code: script.ErrorCode(fnErr), Err: fnErr}
}

// enqueue runs job after the transaction's earlier ones, on a goroutine.
func (t *tx) enqueue(job func()) {
	t.mu.Lock()
	t.jobs = append(t.jobs, job)
	start := !t.running
	t.running = true
	t.mu.Unlock()
	if start {
		script.Go(t.drain)
	}
}

func (t *tx) drain() {
	for {
		t.mu.Lock()
		if len(t.jobs) == 0 {
			t.running = false
			t.mu.Unlock()
			return
		}
		job := t.jobs[0]
		t.jobs = t.jobs[1:]
		t.mu.Unlock()
		job()
	}
}
