package sql

import (
	"database/sql"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/imscript/imscript/script"
)

// Parameters, script → database:
//   - numbers: a whole number in the int64 range binds as an integer
//     (int64), any other as a float (float64). Lua numbers are float64,
//     and so are JS numbers as the binding passes them: integers beyond
//     2^53 cannot be passed exactly (pass them as strings: every driver
//     converts a string into an integer column);
//   - strings: text; a Lua string that is not valid UTF-8 binds as bytes
//     (a BLOB / bytea), and imscript.sql.blob(data) binds any data as bytes;
//   - bytes (a JS Buffer): BLOB / bytea;
//   - booleans: the driver's boolean (PostgreSQL bool; 1/0 for SQLite and
//     MySQL);
//   - nil, JS null or undefined, imscript.sql.null: NULL.
//
// Anything else (a table, an object, a function) is a usage error naming
// the parameter.

// params reads the SQL parameters: arguments first..end-1.
func params(c script.Call, op string, first, end int) []any {
	out := make([]any, 0, end-first)
	for i := first; i < end; i++ {
		out = append(out, param(c.Arg(i), op, i-first+1))
	}
	return out
}

func param(v script.Value, op string, n int) any {
	switch x := v.(type) {
	case nil:
		return nil
	case bool:
		return x
	case int64:
		return x
	case int:
		return int64(x)
	case float64:
		if x == math.Trunc(x) && x >= -(1<<63) && x < 1<<63 {
			return int64(x)
		}
		return x
	case string:
		if !utf8.ValidString(x) {
			return []byte(x)
		}
		return x
	case []byte:
		return x
	case *script.Object:
		if x == script.Null {
			return nil
		}
		if x.Type == blobType {
			return x.Data.([]byte)
		}
	}
	script.Usagef("sql.%s: parameter %d: cannot bind a %s (numbers, strings, bytes, booleans, nil and imscript.sql.null only)",
		op, n, script.TypeName(v))
	return nil
}

// Results, database → script (one conversion for every driver):
//   - integers: int64, exact (JS sees the exact integer; Lua the nearest
//     float64 beyond 2^53); an unsigned MySQL BIGINT beyond the int64
//     range: a decimal string;
//   - floats: float64 (a 4-byte float as its shortest decimal);
//   - text, and the types a driver gives as text (PostgreSQL numeric,
//     uuid, json, intervals, arrays; MySQL DECIMAL, TIME, ENUM, JSON):
//     strings; numeric and decimal stay exact that way;
//   - BLOB, bytea, BINARY/VARBINARY: bytes (Lua string, JS Buffer);
//   - booleans: PostgreSQL bool as a boolean; SQLite and MySQL have none
//     (BOOLEAN / TINYINT(1) are integers 0/1);
//   - NULL: imscript.sql.null (Lua: a row keeps the column; JS: null);
//   - dates and times: RFC 3339 strings in UTC ("2024-01-02T03:04:05.5Z");
//     a DATE column as its date alone ("2024-01-02"). SQLite columns
//     declared DATE, DATETIME or TIMESTAMP are read as times when their
//     text parses as one.

// columnKind says how a column's []byte values read.
type columnKind int

const (
	textColumn columnKind = iota
	bytesColumn
	intColumn
	floatColumn
	dateColumn
)

func kindOf(d flavor, ct *sql.ColumnType) columnKind {
	name := strings.ToUpper(ct.DatabaseTypeName())
	switch {
	case name == "DATE":
		return dateColumn
	case d == sqliteDB:
		return bytesColumn // modernc gives []byte for BLOB values only
	case d == postgresDB:
		if name == "BYTEA" {
			return bytesColumn
		}
		return textColumn // json, jsonb, xml
	case strings.Contains(name, "BLOB") || strings.Contains(name, "BINARY") ||
		name == "BIT" || name == "GEOMETRY":
		return bytesColumn
	case strings.HasSuffix(name, "INT") || name == "YEAR":
		return intColumn
	case name == "FLOAT" || name == "DOUBLE":
		return floatColumn
	}
	return textColumn
}

// readRows reads every row as a Map column → value.
func readRows(d flavor, rows *sql.Rows, max int) (script.List, error) {
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	kinds := make([]columnKind, len(types))
	for i, ct := range types {
		kinds[i] = kindOf(d, ct)
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	out := script.List{}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make(script.Map, len(cols))
		for i, name := range cols {
			row[name] = result(vals[i], kinds[i])
			vals[i] = nil
		}
		out = append(out, row)
		if max > 0 && len(out) == max {
			break
		}
	}
	return out, rows.Err()
}

// result converts one scanned value.
func result(v any, kind columnKind) script.Value {
	switch x := v.(type) {
	case nil:
		return script.Null
	case int64:
		return x
	case int32:
		return int64(x)
	case int16:
		return int64(x)
	case int8:
		return int64(x)
	case uint64:
		if x > math.MaxInt64 {
			return strconv.FormatUint(x, 10)
		}
		return int64(x)
	case uint32:
		return int64(x)
	case float64:
		return x
	case float32:
		f, _ := strconv.ParseFloat(strconv.FormatFloat(float64(x), 'g', -1, 32), 64)
		return f
	case bool:
		return x
	case string:
		return x
	case time.Time:
		if kind == dateColumn {
			return x.Format(time.DateOnly)
		}
		return x.UTC().Format(time.RFC3339Nano)
	case []byte:
		switch kind {
		case bytesColumn:
			return x // database/sql gave us our own copy
		case intColumn:
			if n, err := strconv.ParseInt(string(x), 10, 64); err == nil {
				return n
			}
		case floatColumn:
			if f, err := strconv.ParseFloat(string(x), 64); err == nil {
				return f
			}
		}
		return string(x)
	}
	return script.Null
}
