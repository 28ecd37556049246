// Package imscript embeds the imscript host in a Go program: it creates a
// host that runs Lua and JavaScript scripts with the standard modules.
//
//	h, err := imscript.New(imscript.Config{Script: "server.lua"})
//	h.RegisterModule("greeter", func(inst script.Instance) script.Value { ... })
//	err = h.Run(ctx)
//
// Modules are written against package script, the contract every binding
// and module uses; package host is the engine behind this façade.
package imscript

import (
	"github.com/imscript/imscript/bindings/js"
	"github.com/imscript/imscript/bindings/lua"
	"github.com/imscript/imscript/host"
	"github.com/imscript/imscript/script"
	"github.com/imscript/imscript/stdlib"
)

// Config says what a Host runs and how (see host.Config).
type Config = host.Config

// Host runs one script on worker VMs, with its servers and timers.
type Host = host.Host

// Version is the imscript version.
const Version = script.Version

// DefaultGCMinHeap is the GC floor `imscript run` uses (Config.GCMinHeap).
const DefaultGCMinHeap = host.DefaultGCMinHeap

// Languages are the script languages imscript runs.
func Languages() []script.Language {
	return []script.Language{lua.New(), js.New()}
}

// New creates a host for cfg.Script with Lua, JS and the standard modules.
// cfg.Languages, when empty, is filled with Languages().
func New(cfg Config) (*Host, error) {
	if len(cfg.Languages) == 0 {
		cfg.Languages = Languages()
	}
	h, err := host.New(cfg)
	if err != nil {
		return nil, err
	}
	for _, m := range stdlib.Modules() {
		h.RegisterModule(m.Name, m.Build)
	}
	return h, nil
}
