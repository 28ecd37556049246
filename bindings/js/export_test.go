package js

import "github.com/imscript/imscript/script"

// This file exports, for the tests only, the internals the external test
// package (js_test) needs: it is compiled with the tests and is no part of
// the package's API.

// CallVM calls fn with args through the VM of c, a call of this binding,
// as the host calls a callback, and returns what the VM returns (an error
// when the function throws).
func CallVM(c script.Call, fn script.Callback, args ...script.Value) (script.Value, error) {
	return c.(*call).v.Call(fn, args...)
}
