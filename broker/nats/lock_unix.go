//go:build unix

package nats

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// lockDir takes DataDir/nats.lock for this process: two servers on one
// JetStream store would corrupt it. The lock goes with the process, also
// when it is killed.
func lockDir(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("nats broker: data directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "nats.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("nats broker: data directory: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("nats broker: data directory %s is in use by another process", dir)
		}
		return nil, fmt.Errorf("nats broker: locking the data directory: %w", err)
	}
	return f, nil
}
