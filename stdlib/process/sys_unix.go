//go:build unix

package process

import (
	"os/exec"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// newProcessGroup puts the process in a process group of its own, so that
// closing the script kills what it started too.
func newProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// killGroup kills the process group led by pid.
func killGroup(pid int) {
	_ = syscall.Kill(-pid, syscall.SIGKILL)
}

func signalName(s syscall.Signal) string {
	if n := unix.SignalName(s); n != "" {
		return n
	}
	return "SIG" + s.String()
}

// signalNum reads "SIGTERM", "TERM" or "term".
func signalNum(name string) (syscall.Signal, bool) {
	n := strings.ToUpper(name)
	if !strings.HasPrefix(n, "SIG") {
		n = "SIG" + n
	}
	s := unix.SignalNum(n)
	return s, s != 0
}
