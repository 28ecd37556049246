package redis

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"

	goredis "github.com/redis/go-redis/v9"
)

// go-redis logs through one process-wide logger (stderr by default): a
// failed dial, for one, logs a line per call. A host's log lines all go
// through its logger, so the first open installs a go-redis logger that
// writes to the host's logger at debug level (the failure itself reaches
// the script): the instance's logger when the line comes from a call of
// this module (its context carries it), else the logger of the last
// instance that opened a handle (go-redis dials with a context of its
// own), and stderr as go-redis would before any.

type loggerKey struct{}

var (
	installLogger sync.Once
	lastLogger    atomic.Pointer[slog.Logger]
)

type hostLogger struct{ fallback *log.Logger }

func (l hostLogger) Printf(ctx context.Context, format string, v ...any) {
	lg, _ := ctx.Value(loggerKey{}).(*slog.Logger)
	if lg == nil {
		lg = lastLogger.Load()
	}
	if lg == nil {
		_ = l.fallback.Output(3, fmt.Sprintf(format, v...))
		return
	}
	lg.Debug("go-redis: " + fmt.Sprintf(format, v...))
}

// useLogger routes go-redis's log lines to lg (see above).
func useLogger(lg *slog.Logger) {
	if lg == nil {
		return
	}
	lastLogger.Store(lg)
	installLogger.Do(func() {
		goredis.SetLogger(hostLogger{fallback: log.New(os.Stderr, "redis: ", log.LstdFlags|log.Lshortfile)})
	})
}
