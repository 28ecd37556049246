package sql_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imscript/imscript/script"
	"github.com/imscript/imscript/script/scripttest"
	imsql "github.com/imscript/imscript/stdlib/sql"
)

// The module's functions on a fake instance: no host, no VM.

// fixture is imscript.sql on a fake instance.
type fixture struct {
	t    *testing.T
	inst *scripttest.Instance
	mod  script.Map
}

// newFixture makes the module on a fake instance (whose CallErr turns a
// Go callback's panic into the error a raising script function gives).
func newFixture(t *testing.T) *fixture {
	inst := scripttest.NewInstance(t)
	return &fixture{t: t, inst: inst, mod: imsql.Module(inst).(script.Map)}
}

func (f *fixture) open(args ...script.Value) *scripttest.Result {
	return f.inst.Invoke(f.mod["open"].(script.Function), nil, args...)
}

func (f *fixture) db(dsn string) *script.Object {
	f.t.Helper()
	r := f.open(dsn)
	if r.Usage != "" {
		f.t.Fatal(r.Usage)
	}
	return r.Value().(*script.Object)
}

// call invokes a method of a handle or transaction.
func (f *fixture) call(obj *script.Object, method string, args ...script.Value) *scripttest.Result {
	f.t.Helper()
	fn := obj.Type.Methods[method]
	if fn == nil {
		f.t.Fatalf("%s has no method %s", obj.Type.Name, method)
	}
	return f.inst.Invoke(fn, obj, args...)
}

// await runs what the module posts until r settles.
func (f *fixture) await(r *scripttest.Result) (script.Value, error) {
	f.t.Helper()
	if r.Usage != "" {
		f.t.Fatalf("usage error: %s", r.Usage)
	}
	deadline := time.Now().Add(scripttest.WaitLimit)
	for time.Now().Before(deadline) {
		v, err := r.Await(2 * time.Millisecond)
		if err == nil || !strings.Contains(err.Error(), "did not settle") {
			return v, err
		}
		f.inst.Next(2 * time.Millisecond)
	}
	f.t.Fatal("the call did not settle")
	return nil, nil
}

func (f *fixture) must(r *scripttest.Result) script.Value {
	f.t.Helper()
	v, err := f.await(r)
	if err != nil {
		f.t.Fatal(err)
	}
	return v
}

func TestOpenUsage(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		args []script.Value
		want string
	}{
		{[]script.Value{"redis://x"}, `sql.open: unsupported DSN scheme "redis": want sqlite:PATH, sqlite::memory:, postgres://... or mysql://...`},
		{[]script.Value{"data.db"}, `sql.open: unsupported DSN scheme "data.db"`},
		{[]script.Value{"sqlite:"}, `sql.open: "sqlite:": want sqlite:PATH`},
		{[]script.Value{"sqlite:x.db", script.Map{"max_opn": int64(2)}}, `sql.open: unknown option "max_opn" (options: conn_max_lifetime, max_idle, max_open, timeout)`},
		{[]script.Value{"sqlite:x.db", script.Map{"timeout": "soon"}}, `sql.open: option timeout: want a number, got string`},
		{[]script.Value{"sqlite:x.db", script.Map{"max_open": int64(0)}}, `sql.open: option max_open: want a whole number in 1..10000, got 0`},
		{[]script.Value{"sqlite::memory:", script.Map{"max_open": int64(4)}}, `max_open must be 1`},
		{[]script.Value{"postgres://app:secret@127.0.0.1:notaport/app"}, `sql.open: malformed DSN (postgres://...)`},
		{[]script.Value{"mysql://app:secret@127.0.0.1:3306/app?parseTime=maybe"}, `sql.open: mysql://app:xxxxx@127.0.0.1:3306/app?parseTime=maybe: invalid bool value: maybe`},
	} {
		r := f.open(tc.args...)
		if !strings.Contains(r.Usage, tc.want) {
			t.Errorf("open(%v): usage %q, want %q", tc.args, r.Usage, tc.want)
		}
		if strings.Contains(r.Usage, "secret") {
			t.Errorf("open(%v): the usage error shows the password: %q", tc.args, r.Usage)
		}
	}
}

