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
