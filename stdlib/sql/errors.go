package sql

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"

	"github.com/imscript/imscript/script"
)

// Errors. Every routine failure (a syntax error, a constraint, a dead
// server, a timeout, a closed handle) settles the call with a
// *script.CodedError whose message starts with the operation
// ("sql.query: ...") and whose code (Lua: the value after the message;
// JS: err.code) is:
//   - PostgreSQL: the SQLSTATE, a string ("42601" for a syntax error,
//     "23505" for a unique violation);
//   - MySQL/MariaDB: the server's error number, an integer (1064, 1062);
//   - SQLite: the extended result code's name, a string
//     ("SQLITE_ERROR" for a syntax error, "SQLITE_CONSTRAINT_UNIQUE");
//   - "timeout" when the call's timeout ran out, whatever the driver;
//   - nil (Lua) / undefined (JS) when the failure has no code (the server
//     cannot be reached, the handle is closed).

// timeoutCode is the code of a call that ran out of time.
const timeoutCode = "timeout"

// failure words err, the failure of operation op on pool p run under
// callCtx (the call's own context, with its timeout) inside parent (the
// instance's).
func failure(p *pool, op string, callCtx, parent context.Context, timeout time.Duration, err error) error {
	var ce *script.CodedError
	if errors.As(err, &ce) {
		return err
	}
	if parent.Err() != nil {
		return &script.CodedError{Msg: fmt.Sprintf("sql.%s: cancelled: the script version that made the call has closed", op), Err: err}
	}
	if callCtx != nil && errors.Is(callCtx.Err(), context.DeadlineExceeded) {
		return &script.CodedError{Msg: fmt.Sprintf("sql.%s: query timed out after %v", op, timeout), Code: timeoutCode, Err: err}
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return &script.CodedError{Msg: fmt.Sprintf("sql.%s: %s", op, pe.Error()), Code: pe.Code, Err: err}
	}
	var me *gomysql.MySQLError
	if errors.As(err, &me) {
		return &script.CodedError{Msg: fmt.Sprintf("sql.%s: %s", op, me.Error()), Code: int64(me.Number), Err: err}
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		msg := fmt.Sprintf("sql.%s: %s", op, se.Error())
		if se.Code()&0xff == sqliteCantOpen {
			msg += cantOpen(p.shown)
		}
		return &script.CodedError{Msg: msg, Code: sqliteCodeName(se.Code()), Err: err}
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, gomysql.ErrInvalidConn) {
		return &script.CodedError{Msg: fmt.Sprintf("sql.%s: lost the connection to the database (%v)", op, err), Err: err}
	}
	return &script.CodedError{Msg: fmt.Sprintf("sql.%s: %v", op, err), Err: err}
}

// plainf is a failure without a code.
func plainf(format string, args ...any) error {
	return &script.CodedError{Msg: fmt.Sprintf(format, args...)}
}

// sqliteCodeName names an (extended) SQLite result code: its extended
// name when it has one here, else its primary code's name.
func sqliteCodeName(code int) script.Value {
	if n, ok := sqliteExtended[code]; ok {
		return "SQLITE_" + n
	}
	if p := code & 0xff; p < len(sqlitePrimary) && sqlitePrimary[p] != "" {
		return "SQLITE_" + sqlitePrimary[p]
	}
	return int64(code)
}

var sqlitePrimary = [...]string{
	0: "OK", 1: "ERROR", 2: "INTERNAL", 3: "PERM", 4: "ABORT", 5: "BUSY", 6: "LOCKED", 7: "NOMEM",
	8: "READONLY", 9: "INTERRUPT", 10: "IOERR", 11: "CORRUPT", 12: "NOTFOUND", 13: "FULL",
	14: "CANTOPEN", 15: "PROTOCOL", 16: "EMPTY", 17: "SCHEMA", 18: "TOOBIG", 19: "CONSTRAINT",
	20: "MISMATCH", 21: "MISUSE", 22: "NOLFS", 23: "AUTH", 24: "FORMAT", 25: "RANGE", 26: "NOTADB",
	27: "NOTICE", 28: "WARNING", 100: "ROW", 101: "DONE",
}

// ext is an extended result code: a primary code and its sub-code.
func ext(primary, n int) int { return primary | n<<8 }

var sqliteExtended = map[int]string{
	ext(1, 1): "ERROR_MISSING_COLLSEQ", ext(1, 2): "ERROR_RETRY", ext(1, 3): "ERROR_SNAPSHOT",
	ext(4, 2): "ABORT_ROLLBACK",
	ext(5, 1): "BUSY_RECOVERY", ext(5, 2): "BUSY_SNAPSHOT", ext(5, 3): "BUSY_TIMEOUT",
	ext(6, 1): "LOCKED_SHAREDCACHE", ext(6, 2): "LOCKED_VTAB",
	ext(8, 1): "READONLY_RECOVERY", ext(8, 2): "READONLY_CANTLOCK", ext(8, 3): "READONLY_ROLLBACK",
	ext(8, 4): "READONLY_DBMOVED", ext(8, 5): "READONLY_CANTINIT", ext(8, 6): "READONLY_DIRECTORY",
	ext(11, 1): "CORRUPT_VTAB", ext(11, 2): "CORRUPT_SEQUENCE", ext(11, 3): "CORRUPT_INDEX",
	ext(14, 1): "CANTOPEN_NOTEMPDIR", ext(14, 2): "CANTOPEN_ISDIR", ext(14, 3): "CANTOPEN_FULLPATH",
	ext(14, 4): "CANTOPEN_CONVPATH", ext(14, 6): "CANTOPEN_SYMLINK",
	ext(19, 1): "CONSTRAINT_CHECK", ext(19, 2): "CONSTRAINT_COMMITHOOK", ext(19, 3): "CONSTRAINT_FOREIGNKEY",
	ext(19, 4): "CONSTRAINT_FUNCTION", ext(19, 5): "CONSTRAINT_NOTNULL", ext(19, 6): "CONSTRAINT_PRIMARYKEY",
	ext(19, 7): "CONSTRAINT_TRIGGER", ext(19, 8): "CONSTRAINT_UNIQUE", ext(19, 9): "CONSTRAINT_VTAB",
	ext(19, 10): "CONSTRAINT_ROWID", ext(19, 11): "CONSTRAINT_PINNED", ext(19, 12): "CONSTRAINT_DATATYPE",
}

// sqliteCantOpen is SQLite's primary result code for a database file it
// cannot open.
const sqliteCantOpen = 14

// cantOpen is what a failure to open an SQLite file adds to SQLite's own
// "unable to open database file", which names neither the file nor why:
// the DSN shown and, when it can tell, the reason.
func cantOpen(shown string) string {
	path, ok := strings.CutPrefix(shown, "sqlite:")
	if !ok || path == ":memory:" {
		return ""
	}
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf(": %s: the folder %s does not exist (SQLite creates the file, not its folder)", shown, dir)
	case err != nil:
		return fmt.Sprintf(": %s: %v", shown, err)
	case !st.IsDir():
		return fmt.Sprintf(": %s: %s is not a folder", shown, dir)
	}
	st, err = os.Stat(path)
	switch {
	case err == nil && st.IsDir():
		return fmt.Sprintf(": %s: it is a folder", shown)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf(": %s: %v", shown, err)
	}
	return fmt.Sprintf(": %s (check that the process may read and write it and its folder)", shown)
}
