package js_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/imscript/imscript/bindings/js"
)

// esGlobals are the ECMAScript globals goja has (TypeScript's lib
// es2022 declares them), and what goja adds of its own.
var esGlobals = map[string]bool{}

func init() {
	for _, n := range strings.Fields(`globalThis Object Function Array String Boolean Number BigInt Symbol
		Date RegExp Error EvalError RangeError ReferenceError SyntaxError TypeError URIError AggregateError
		JSON Math Reflect Proxy Promise Map Set WeakMap WeakSet WeakRef FinalizationRegistry
		ArrayBuffer SharedArrayBuffer DataView Int8Array Uint8Array Uint8ClampedArray Int16Array Uint16Array
		Int32Array Uint32Array Float32Array Float64Array BigInt64Array BigUint64Array Atomics
		NaN Infinity undefined eval isFinite isNaN parseFloat parseInt
		decodeURI decodeURIComponent encodeURI encodeURIComponent escape unescape GoError`) {
		esGlobals[n] = true
	}
}

// TestDeclarationsCoverGlobals: every global a script finds beside the
// ECMAScript ones (console, setTimeout, Buffer, ...) is declared in
// globals.d.ts, which `imscript types` puts in imscript.d.ts.
func TestDeclarationsCoverGlobals(t *testing.T) {
	out, _ := run(t, 1, `console.log("GLOBALS " + Object.getOwnPropertyNames(globalThis).join(" ") + " END");`, " END", nil)
	s := out[strings.Index(out, "GLOBALS ")+len("GLOBALS "):]
	names := strings.Fields(s[:strings.Index(s, " END")])
	if len(names) < 20 {
		t.Fatalf("globals: %q", names)
	}
	for _, n := range names {
		if esGlobals[n] || n == "imscript" { // imscript: generated from the API description
			continue
		}
		decl := regexp.MustCompile(`(?m)^declare (var|function|class) ` + regexp.QuoteMeta(n) + `\b`)
		if !decl.MatchString(js.Declarations) {
			t.Errorf("global %s is not declared in globals.d.ts", n)
		}
	}
	for name, typ := range js.Builtins() {
		if !strings.Contains(js.Declarations, "interface "+typ+" {") {
			t.Errorf("require(%q)'s type %s is not declared", name, typ)
		}
	}
}
