//go:build linux

package testserver

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// PostgresServer is a throwaway PostgreSQL server: a fresh cluster in a
// temporary folder, trust authentication, listening on a free loopback
// port, with an empty database "imscript".
type PostgresServer struct {
	// DSN is postgres://postgres@127.0.0.1:PORT/imscript?sslmode=disable.
	DSN  string
	Port int

	bin, base, data string
	cred            *syscall.Credential

	mu sync.Mutex
	d  *daemon
}

var pg struct {
	once sync.Once
	s    *PostgresServer
	err  error
}

// Postgres returns the test binary's PostgreSQL server, starting it on
// first use (initdb, then postgres, run as the postgres user when the
// tests run as root). It skips the test (fails it when CI=true) when
// PostgreSQL is not installed. StopAll stops it.
func Postgres(t testing.TB) *PostgresServer {
	t.Helper()
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) > pgVersion(dirs[j]) })
	initdb := Need(t, "initdb", "postgresql", dirs...)
	if real, err := filepath.EvalSymlinks(initdb); err == nil {
		initdb = real // /usr/local/bin/initdb -> /usr/lib/postgresql/15/bin/initdb: its neighbours are there
	}
	bin := filepath.Dir(initdb)
	pg.once.Do(func() { pg.s, pg.err = startPostgres(bin) })
	if pg.err != nil {
		t.Fatalf("starting PostgreSQL: %v", pg.err)
	}
	return pg.s
}

func pgVersion(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

func startPostgres(bin string) (*PostgresServer, error) {
	cred, err := serviceUser("postgres")
	if err != nil {
		return nil, err
	}
	base, data, err := serverDirs("imscript-pg-", cred)
	if err != nil {
		return nil, err
	}
	s := &PostgresServer{bin: bin, base: base, data: data, cred: cred}
	if out, err := runAs(cred, filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		os.RemoveAll(base)
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	if s.Port, err = freePort(); err != nil {
		os.RemoveAll(base)
		return nil, err
	}
	s.DSN = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/imscript?sslmode=disable", s.Port)
	if err := s.start(); err != nil {
		os.RemoveAll(base)
		return nil, err
	}
	if out, err := exec.Command(filepath.Join(bin, "createdb"), "-h", "127.0.0.1", "-p", strconv.Itoa(s.Port),
		"-U", "postgres", "imscript").CombinedOutput(); err != nil {
		s.stop()
		os.RemoveAll(base)
		return nil, fmt.Errorf("createdb: %v\n%s", err, out)
	}
	atStopAll(func() {
		s.stop()
		os.RemoveAll(base)
	})
	return s, nil
}

// start runs postgres on s.Port and waits until it accepts connections.
func (s *PostgresServer) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := startDaemon(filepath.Join(s.base, "server.log"), s.cred, filepath.Join(s.bin, "postgres"),
		"-D", s.data, "-p", strconv.Itoa(s.Port), "-k", s.data,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=200", "-c", "shared_buffers=32MB")
	if err != nil {
		return err
	}
	s.d = d
	return d.waitReady(time.Minute, func() bool {
		return exec.Command(filepath.Join(s.bin, "pg_isready"), "-q", "-h", "127.0.0.1", "-p", strconv.Itoa(s.Port),
			"-U", "postgres", "-d", "postgres", "-t", "1").Run() == nil
	})
}

func (s *PostgresServer) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.d != nil {
		s.d.stop(syscall.SIGINT) // fast shutdown
		s.d = nil
	}
}

// Stop stops the server (a fast shutdown: clients are disconnected), for
// a test of a dead server; Start starts it again on the same port.
func (s *PostgresServer) Stop(t testing.TB) {
	t.Helper()
	s.stop()
}

// Start starts the server again after Stop, on the same port and data.
func (s *PostgresServer) Start(t testing.TB) {
	t.Helper()
	if err := s.start(); err != nil {
		t.Fatalf("restarting PostgreSQL: %v", err)
	}
}

// The helpers below are shared with mariadb.go.

// serviceUser returns the credentials of the Debian package's user (the
// servers refuse to run as root) when the tests run as root, else nil:
// the server then runs as the tests' own user.
func serviceUser(name string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("running as root needs the %s user to run the server as: %w", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

// serverDirs makes a temporary folder (base, for the log) with a data
// folder in it that the server's user owns.
func serverDirs(prefix string, cred *syscall.Credential) (base, data string, err error) {
	base, err = os.MkdirTemp("", prefix)
	if err != nil {
		return "", "", err
	}
	data = filepath.Join(base, "data")
	err = os.Mkdir(data, 0o700)
	if err == nil {
		err = os.Chmod(base, 0o755)
	}
	if err == nil && cred != nil {
		err = os.Chown(data, int(cred.Uid), int(cred.Gid))
	}
	if err != nil {
		os.RemoveAll(base)
		return "", "", err
	}
	return base, data, nil
}

func attrs(cred *syscall.Credential) *syscall.SysProcAttr {
	// Pdeathsig: a test binary that dies leaves no server behind.
	return &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
}

// runAs runs a one-shot command (initdb, mariadb-install-db) as cred.
func runAs(cred *syscall.Credential, bin string, args ...string) ([]byte, error) {
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = attrs(cred)
	cmd.Dir = os.TempDir()
	return cmd.CombinedOutput()
}

// freePort is FreePort outside a test.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// daemon is a server process: its output goes to a log file.
type daemon struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func startDaemon(log string, cred *syscall.Credential, bin string, args ...string) (*daemon, error) {
	f, err := os.OpenFile(log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = attrs(cred)
	cmd.Dir = os.TempDir()
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	d := &daemon{cmd: cmd, log: log, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(d.done)
	}()
	return d, nil
}

// waitReady polls ready until it holds; the server exiting first or
// limit passing is the error, with the end of its log.
func (d *daemon) waitReady(limit time.Duration, ready func() bool) error {
	deadline := time.Now().Add(limit)
	for !ready() {
		select {
		case <-d.done:
			return fmt.Errorf("%s exited before it was ready: %s\n%s", filepath.Base(d.cmd.Path), d.cmd.ProcessState, d.tail())
		default:
		}
		if time.Now().After(deadline) {
			d.stop(syscall.SIGKILL)
			return fmt.Errorf("%s was not ready after %v\n%s", filepath.Base(d.cmd.Path), limit, d.tail())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// stop sends sig and waits for the process to exit (killing it after 30 s).
func (d *daemon) stop(sig syscall.Signal) {
	_ = d.cmd.Process.Signal(sig)
	select {
	case <-d.done:
	case <-time.After(30 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
	}
}

func (d *daemon) tail() string {
	b, _ := os.ReadFile(d.log)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}
