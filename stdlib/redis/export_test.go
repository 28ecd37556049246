package redis

import (
	"io"

	goredis "github.com/redis/go-redis/v9"

	"github.com/imscript/imscript/script"
)

// PoolOf is the shared pool behind a handle, and OptionsOf its go-redis
// options.
func PoolOf(h *script.Object) io.Closer { return h.Data.(*handle).pool }

func OptionsOf(h *script.Object) *goredis.Options { return h.Data.(*handle).pool.opt }

// Pipelines is how many pipelines the handle's pool has sent for calls.
func Pipelines(h *script.Object) int {
	b := h.Data.(*handle).pool.batch
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sent
}
