package js

import (
	_ "embed" // globals.d.ts
	"sort"
)

// Declarations are the TypeScript declarations of the globals this
// binding adds beside imscript (console, timers, process, TextEncoder,
// atob, crypto, URL, Buffer, require), for `imscript types`.
//
//go:embed globals.d.ts
var Declarations string

// Builtins are the Node core modules require() serves ahead of the
// imscript module of the same name, with the name of their TypeScript
// type in Declarations.
func Builtins() map[string]string {
	names := make([]string, 0, len(nodeBuiltins))
	for n := range nodeBuiltins {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make(map[string]string, len(names))
	for _, n := range names {
		out[n] = builtinTypes[n]
	}
	return out
}

// builtinTypes names each builtin's interface in globals.d.ts.
var builtinTypes = map[string]string{
	"crypto": "NodeCrypto", "events": "NodeEvents", "util": "NodeUtil", "path": "NodePath", "url": "NodeURL",
	"console": "Console", "timers": "NodeTimers", "process": "NodeProcess", "module": "NodeModule",
	"diagnostics_channel": "NodeDiagnosticsChannel",
}
