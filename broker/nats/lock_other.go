//go:build !unix

package nats

import (
	"fmt"
	"os"
)

// lockDir makes the data directory; without flock, nothing keeps a second
// process out.
func lockDir(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("nats broker: data directory: %w", err)
	}
	return nil, nil
}
