package testserver

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// redisWait bounds the waits for a server to start and stop: generous,
// for a slow and busy machine.
const redisWait = 20 * time.Second

// RedisServer is a throwaway redis-server (Debian's redis-server package)
// on a loopback port: no persistence, its folder and log in a temporary
// folder. Stop and Start stop and restart it on the same port, for tests
// of a server that goes away and comes back.
type RedisServer struct {
	t    testing.TB
	bin  string
	Port int
	Addr string // 127.0.0.1:Port
	URL  string // redis://127.0.0.1:Port/0
	Dir  string
	Log  string // the server's log file

	mu  sync.Mutex
	cmd *exec.Cmd
	end chan struct{} // closed when cmd has exited
}

// Redis starts a redis-server for the test and stops it when the test
// ends. Without Debian's redis-server the test skips (fails under CI=true).
func Redis(t testing.TB) *RedisServer {
	t.Helper()
	bin := Need(t, "redis-server", "redis-server", "/usr/bin", "/usr/sbin")
	s := &RedisServer{t: t, bin: bin, Dir: t.TempDir()}
	s.Log = filepath.Join(s.Dir, "redis.log")
	t.Cleanup(s.Stop)
	var err error
	for try := 0; try < 5; try++ { // a free port can be taken before the server binds it
		s.Port = FreePort(t)
		s.Addr = fmt.Sprintf("127.0.0.1:%d", s.Port)
		s.URL = "redis://" + s.Addr + "/0"
		if err = s.start(); err == nil {
			return s
		}
	}
	t.Fatalf("redis-server did not start: %v\n%s", err, s.LogText())
	return nil
}

// Start restarts a stopped server on its port.
func (s *RedisServer) Start() {
	s.t.Helper()
	if err := s.start(); err != nil {
		s.t.Fatalf("redis-server did not restart on port %d: %v\n%s", s.Port, err, s.LogText())
	}
}

func (s *RedisServer) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("already running")
	}
	cmd := exec.Command(s.bin, "--port", strconv.Itoa(s.Port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.Dir, "--logfile", s.Log, "--daemonize", "no")
	if err := cmd.Start(); err != nil {
		return err
	}
	end := make(chan struct{})
	go func() { _ = cmd.Wait(); close(end) }()
	deadline := time.Now().Add(redisWait)
	for {
		if err := ping(s.Addr); err == nil {
			s.cmd, s.end = cmd, end
			return nil
		} else if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-end
			return fmt.Errorf("no PONG on %s after %v: %v", s.Addr, redisWait, err)
		}
		select {
		case <-end:
			return fmt.Errorf("redis-server exited: %v", cmd.ProcessState)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Stop stops the server (SIGTERM, then SIGKILL after a while) and waits
// until its port refuses connections. Stopping a stopped server does
// nothing.
func (s *RedisServer) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.end:
	case <-time.After(redisWait):
		_ = s.cmd.Process.Kill()
		<-s.end
	}
	s.cmd = nil
}

// Running says whether the server runs.
func (s *RedisServer) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

// LogText is the server's log so far.
func (s *RedisServer) LogText() string {
	b, _ := os.ReadFile(s.Log)
	return string(b)
}

// Do sends one command to the server on a connection of its own and
// returns the reply as text: a status, bulk string or integer as it is,
// nil as "(nil)", an error as "ERR ...", an array as its elements on
// lines of their own. It is for the test's own checks (CLIENT LIST, INFO,
// PUBSUB NUMSUB), not for the code under test.
func (s *RedisServer) Do(args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", s.Addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(redisWait))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	return readReply(bufio.NewReader(c))
}

// MustDo is Do that fails the test on an error.
func (s *RedisServer) MustDo(args ...string) string {
	s.t.Helper()
	out, err := s.Do(args...)
	if err != nil {
		s.t.Fatalf("redis %v: %v", args, err)
	}
	return out
}

func readReply(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("empty reply line")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return line[1:], errors.New(line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "(nil)", err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "(nil)", err
		}
		parts := make([]string, n)
		for i := range parts {
			if parts[i], err = readReply(r); err != nil {
				return "", err
			}
		}
		return strings.Join(parts, "\n"), nil
	}
	return "", fmt.Errorf("unexpected reply %q", line)
}

// ping checks that a server answers PING on addr.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}
