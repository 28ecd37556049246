//go:build linux

package testserver

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// MariaDBServer is a throwaway MariaDB server: a fresh data folder
// (mariadb-install-db), listening on a free loopback port, with a
// database "imscript" and a user imscript@127.0.0.1 (password imscript)
// that may do anything with it.
type MariaDBServer struct {
	// DSN is mysql://imscript:imscript@127.0.0.1:PORT/imscript, the form
	// imscript.sql.open takes.
	DSN                      string
	Port                     int
	User, Password, Database string
	// Socket is the server's Unix socket (root may connect there).
	Socket string

	bin, base, data string
	cred            *syscall.Credential

	mu sync.Mutex
	d  *daemon
}

var maria struct {
	once sync.Once
	s    *MariaDBServer
	err  error
}

// MariaDB returns the test binary's MariaDB server, starting it on first
// use (run as the mysql user when the tests run as root). It skips the
// test (fails it when CI=true) when mariadb-server is not installed.
// StopAll stops it.
func MariaDB(t testing.TB) *MariaDBServer {
	t.Helper()
	bin := Need(t, "mariadbd", "mariadb-server", "/usr/sbin")
	Need(t, "mariadb-install-db", "mariadb-server", "/usr/bin")
	Need(t, "mariadb", "mariadb-client", "/usr/bin")
	maria.once.Do(func() { maria.s, maria.err = startMariaDB(bin) })
	if maria.err != nil {
		t.Fatalf("starting MariaDB: %v", maria.err)
	}
	return maria.s
}

// DriverDSN is the DSN in go-sql-driver/mysql's own form, for a test's
// direct connection.
func (s *MariaDBServer) DriverDSN() string {
	return fmt.Sprintf("%s:%s@tcp(127.0.0.1:%d)/%s", s.User, s.Password, s.Port, s.Database)
}

func startMariaDB(bin string) (*MariaDBServer, error) {
	cred, err := serviceUser("mysql")
	if err != nil {
		return nil, err
	}
	base, data, err := serverDirs("imscript-mariadb-", cred)
	if err != nil {
		return nil, err
	}
	s := &MariaDBServer{bin: bin, base: base, data: data, cred: cred,
		User: "imscript", Password: "imscript", Database: "imscript", Socket: filepath.Join(data, "mysqld.sock")}
	install, err := exec.LookPath("mariadb-install-db")
	if err != nil {
		install = "/usr/bin/mariadb-install-db"
	}
	if out, err := runAs(cred, install, "--no-defaults", "--datadir="+data,
		"--auth-root-authentication-method=normal", "--skip-test-db"); err != nil {
		os.RemoveAll(base)
		return nil, fmt.Errorf("mariadb-install-db: %v\n%s", err, out)
	}
	if s.Port, err = freePort(); err != nil {
		os.RemoveAll(base)
		return nil, err
	}
	s.DSN = fmt.Sprintf("mysql://%s:%s@127.0.0.1:%d/%s", s.User, s.Password, s.Port, s.Database)
	if err := s.start(); err != nil {
		os.RemoveAll(base)
		return nil, err
	}
	setup := fmt.Sprintf("CREATE DATABASE %s; CREATE USER '%s'@'127.0.0.1' IDENTIFIED BY '%s'; GRANT ALL ON *.* TO '%s'@'127.0.0.1';",
		s.Database, s.User, s.Password, s.User)
	if out, err := s.client(setup); err != nil {
		s.stop()
		os.RemoveAll(base)
		return nil, fmt.Errorf("creating the database and user: %v\n%s", err, out)
	}
	atStopAll(func() {
		s.stop()
		os.RemoveAll(base)
	})
	return s, nil
}

// client runs SQL as root through the socket.
func (s *MariaDBServer) client(sql string) ([]byte, error) {
	client, err := exec.LookPath("mariadb")
	if err != nil {
		client = "/usr/bin/mariadb"
	}
	return exec.Command(client, "--no-defaults", "-S", s.Socket, "-u", "root", "-e", sql).CombinedOutput()
}

// start runs mariadbd on s.Port and waits until it answers.
func (s *MariaDBServer) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := startDaemon(filepath.Join(s.base, "server.log"), s.cred, s.bin,
		"--no-defaults", "--datadir="+s.data, "--port="+strconv.Itoa(s.Port), "--bind-address=127.0.0.1",
		"--socket="+s.Socket, "--pid-file="+filepath.Join(s.data, "mysqld.pid"),
		"--skip-log-bin", "--skip-name-resolve", "--max-connections=300",
		"--innodb-buffer-pool-size=32M", "--innodb-flush-log-at-trx-commit=0")
	if err != nil {
		return err
	}
	s.d = d
	return d.waitReady(time.Minute, func() bool {
		_, err := s.client("SELECT 1")
		return err == nil
	})
}

func (s *MariaDBServer) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.d != nil {
		s.d.stop(syscall.SIGTERM)
		s.d = nil
	}
}

// Stop stops the server (clients are disconnected), for a test of a dead
// server; Start starts it again on the same port.
func (s *MariaDBServer) Stop(t testing.TB) {
	t.Helper()
	s.stop()
}

// Start starts the server again after Stop, on the same port and data.
func (s *MariaDBServer) Start(t testing.TB) {
	t.Helper()
	if err := s.start(); err != nil {
		t.Fatalf("restarting MariaDB: %v", err)
	}
}
