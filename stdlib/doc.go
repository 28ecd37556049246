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
		{Name: "json", Build: json.Module, API: json.API},
		{Name: "log", Build: log.Module, API: log.API},
		{Name: "process", Build: process.Module, API: process.API},
		{Name: "http", Build: http.Module, API: http.API},
		{Name: "websocket", Build: websocket.Module, API: websocket.API},
		{Name: "mail", Build: mail.Module, API: mail.API},
		{Name: "redis", Build: redis.Module, API: redis.API},
		{Name: "fs", Build: fs.Module, API: fs.API},
		{Name: "dns", Build: dns.Module, API: dns.API},
		{Name: "sql", Build: sql.Module, API: sql.API},
		{Name: "jwt", Build: jwt.Module, API: jwt.API},
		{Name: "crypto", Build: crypto.Module, API: crypto.API},
		{Name: "limit", Build: limit.Module, API: limit.API},
		{Name: "metrics", Build: metrics.Module, API: metrics.API},
	}
	return append(mods, table.Modules()...)
}
