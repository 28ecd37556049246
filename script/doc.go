// Package script is the contract between the imscript host and everything
// written for it: the language bindings (bindings/lua, bindings/js) and the
// modules (stdlib/*, and an embedder's own). It defines the neutral values
// that cross between Go and a script (Value, List, Map), host functions and
// objects (Function, Call, Type, Object, Callback), the language seam
// (Language, Program, VM, Pending) and the Instance a binding or module
// runs in, as an interface, so that a module can be tested against a fake
// (see script/scripttest) and never needs the engine.
package script
