// Package testserver starts throwaway database and cache servers for the
// tests (PostgreSQL, MariaDB, Redis from Debian's packages) on free
// loopback ports, each in a temporary folder and stopped when the test
// ends. A test on a machine without the server's package skips with a
// message naming the package; with CI=true it fails instead, so CI cannot
// pass by running nothing.
package testserver

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// Missing skips the test (or fails it when CI=true) because a program of
// Debian package pkg is not installed.
func Missing(t testing.TB, program, pkg string) {
	t.Helper()
	msg := fmt.Sprintf("%s not found: install Debian's %s (apt-get install %s) to run this test", program, pkg, pkg)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " — CI=true: a missing server is a failure")
	}
	t.Skip(msg)
}

// Need returns the path of program, or skips (fails under CI=true) when
// it is not installed; pkg is the Debian package that has it.
func Need(t testing.TB, program, pkg string, dirs ...string) string {
	t.Helper()
	if p, err := exec.LookPath(program); err == nil {
		return p
	}
	for _, d := range dirs {
		p := d + "/" + program
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	Missing(t, program, pkg)
	return ""
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// WaitPort waits until something accepts connections on 127.0.0.1:port.
func WaitPort(t testing.TB, port int, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on port %d after %v: %v", port, limit, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The servers below are shared by the tests of one test binary: started on
// first use, stopped by StopAll (call it from TestMain after m.Run).

var (
	sharedMu sync.Mutex
	stops    []func()
)

// atStopAll registers fn (stopping a shared server) for StopAll.
func atStopAll(fn func()) {
	sharedMu.Lock()
	stops = append(stops, fn)
	sharedMu.Unlock()
}

// StopAll stops every shared server (Postgres, MariaDB) and removes its
// folder. Call it from TestMain once m.Run has returned.
func StopAll() {
	sharedMu.Lock()
	fns := stops
	stops = nil
	sharedMu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}
