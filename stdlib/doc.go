// Package stdlib registers the standard modules that every imscript host
// offers to scripts beyond the core (imscript.json, imscript.log, ...).
// Each module lives in its own sub-package and is written once, in Go.
package stdlib

import (
	"github.com/imscript/imscript/script"
	"github.com/imscript/imscript/stdlib/crypto"
	"github.com/imscript/imscript/stdlib/dns"
	"github.com/imscript/imscript/stdlib/fs"
	"github.com/imscript/imscript/stdlib/http"
	"github.com/imscript/imscript/stdlib/json"
	"github.com/imscript/imscript/stdlib/jwt"
	"github.com/imscript/imscript/stdlib/limit"
	"github.com/imscript/imscript/stdlib/log"
	"github.com/imscript/imscript/stdlib/mail"
	"github.com/imscript/imscript/stdlib/metrics"
	"github.com/imscript/imscript/stdlib/process"
	"github.com/imscript/imscript/stdlib/redis"
	"github.com/imscript/imscript/stdlib/sql"
	"github.com/imscript/imscript/stdlib/table"
	"github.com/imscript/imscript/stdlib/websocket"
)

// Modules are every standard module, for Host.RegisterModule.
func Modules() []script.Module {
	mods := []script.Module{
		{Name: "json", Build: json.Module},
		{Name: "log", Build: log.Module},
		{Name: "process", Build: process.Module},
		{Name: "http", Build: http.Module},
		{Name: "websocket", Build: websocket.Module},
		{Name: "mail", Build: mail.Module},
		{Name: "redis", Build: redis.Module},
		{Name: "fs", Build: fs.Module},
		{Name: "dns", Build: dns.Module},
		{Name: "sql", Build: sql.Module},
		{Name: "jwt", Build: jwt.Module},
		{Name: "crypto", Build: crypto.Module},
		{Name: "limit", Build: limit.Module},
		{Name: "metrics", Build: metrics.Module},
	}
	return append(mods, table.Modules()...)
}
