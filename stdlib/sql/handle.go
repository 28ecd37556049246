package sql

import (
	"context"
	"database/sql"
	"time"

	"github.com/imscript/imscript/script"
)

// handle is what sql.open returns: one script version's use of a shared
// pool. It is touched only on its instance's worker (calls, close, the
// instance's close); the work of each call runs on a goroutine.
type handle struct {
	inst    script.Instance
	pool    *pool
	timeout time.Duration
	obj     *script.Object
	closed  bool
	release func() // Own's
}

var dbType = &script.Type{Name: "sql.db", Doc: "A database handle (a shared pool)."}

func init() {
	dbType.Define(map[string]script.Method{
		"query":       {Fn: func(c script.Call) { dbOf(c).call(c, opQuery) }, Args: "sql: string, ...: any", Returns: "async table[]", Doc: "The rows of a query (placeholders: ? or $1)."},
		"queryRow":    {Fn: func(c script.Call) { dbOf(c).call(c, opQueryRow) }, Args: "sql: string, ...: any", Returns: "async table?", Doc: "The first row of a query, or nil."},
		"exec":        {Fn: func(c script.Call) { dbOf(c).call(c, opExec) }, Args: "sql: string, ...: any", Returns: "async SqlResult", Doc: "Runs a statement."},
		"transaction": {Fn: func(c script.Call) { dbOf(c).transaction(c) }, Args: "fn: fun(tx: SqlTx): any", Returns: "async any", Doc: "Runs fn in a transaction: commits when it returns, rolls back when it raises; fn's result."},
		"close":       {Fn: func(c script.Call) { dbOf(c).close(); c.ReturnBool(true) }, Returns: "boolean", Doc: "Closes this handle (the pool stays while others use it)."},
	})
}

func dbOf(c script.Call) *handle {
	return script.Receiver[*handle](c, "sql: call a handle's methods as db:query(...) (Lua) or db.query(...) (JS)")
}

func newHandle(inst script.Instance, p *pool, timeout time.Duration) *script.Object {
	h := &handle{inst: inst, pool: p, timeout: timeout}
	h.obj = &script.Object{Type: dbType, Data: h}
	// The version's end closes the handle (its calls in flight are
	// cancelled through the instance's context), never the pool.
	h.release = inst.Own(script.CloserFunc(func() { h.closed = true }))
	return h.obj
}

// close ends this handle; the pool stays open for the other handles.
func (h *handle) close() {
	if !h.closed {
		h.closed = true
		h.release()
	}
}

// op is one kind of statement call.
type op int

const (
	opQuery op = iota
	opQueryRow
	opExec
)

func (o op) String() string { return [...]string{"query", "queryRow", "exec"}[o] }

// queryer is what runs statements: the pool (*sql.DB) or a transaction.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// pooled runs statements on the pool, prepared once per SQL text.
type pooled struct{ p *pool }

func (q pooled) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := q.p.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return q.p.db.QueryContext(ctx, query, args...)
}

func (q pooled) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := q.p.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return q.p.db.ExecContext(ctx, query, args...)
}

// statement is one call's SQL and parameters, read on the worker.
type statement struct {
	op    op
	sql   string
	args  []any
	cbArg int
}

// readStatement reads (sql, ...params [, callback]): a function as the
// last argument is the callback.
func readStatement(c script.Call, o op) statement {
	s := statement{op: o, sql: c.Str(0, "sql")}
	n := c.NArgs()
	s.cbArg = n // past the last argument: no callback
	if n > 1 {
		if _, ok := c.Arg(n - 1).(script.Callback); ok {
			s.cbArg = n - 1
		}
	}
	s.args = params(c, o.String(), 1, s.cbArg)
	return s
}

// call runs a statement on the pool.
func (h *handle) call(c script.Call, o op) {
	st := readStatement(c, o)
	if err := h.usable(o.String()); err != nil {
		c.Async(st.cbArg)(nil, err)
		return
	}
	ctx, p, timeout := h.inst.Context(), h.pool, h.timeout
	c.Run(st.cbArg, func() (script.Value, error) { return run(ctx, p, pooled{p}, timeout, st) })
}

// usable says why the handle cannot run a call, if it cannot.
func (h *handle) usable(op string) error {
	if h.closed {
		return plainf("sql.%s: the handle is closed (db:close() was called, or its script version has ended)", op)
	}
	if h.pool.err != nil {
		return plainf("sql.%s: %s: %v", op, h.pool.shown, h.pool.err)
	}
	return nil
}

// run executes one statement with the call's timeout, under parent (the
// instance's context, or a transaction's), and converts its result.
func run(parent context.Context, p *pool, q queryer, timeout time.Duration, st statement) (script.Value, error) {
	ctx, cancel := parent, context.CancelFunc(func() {})
	if timeout > 0 {
		ctx, cancel = context.WithTimeout(parent, timeout)
	}
	defer cancel()
	v, err := runStatement(ctx, p.driver, q, st)
	if err != nil {
		return nil, failure(p, st.op.String(), ctx, parent, timeout, err)
	}
	return v, nil
}

func runStatement(ctx context.Context, d flavor, q queryer, st statement) (script.Value, error) {
	if st.op == opExec {
		res, err := q.ExecContext(ctx, st.sql, st.args...)
		if err != nil {
			return nil, err
		}
		out := script.Map{}
		if n, err := res.RowsAffected(); err == nil {
			out["rows_affected"] = n
		}
		if d != postgresDB {
			if id, err := res.LastInsertId(); err == nil {
				out["last_insert_id"] = id
			}
		}
		return out, nil
	}
	rows, err := q.QueryContext(ctx, st.sql, st.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	max := 0
	if st.op == opQueryRow {
		max = 1
	}
	list, err := readRows(d, rows, max)
	if err != nil {
		return nil, err
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if st.op == opQueryRow {
		if len(list) == 0 {
			return nil, nil
		}
		return list[0], nil
	}
	return list, nil
}
