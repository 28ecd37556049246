// Package conformance holds the script-level conformance suite of imscript:
// one table of cases, each written once in Lua and once in JavaScript with
// the result a user sees, run against both bindings by `go test`.
//
// The package has no code of its own; everything is in its tests.
package conformance
