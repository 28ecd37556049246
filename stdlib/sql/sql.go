// Package sql is imscript.sql: SQLite, PostgreSQL and MySQL/MariaDB
// databases on database/sql, through pools that every worker shares and
// that survive reloads. Each call runs on a goroutine and settles on the
// calling worker (a Lua callback or suspended handler, a JS Promise), as
// README.md describes.
package sql

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/imscript/imscript/script"
	"github.com/imscript/imscript/stdlib/internal/opts"
)

const (
	defaultMaxOpen  = 16
	defaultTimeout  = 30 * time.Second
	sqliteBusy      = 5 * time.Second
	sqliteMemoryDSN = "sqlite::memory:"
)

// Module builds imscript.sql for one instance.
func Module(script.Instance) script.Value {
	m := script.Funcs(API.Funcs)
	m["null"] = script.Null
	return m
}

// API describes imscript.sql for editors.
var API = &script.API{
	Doc: "SQL databases (SQLite, PostgreSQL, MySQL), shared by every worker and surviving reloads.",
	Funcs: map[string]script.Method{
		"open": {Fn: func(c script.Call) { open(c, c.Instance()) }, Args: "dsn: string, options?: {max_open?: integer, max_idle?: integer, conn_max_lifetime?: number, timeout?: number}", Returns: "SqlDb",
			Doc: `A database handle ("sqlite:path", "sqlite::memory:", "postgres://...", "mysql://...").`},
		"blob": {Fn: blob, Args: "data: string|bytes", Returns: "SqlBlob", Doc: "data bound as a BLOB whatever its bytes."},
	},
	Fields: map[string]script.Field{
		"null": {Type: "any", Doc: "SQL NULL in a row (Lua; JS has null)."},
	},
	Types: []*script.Type{dbType, txType, blobType},
	Records: []script.Record{{Name: "SqlResult", Doc: "What exec returns.", Fields: map[string]script.Field{
		"rows_affected":   {Type: "integer", Doc: "Rows changed."},
		"last_insert_id?": {Type: "integer", Doc: "The id of the inserted row, where the driver has it."},
	}}},
}

// flavor names which database a DSN is for.
type flavor int

const (
	sqliteDB flavor = iota
	postgresDB
	mysqlDB
)

func (d flavor) String() string {
	return [...]string{"sqlite", "postgres", "mysql"}[d]
}

// target is a parsed DSN: the driver, what to connect to and the key
// under which its pool is shared.
type target struct {
	driver flavor
	conn   string // the driver's own DSN
	memory bool   // sqlite::memory:
	shown  string // the DSN without its password, for messages
}

// poolOpts are the options that make a distinct pool.
type poolOpts struct {
	maxOpen, maxIdle int
	lifetime         time.Duration
}

// open is imscript.sql.open(dsn [, opts]) for inst.
func open(c script.Call, inst script.Instance) {
	dsn := c.Str(0, "dsn")
	o := opts.New("sql.open", c.OptTable(1, "options"), "max_open", "max_idle", "conn_max_lifetime", "timeout")
	tg := parseDSN(dsn, inst.ScriptDir())
	po := poolOpts{maxOpen: int(o.Int("max_open", defaultMaxOpen, 1, 10000))}
	po.maxIdle = int(o.Int("max_idle", int64(po.maxOpen), 0, 10000))
	po.lifetime = o.Seconds("conn_max_lifetime", 0)
	timeout := o.Seconds("timeout", defaultTimeout)
	if tg.memory {
		if o.Has("max_open") && po.maxOpen != 1 {
			script.Usagef("sql.open: option max_open: an in-memory SQLite database lives in one connection: max_open must be 1")
		}
		po = poolOpts{maxOpen: 1, maxIdle: 1}
	}
	p := registry(inst).get(tg, po, inst.Logger())
	c.Return(newHandle(inst, p, timeout))
}

// parseDSN reads a DSN; a malformed one is a usage error that does not
// show the password.
func parseDSN(dsn, dir string) target {
	scheme, rest, _ := strings.Cut(dsn, ":")
	switch strings.ToLower(scheme) {
	case "sqlite":
		return sqliteTarget(rest, dir)
	case "postgres", "postgresql":
		return postgresTarget(dsn)
	case "mysql":
		return mysqlTarget(dsn)
	}
	if !strings.Contains(dsn, ":") {
		scheme = dsn
	}
	script.Usagef("sql.open: unsupported DSN scheme %q: want sqlite:PATH, sqlite::memory:, postgres://... or mysql://...", scheme)
	return target{}
}

func sqliteTarget(path, dir string) target {
	if path == ":memory:" {
		return target{driver: sqliteDB, memory: true, shown: sqliteMemoryDSN,
			conn: fmt.Sprintf(":memory:?_busy_timeout=%d&_foreign_keys=1", sqliteBusy.Milliseconds())}
	}
	if path == "" || strings.HasPrefix(path, "//") || strings.ContainsAny(path, "?#") {
		script.Usagef("sql.open: %q: want sqlite:PATH (a file, relative to the script's folder) or sqlite::memory:", "sqlite:"+path)
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	path = filepath.Clean(path)
	q := fmt.Sprintf("_busy_timeout=%d&_journal_mode=WAL&_synchronous=NORMAL&_foreign_keys=1&_txlock=immediate", sqliteBusy.Milliseconds())
	return target{driver: sqliteDB, conn: path + "?" + q, shown: "sqlite:" + path}
}

func parseURL(dsn string) *url.URL {
	u, err := url.Parse(dsn)
	if err != nil {
		// url.Parse quotes the whole DSN, password included.
		script.Usagef("sql.open: malformed DSN (%s://...): %v", strings.SplitN(dsn, ":", 2)[0], unwrapURLError(err))
	}
	return u
}

func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// redacted is u without its password.
func redacted(u *url.URL) string { return u.Redacted() }

// blob is imscript.sql.blob(data): data bound as a BLOB / bytea whatever
// its bytes (a Lua string that is valid UTF-8 otherwise binds as text).
func blob(c script.Call) {
	b := c.Bytes(0, "data")
	c.Return(&script.Object{Type: blobType, Data: append([]byte(nil), b...)})
}

var blobType = &script.Type{Name: "sql.blob", Transient: true, Doc: "Bytes to bind as a BLOB.",
	Props: map[string]func(o *script.Object) script.Value{
		"length": func(o *script.Object) script.Value { return int64(len(o.Data.([]byte))) },
	},
	Fields: map[string]script.Field{"length": {Type: "integer", Doc: "Its size in bytes."}},
}
