// Package stdlib registers the standard modules that every imscript host
// offers to scripts beyond the core (imscript.json, imscript.log, ...).
// Each module lives in its own sub-package and is written once, in Go.
package stdlib

import (
	"github.com/imscript/imscript/host"
	"github.com/imscript/imscript/stdlib/json"
	"github.com/imscript/imscript/stdlib/log"
)

// Register adds every standard module to h.
func Register(h *host.Host) {
	h.RegisterModule("json", json.Module)
	h.RegisterModule("log", log.Module)
}
