package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/imscript/imscript"
	"github.com/imscript/imscript/bindings/js"
	"github.com/imscript/imscript/bindings/lua"
	"github.com/imscript/imscript/host"
	"github.com/imscript/imscript/internal/apitypes"
	"github.com/imscript/imscript/internal/testrun"
	"github.com/imscript/imscript/stdlib"
)

// typesSpec is what `imscript types` describes: the imscript module, the
// standard modules and what each binding adds.
func typesSpec() apitypes.Spec {
	return apitypes.Spec{
		Version:    imscript.Version,
		Core:       host.API(),
		Modules:    append(stdlib.Modules(), testrun.Module()),
		JSGlobals:  js.Declarations,
		JSBuiltins: js.Builtins(),
		LuaLS:      lua.Annotations,
		LuaStd:     lua.Std,
	}
}

// types is `imscript types [--out DIR]`: the editor types, generated from
// the API description.
func types(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("types", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", ".", "write the files into `DIR`")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "imscript types: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	paths, err := typesSpec().Write(*out)
	if err != nil {
		fmt.Fprintf(stderr, "imscript types: %v\n", err)
		return 1
	}
	for _, p := range paths {
		fmt.Fprintln(stdout, p)
	}
	return 0
}