func TestQueriesThroughInvoke(t *testing.T) {
	f := newFixture(t)
	db := f.db("sqlite:test.db")
	f.must(f.call(db, "exec", "CREATE TABLE t (id INTEGER PRIMARY KEY, i INTEGER, f REAL, s TEXT, b BLOB, n TEXT, u TEXT)"))
	bad := string([]byte{0xff, 0x00, 0xfe})
	blob := f.inst.Invoke(f.mod["blob"].(script.Function), nil, "valid utf-8 bytes").Value()
	res := f.must(f.call(db, "exec", "INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?)",
		1.0, float64(1<<60), 0.25, "text", bad, script.Null, blob)).(script.Map)
	if res["rows_affected"] != int64(1) || res["last_insert_id"] != int64(1) {
		t.Errorf("exec = %v", res)
	}
	row := f.must(f.call(db, "queryRow", "SELECT i, f, s, b, n, u, typeof(b) AS tb, typeof(u) AS tu FROM t WHERE id = ?", int64(1))).(script.Map)
	want := script.Map{"i": int64(1 << 60), "f": 0.25, "s": "text", "b": []byte(bad), "n": script.Null,
		"u": []byte("valid utf-8 bytes"), "tb": "blob", "tu": "blob"}
	if fmt.Sprint(row) != fmt.Sprint(want) {
		t.Errorf("row %v, want %v", row, want)
	}
	// A callback as the last argument is called on the worker.
	var got []script.Value
	cb := f.inst.Func(func(args ...script.Value) script.Value { got = args; return nil })
	rows := f.must(f.call(db, "query", "SELECT id FROM t WHERE id > ?", int64(0), cb)).(script.List)
	if len(rows) != 1 || !f.inst.Next(scripttest.WaitLimit) || len(got) != 1 {
		t.Errorf("query with a callback: %v, the callback got %v", rows, got)
	}
	// A table is not a parameter.
	if r := f.call(db, "query", "SELECT ?", script.Map{"x": int64(1)}); !strings.Contains(r.Usage, "sql.query: parameter 1: cannot bind a table") {
		t.Errorf("a table parameter: usage %q", r.Usage)
	}
	// Errors carry the driver's code.
	_, err := f.await(f.call(db, "exec", "INSERT INTO t (id) VALUES (1)"))
	if code := script.ErrorCode(err); code != "SQLITE_CONSTRAINT_PRIMARYKEY" || !strings.HasPrefix(err.Error(), "sql.exec: ") {
		t.Errorf("duplicate: %v, code %v", err, code)
	}
	if _, err := f.await(f.call(db, "query", "SELEC 1")); script.ErrorCode(err) != "SQLITE_ERROR" {
		t.Errorf("syntax: %v, code %v", err, script.ErrorCode(err))
	}
	// The file is beside the script.
	if got := filepath.Join(f.inst.Dir, "test.db"); !exists(got) {
		t.Errorf("no database at %s", got)
	}
}

// TestHandlesShareOnePool: the same DSN and pool options give one pool
// (another timeout too); other pool options another. The instance's end
// closes its handles, not the pool.
func TestHandlesShareOnePool(t *testing.T) {
	f := newFixture(t)
	f.db("sqlite:a.db")
	f.open("sqlite:a.db", script.Map{"timeout": int64(1)})
	f.open("sqlite:./a.db")
	if n := imsql.PoolsOpened(f.inst.Shared); n != 1 {
		t.Fatalf("%d pools, want 1", n)
	}
	f.open("sqlite:a.db", script.Map{"max_open": int64(2)})
	if n := imsql.PoolsOpened(f.inst.Shared); n != 2 {
		t.Fatalf("%d pools, want 2", n)
	}
	db := f.db("sqlite::memory:")
	slow := f.call(db, "query", "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c")
	f.inst.Close()
	if _, err := f.await(slow); err == nil || !strings.Contains(err.Error(), "sql.query: cancelled: the script version that made the call has closed") {
		t.Errorf("a query in flight at the close: %v", err)
	}
	if _, err := f.await(f.call(db, "query", "SELECT 1")); err == nil || !strings.Contains(err.Error(), "the handle is closed") {
		t.Errorf("after the close: %v", err)
	}
}

