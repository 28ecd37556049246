// Package stdlib registers the standard modules that every imscript host
// offers to scripts beyond the core (imscript.json, imscript.log, ...).
// Each module lives in its own sub-package and is written once, in Go.
package stdlib

import (
	"github.com/imscript/imscript/host"
	"github.com/imscript/imscript/stdlib/http"
	"github.com/imscript/imscript/stdlib/json"
	"github.com/imscript/imscript/stdlib/log"
	"github.com/imscript/imscript/stdlib/mail"
	"github.com/imscript/imscript/stdlib/process"
	"github.com/imscript/imscript/stdlib/table"
	"github.com/imscript/imscript/stdlib/websocket"
)

// Register adds every standard module to h.
func Register(h *host.Host) {
	h.RegisterModule("json", json.Module)
	h.RegisterModule("log", log.Module)
	h.RegisterModule("process", process.Module)
	h.RegisterModule("http", http.Module)
	h.RegisterModule("websocket", websocket.Module)
	h.RegisterModule("mail", mail.Module)
	table.Register(h)
}
