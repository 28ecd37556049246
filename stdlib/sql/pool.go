package sql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"

	gomysql "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers "sqlite"

	"github.com/imscript/imscript/script"
)

// sharedKey is where the host keeps the pools (Instance.Shared).
const sharedKey = "stdlib/sql.pools"

// pools are the host's database pools, one per DSN and pool options. It
// is the value kept in Instance.Shared: an io.Closer, so the host closes
// every pool when it stops.
type pools struct {
	mu     sync.Mutex
	m      map[string]*pool
	opened int // pools ever opened (the tests check sharing with it)
	closed bool
}

// pool is one *sql.DB and what its handles need to know about it.
type pool struct {
	db     *sql.DB
	driver flavor
	shown  string // the DSN without its password
	err    error  // set when the pool could not be made (a bad DSN option)

	// stmts are prepared statements by SQL text, so that a query a script
	// runs again is parsed once (database/sql prepares it again on each
	// connection as needed); at most maxStmts are kept.
	stmtMu sync.Mutex
	stmts  map[string]*sql.Stmt
}

// maxStmts bounds a pool's prepared statements (a script that builds SQL
// text per call would otherwise fill it).
const maxStmts = 256

// stmt returns the prepared statement of query, preparing it on first
// use; nil (run it unprepared) once the cache is full or when preparing
// fails (the statement's own error comes from running it). Only SQLite's
// are kept: pgx caches its statements itself (and knows when a schema
// change makes one stale), and MySQL re-prepares on the server.
func (p *pool) stmt(ctx context.Context, query string) *sql.Stmt {
	if p.driver != sqliteDB {
		return nil
	}
	p.stmtMu.Lock()
	st := p.stmts[query]
	full := len(p.stmts) >= maxStmts
	p.stmtMu.Unlock()
	if st != nil || full {
		return st
	}
	st, err := p.db.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	p.stmtMu.Lock()
	defer p.stmtMu.Unlock()
	if old := p.stmts[query]; old != nil {
		st.Close()
		return old
	}
	if p.stmts == nil {
		p.stmts = map[string]*sql.Stmt{}
	}
	p.stmts[query] = st
	return st
}

func registry(inst script.Instance) *pools {
	return inst.Shared(sharedKey, func() any { return &pools{m: map[string]*pool{}} }).(*pools)
}

// get returns the pool for tg and po, opening it on first use. Opening
// does not connect.
func (ps *pools) get(tg target, po poolOpts, log *slog.Logger) *pool {
	key := fmt.Sprintf("%s|%s|%d|%d|%d", tg.driver, tg.conn, po.maxOpen, po.maxIdle, po.lifetime)
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if p := ps.m[key]; p != nil {
		return p
	}
	p := &pool{driver: tg.driver, shown: tg.shown}
	if ps.closed {
		p.err = errors.New("the host has stopped")
		return p
	}
	db, err := connect(tg, log)
	if err != nil {
		// Not kept: the next open with the same DSN tries again.
		p.err = err
		return p
	}
	db.SetMaxOpenConns(po.maxOpen)
	db.SetMaxIdleConns(po.maxIdle)
	db.SetConnMaxLifetime(po.lifetime)
	p.db = db
	ps.m[key] = p
	ps.opened++
	return p
}

// Close closes every pool (the host is stopping).
func (ps *pools) Close() error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.closed = true
	var errs []error
	for key, p := range ps.m {
		if err := p.db.Close(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p.shown, err))
		}
		delete(ps.m, key)
	}
	return errors.Join(errs...)
}

// connect makes the *sql.DB of a target.
func connect(tg target, log *slog.Logger) (*sql.DB, error) {
	switch tg.driver {
	case postgresDB:
		cfg, err := pgx.ParseConfig(tg.conn)
		if err != nil {
			return nil, err
		}
		return stdlib.OpenDB(*cfg), nil
	case mysqlDB:
		cfg, err := mysqlConfig(tg.conn)
		if err != nil {
			return nil, err
		}
		cfg.Logger = driverLog{log} // not the driver's default, the process's stderr
		conn, err := gomysql.NewConnector(cfg)
		if err != nil {
			return nil, err
		}
		return sql.OpenDB(conn), nil
	}
	return sql.Open("sqlite", tg.conn)
}

func postgresTarget(dsn string) target {
	u := parseURL(dsn)
	if _, err := pgx.ParseConfig(dsn); err != nil {
		script.Usagef("sql.open: %s: %s", redacted(u), pgxConfigError(err))
	}
	return target{driver: postgresDB, conn: dsn, shown: redacted(u)}
}

// pgxConfigError is the reason pgx refused a DSN, without the DSN (which
// pgx quotes, its password masked on a best-effort basis only).
func pgxConfigError(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, "`: "); i >= 0 {
		return msg[i+3:]
	}
	return msg
}

// mysqlTarget translates mysql://user:pass@host:port/db?params into
// go-sql-driver's configuration: TCP to host:port (default
// 127.0.0.1:3306), the URL's query as the driver's parameters, and always
// parseTime=true (dates come back as RFC 3339 strings) with loc=UTC unless
// the DSN says otherwise.
func mysqlTarget(dsn string) target {
	u := parseURL(dsn)
	if u.Opaque != "" || (u.Host == "" && u.Path == "") {
		script.Usagef("sql.open: %s: want mysql://user:password@host:port/database", redacted(u))
	}
	if _, err := mysqlConfig(dsn); err != nil {
		script.Usagef("sql.open: %s: %v", redacted(u), err)
	}
	return target{driver: mysqlDB, conn: dsn, shown: redacted(u)}
}

func mysqlConfig(dsn string) (*gomysql.Config, error) {
	u := parseURL(dsn)
	cfg, err := gomysql.ParseDSN("/?" + u.RawQuery)
	if err != nil {
		return nil, err
	}
	cfg.Net = "tcp"
	host, port := u.Hostname(), u.Port()
	if host == "" {
		host = "127.0.0.1"
	}
	if port == "" {
		port = "3306"
	}
	cfg.Addr = net.JoinHostPort(host, port)
	cfg.DBName = strings.TrimPrefix(u.Path, "/")
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
	}
	cfg.ParseTime = true
	return cfg, nil
}

// driverLog takes go-sql-driver's log lines to the host's logger.
type driverLog struct{ log *slog.Logger }

func (d driverLog) Print(v ...any) {
	d.log.Warn("sql: mysql driver: " + strings.TrimSpace(fmt.Sprint(v...)))
}