func TestTransactionsThroughInvoke(t *testing.T) {
	f := newFixture(t)
	db := f.db("sqlite:tx.db")
	f.must(f.call(db, "exec", "CREATE TABLE t (id INTEGER PRIMARY KEY)"))
	count := func() int64 {
		return f.must(f.call(db, "queryRow", "SELECT COUNT(*) AS c FROM t")).(script.Map)["c"].(int64)
	}
	insert := func(tx *script.Object, id int64) *scripttest.Result {
		return f.call(tx, "exec", "INSERT INTO t VALUES (?)", id)
	}

	// fn returns at once: the commit waits for its statements.
	v := f.must(f.call(db, "transaction", f.inst.Func(func(args ...script.Value) script.Value {
		tx := args[0].(*script.Object)
		insert(tx, 1)
		insert(tx, 2)
		return "ok"
	})))
	if v != "ok" || count() != 2 {
		t.Fatalf("commit: %v, %d rows", v, count())
	}
	// fn raises: rollback.
	_, err := f.await(f.call(db, "transaction", f.inst.Func(func(args ...script.Value) script.Value {
		insert(args[0].(*script.Object), 3)
		panic("main.lua:7: boom")
	})))
	if err == nil || err.Error() != "sql.transaction: rolled back: main.lua:7: boom" || count() != 2 {
		t.Fatalf("raise: %v, %d rows", err, count())
	}
	// A statement fails: rollback with its code.
	_, err = f.await(f.call(db, "transaction", f.inst.Func(func(args ...script.Value) script.Value {
		insert(args[0].(*script.Object), 4)
		insert(args[0].(*script.Object), 1)
		return "never"
	})))
	if script.ErrorCode(err) != "SQLITE_CONSTRAINT_PRIMARYKEY" || !strings.HasPrefix(err.Error(), "sql.transaction: rolled back: sql.exec: ") || count() != 2 {
		t.Fatalf("failed statement: %v (code %v), %d rows", err, script.ErrorCode(err), count())
	}
	// fn returns a pending promise: the end waits for it.
	p := &fakePending{}
	var saved *script.Object
	r := f.call(db, "transaction", f.inst.Func(func(args ...script.Value) script.Value {
		saved = args[0].(*script.Object)
		insert(saved, 5)
		return p
	}))
	for p.fn == nil {
		f.inst.Next(scripttest.WaitLimit)
	}
	f.inst.Drain(20 * time.Millisecond)
	if _, err := r.Await(time.Millisecond); err == nil {
		t.Fatal("the transaction ended before its promise settled")
	}
	p.fn("later", nil)
	if v, err := f.await(r); v != "later" || err != nil || count() != 3 {
		t.Fatalf("pending: %v, %v, %d rows", v, err, count())
	}
	if _, err := f.await(insert(saved, 6)); err == nil || err.Error() != "sql.exec: the transaction has ended" {
		t.Fatalf("after the end: %v", err)
	}
	// A rejected promise rolls back.
	p = &fakePending{}
	r = f.call(db, "transaction", f.inst.Func(func(args ...script.Value) script.Value {
		insert(args[0].(*script.Object), 7)
		return p
	}))
	for p.fn == nil {
		f.inst.Next(scripttest.WaitLimit)
	}
	p.fn(nil, errors.New("Error: rejected\n    at main.js:3:9"))
	if _, err := f.await(r); err == nil || err.Error() != "sql.transaction: rolled back: Error: rejected" || count() != 3 {
		t.Fatalf("rejected: %v, %d rows", err, count())
	}
}

// fakePending is a script.Pending settled by the test.
type fakePending struct{ fn func(script.Value, error) }

