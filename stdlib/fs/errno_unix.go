//go:build unix

package fs

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// errnoName is the errno's C name (ENOENT, EACCES, ...), "" if unknown.
func errnoName(e syscall.Errno) string { return unix.ErrnoName(e) }
