// Package imscript embeds the imscript host in a Go program: it creates a
// host that runs Lua and JavaScript scripts with the standard modules.
//
//	h, err := imscript.New(host.Config{Script: "server.lua"})
//	h.RegisterModule("greeter", func(inst *host.Instance) host.Value { ... })
//	err = h.Run(ctx)
package imscript

import (
	"github.com/imscript/imscript/bindings/js"
	"github.com/imscript/imscript/bindings/lua"
	"github.com/imscript/imscript/host"
	"github.com/imscript/imscript/stdlib"
)

// Languages are the script languages imscript runs.
func Languages() []host.Language {
	return []host.Language{lua.New(), js.New()}
}

// New creates a host for cfg.Script with Lua, JS and the standard modules.
// cfg.Languages, when empty, is filled with Languages().
func New(cfg host.Config) (*host.Host, error) {
	if len(cfg.Languages) == 0 {
		cfg.Languages = Languages()
	}
	h, err := host.New(cfg)
	if err != nil {
		return nil, err
	}
	stdlib.Register(h)
	return h, nil
}
