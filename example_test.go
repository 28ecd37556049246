package imscript_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/imscript/imscript/script"

	"github.com/imscript/imscript"
)

// greeter is a module written in Go. Every script VM gets its own copy:
// imscript.greeter in both languages, also require("greeter").
func greeter(inst script.Instance) script.Value {
	return script.Map{
		// hello(name) returns a greeting. c.Str raises a usage error that
		// names the argument when the script passes something else.
		"hello": script.Function(func(c script.Call) {
			c.ReturnStr("Hello, " + c.Str(0, "name") + "!")
		}),
	}
}

// A Go program embeds imscript, adds its own module and runs a Lua and a
// JavaScript script that call it.
func Example_embedding() {
	dir, err := os.MkdirTemp("", "imscript-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	scripts := []struct{ name, src string }{
		{"hello.lua", `
print(imscript.greeter.hello("Lua"))
local greeter = require("greeter")
print(greeter.hello("Lua, via require"))
`},
		{"hello.js", `
const greeter = require("greeter");
console.log(greeter.hello("JavaScript"));
console.log(imscript.greeter.hello("JavaScript, via imscript"));
`},
	}
	for _, s := range scripts {
		path := filepath.Join(dir, s.name)
		if err := os.WriteFile(path, []byte(s.src), 0o644); err != nil {
			panic(err)
		}
		var out bytes.Buffer
		h, err := imscript.New(imscript.Config{
			Script:  path,
			Workers: 1,
			Stdout:  &out, // what the script prints
			Logger:  slog.New(slog.DiscardHandler),
		})
		if err != nil {
			panic(err)
		}
		h.RegisterModule("greeter", greeter)

		// Run serves until ctx ends. The script's main chunk has run once
		// Started is closed; this one declares no server, so stop there.
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- h.Run(ctx) }()
		select {
		case <-h.Started():
		case err := <-done:
			panic(err)
		}
		cancel()
		if err := <-done; err != nil {
			panic(err)
		}
		fmt.Printf("%s printed:\n%s", s.name, out.String())
	}
	// Output:
	// hello.lua printed:
	// Hello, Lua!
	// Hello, Lua, via require!
	// hello.js printed:
	// Hello, JavaScript!
	// Hello, JavaScript, via imscript!
}
