package sql_test

import (
	"os"
	"strings"
	"testing"

	"github.com/imscript/imscript/internal/testserver"
	"github.com/imscript/imscript/script/scripttest"
)

// The PostgreSQL and MariaDB servers start once for the package and stop
// here (testserver.StopAll), so none outlives the test binary.
func TestMain(m *testing.M) {
	code := m.Run()
	testserver.StopAll()
	os.Exit(code)
}

// database is one database the scripts run against, with what differs
// between them: placeholders, DDL, the SQL of a slow query, and what the
// scripts should print for its types and errors.
type database struct {
	name string
	// dsn is what the script opens (set by start for the servers).
	dsn   string
	start func(t *testing.T) string

	ph      string // "?" or "$" ($1, $2, ...)
	create  string // the values table; {T} is its name
	auto    string // a table with an automatic id; {T} is its name
	big     string // SELECT of int64 limits as max, big (2^53+1), min
	castBig string // one parameter (a string) cast to a 64-bit integer, as x
	bigText string // the largest int64 as text, as x
	slow    string // a query that runs for seconds
	sleep   string // a query that takes about 50 ms (load tests)

	boolShow   string // how the values table's boolean true reads
	autoID     string // the second automatic id as exec reports it ("" when none)
	syntaxCode string
	syntaxMsg  string
	dupCode    string // a duplicate primary key's code
}

// databases are the four: SQLite on a file and in memory (always), and
// PostgreSQL and MariaDB (skipped when their packages are missing).
func databases() []*database {
	sqliteFile := &database{
		name: "sqlite", dsn: "sqlite:data/test.db", ph: "?",
		create:     "CREATE TABLE {T} (id INTEGER PRIMARY KEY, i INTEGER, f REAL, t TEXT, b BLOB, n TEXT, bo BOOLEAN, d DATE, ts TIMESTAMP, num TEXT)",
		auto:       "CREATE TABLE {T} (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT)",
		big:        "SELECT 9223372036854775807 AS max, 9007199254740993 AS big, -9223372036854775807 - 1 AS min",
		castBig:    "SELECT CAST(? AS INTEGER) AS x",
		bigText:    "SELECT CAST(9223372036854775807 AS TEXT) AS x",
		slow:       "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) AS n FROM c",
		boolShow:   "number 1",
		autoID:     "2",
		syntaxCode: "SQLITE_ERROR",
		syntaxMsg:  `sql.query: SQL logic error: near "SELEC": syntax error (1)`,
		dupCode:    "SQLITE_CONSTRAINT_PRIMARYKEY",
	}
	memory := *sqliteFile
	memory.name, memory.dsn = "sqlite-memory", "sqlite::memory:"
	pg := &database{
		name: "postgres", ph: "$",
		start:      func(t *testing.T) string { return postgresDSN(t) },
		create:     "CREATE TABLE {T} (id BIGINT PRIMARY KEY, i BIGINT, f DOUBLE PRECISION, t TEXT, b BYTEA, n TEXT, bo BOOLEAN, d DATE, ts TIMESTAMP(6), num NUMERIC(30,10))",
		auto:       "CREATE TABLE {T} (id BIGSERIAL PRIMARY KEY, v TEXT)",
		big:        "SELECT 9223372036854775807::int8 AS max, 9007199254740993::int8 AS big, (-9223372036854775807 - 1)::int8 AS min",
		castBig:    "SELECT $1::int8 AS x",
		bigText:    "SELECT 9223372036854775807::int8::text AS x",
		slow:       "SELECT pg_sleep(5) AS n",
		boolShow:   "boolean true",
		syntaxCode: "42601",
		syntaxMsg:  `sql.query: ERROR: syntax error at or near "SELEC" (SQLSTATE 42601)`,
		dupCode:    "23505",
	}
	maria := &database{
		name: "mariadb", ph: "?",
		start:      func(t *testing.T) string { return mariaDSN(t) },
		create:     "CREATE TABLE {T} (id BIGINT PRIMARY KEY, i BIGINT, f DOUBLE, t TEXT, b BLOB, n TEXT, bo BOOLEAN, d DATE, ts DATETIME(6), num DECIMAL(30,10)) DEFAULT CHARSET=utf8mb4",
		auto:       "CREATE TABLE {T} (id BIGINT AUTO_INCREMENT PRIMARY KEY, v TEXT)",
		big:        "SELECT CAST(9223372036854775807 AS SIGNED) AS max, CAST(9007199254740993 AS SIGNED) AS big, CAST(-9223372036854775807 - 1 AS SIGNED) AS min",
		castBig:    "SELECT CAST(? AS SIGNED) AS x",
		bigText:    "SELECT CAST(9223372036854775807 AS CHAR) AS x",
		slow:       "SELECT SLEEP(5) AS n",
		boolShow:   "number 1",
		autoID:     "2",
		syntaxCode: "1064",
		syntaxMsg:  "sql.query: Error 1064 (42000): You have an error in your SQL syntax; check the manual that corresponds to your MariaDB server version for the right syntax to use near 'SELEC 1' at line 1",
		dupCode:    "1062",
	}
	return []*database{sqliteFile, &memory, pg, maria}
}

// open gives the DSN, starting the server when the database has one.
func (d *database) open(t *testing.T) string {
	t.Helper()
	if d.start != nil {
		return d.start(t)
	}
	return d.dsn
}

// env is the scripts' environment for d; tables are named after the test
// (PostgreSQL and MariaDB keep them between tests).
func (d *database) env(t *testing.T, lang string) map[string]string {
	t.Helper()
	tag := strings.NewReplacer("/", "_", "-", "_").Replace(strings.ToLower(t.Name()))
	if len(tag) > 40 {
		tag = tag[len(tag)-40:]
	}
	return map[string]string{
		"DSN": d.open(t), "DB": d.name, "PH": d.ph, "LANG": lang,
		"T": "v_" + tag, "A": "a_" + tag, "CREATE": d.create, "AUTO": d.auto,
		"BIG": d.big, "CASTBIG": d.castBig, "BIGTEXT": d.bigText, "SLOW": d.slow,
	}
}

// eachDatabase runs fn for every database and language, as subtests.
func eachDatabase(t *testing.T, fn func(t *testing.T, d *database, lang string)) {
	for _, d := range databases() {
		t.Run(d.name, func(t *testing.T) {
			for _, lang := range scripttest.Langs {
				t.Run(lang, func(t *testing.T) { fn(t, d, lang) })
			}
		})
	}
}

// files are the script's files: the folder its SQLite database goes in.
var files = map[string]string{"data/README": "the tests' SQLite databases\n"}

// nilWord is how each language prints a missing value.
func nilWord(lang string) string {
	if lang == "js" {
		return "undefined"
	}
	return "nil"
}

func orWord(s, lang string) string {
	if s == "" {
		return nilWord(lang)
	}
	return s
}
