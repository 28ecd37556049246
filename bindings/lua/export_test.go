package lua

import "github.com/imscript/imscript/script"

// This file exports, for the tests only, the few internals the external
// test package (lua_test) needs: it is compiled with the tests and is no
// part of the package's API.

// DisplayName is displayName: how an error names a script file.
var DisplayName = displayName

// CompiledModules is how many required modules have been compiled for the
// version p (a program of this binding: Instance.Program()).
func CompiledModules(p script.Program) int {
	pr := p.(*program)
	pr.mu.Lock()
	defer pr.mu.Unlock()
	return len(pr.modules)
}