func (p *fakePending) Then(fn func(script.Value, error)) { p.fn = fn }

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// TestUsageInScripts: misuse raises at the call (Lua error, JS TypeError)
// naming the argument or option.
func TestUsageInScripts(t *testing.T) {
	srcs := map[string]string{"lua": `
local sql = imscript.sql
local function try(name, fn)
  local ok, err = pcall(fn)
  print(name .. ": " .. tostring(err):gsub("^.-:%d+: ", ""))
end
local db = sql.open("sqlite::memory:")
try("scheme", function() sql.open("redis://127.0.0.1") end)
try("option", function() sql.open("sqlite::memory:", { pool = 2 }) end)
try("param", function() db:query("SELECT ?", {}, function() end) end)
try("sql", function() db:query(42 == 42, function() end) end)
try("dot", function() db.query("SELECT 1") end)
try("fn", function() db:transaction("no") end)
print("done")
`, "js": `
const sql = imscript.sql;
const tryIt = (name, fn) => { try { fn(); console.log(name + ": no error?!"); } catch (e) { console.log(name + ": " + e.message); } };
const db = sql.open("sqlite::memory:");
tryIt("scheme", () => sql.open("redis://127.0.0.1"));
tryIt("option", () => sql.open("sqlite::memory:", { pool: 2 }));
tryIt("param", () => db.query("SELECT ?", {}));
tryIt("sql", () => db.query(true));
tryIt("dot", () => { const q = db.query; q("SELECT 1"); });
tryIt("fn", () => db.transaction("no"));
console.log("done");
`}
	for _, lang := range scripttest.Langs {
		t.Run(lang, func(t *testing.T) {
			h := scripttest.Start(t, scripttest.Options{Lang: lang, Src: srcs[lang]})
			out := h.WaitStdout("done")
			for _, want := range []string{
				`scheme: sql.open: unsupported DSN scheme "redis"`,
				`option: sql.open: unknown option "pool" (options: conn_max_lifetime, max_idle, max_open, timeout)`,
				`param: sql.query: parameter 1: cannot bind a `,
				`(sql)`, `dot: method called without its object`, `(fn)`,
			} {
				if !strings.Contains(out, want) {
					t.Errorf("missing %q in:\n%s", want, out)
				}
			}
			if strings.Contains(out, "no error?!") {
				t.Errorf("a misuse did not raise:\n%s", out)
			}
		})
	}
}

// TestSQLiteCannotOpen: a file SQLite cannot open fails the call with the
// file's DSN and why, not only SQLite's "unable to open database file".
func TestSQLiteCannotOpen(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	missing := filepath.Join(dir, "no", "such", "folder")
	notDir := filepath.Join(dir, "plain")
	if err := os.WriteFile(notDir, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{filepath.Join(missing, "app.db"), "sqlite:" + filepath.Join(missing, "app.db") + ": the folder " + missing + " does not exist"},
		{filepath.Join(notDir, "app.db"), "sqlite:" + filepath.Join(notDir, "app.db") + ": " + notDir + " is not a folder"},
		{dir, "sqlite:" + dir + ": it is a folder"},
	} {
		db := f.db("sqlite:" + tc.path)
		_, err := f.await(f.call(db, "exec", "CREATE TABLE t (a)"))
		if err == nil || !strings.HasPrefix(err.Error(), "sql.exec: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("exec on %s: %v, want a message with %q", tc.path, err, tc.want)
		}
		if code, _ := script.ErrorCode(err).(string); !strings.HasPrefix(code, "SQLITE_CANTOPEN") {
			t.Errorf("exec on %s: code %v, want SQLITE_CANTOPEN", tc.path, script.ErrorCode(err))
		}
		_, err = f.await(f.call(db, "transaction", f.inst.Func(func(...script.Value) script.Value { return nil })))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("transaction on %s: %v, want a message with %q", tc.path, err, tc.want)
		}
	}
	if exists(missing) {
		t.Errorf("opening made the folder %s", missing)
	}
}

// TestSQLiteCannotOpenInScripts: the same failure as a script sees it, in
// both languages: a relative path is the script folder's, and the message
// names the folder that is missing.
func TestSQLiteCannotOpenInScripts(t *testing.T) {
	srcs := map[string]string{"lua": `
local db = imscript.sql.open("sqlite:missing/app.db")
db:exec("CREATE TABLE t (a)", function(res, err, code)
  print("err: " .. tostring(err) .. " code: " .. tostring(code))
end)
`, "js": `
const db = imscript.sql.open("sqlite:missing/app.db");
db.exec("CREATE TABLE t (a)").then(
  () => console.log("err: none"),
  (e) => console.log("err: " + e.message + " code: " + e.code));
`}
	for _, lang := range scripttest.Langs {
		t.Run(lang, func(t *testing.T) {
			h := scripttest.Start(t, scripttest.Options{Lang: lang, Src: srcs[lang]})
			out := h.WaitStdout("err: ")
			missing := filepath.Join(h.Dir, "missing")
			want := "err: sql.exec: unable to open database file (14): sqlite:" + filepath.Join(missing, "app.db") +
				": the folder " + missing + " does not exist (SQLite creates the file, not its folder) code: SQLITE_CANTOPEN"
			if !strings.Contains(out, want) {
				t.Errorf("got:\n%s\nwant a line:\n%s", out, want)
			}
		})
	}
}
