package js_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/imscript/imscript"
	"github.com/imscript/imscript/bindings/js"
	"github.com/imscript/imscript/script"
	"github.com/imscript/imscript/script/scripttest"
)

// TestModuleReload: with the host watching, saving a module that an ES
// module main script imports, or a file of a package it imports, reloads
// the script on both workers with the new source read; a syntax error in
// an imported module keeps the old version, its file:line logged.
func TestModuleReload(t *testing.T) {
	main := `import { word } from "./lib/word.mjs";
import pkg from "greeter";
const srv = imscript.server({ host: "127.0.0.1", port: 0, type: "http", worker_num: 2 });
srv.route("GET", "/", (req, res) => res.send(word + " " + pkg.greet() + " " + imscript.worker_id));
`
	h := scripttest.Start(t, scripttest.Options{
		Name: "main.mjs", Src: main, Workers: 2, Languages: []script.Language{js.New()},
		Files: map[string]string{
			"lib/word.mjs":                      `export const word = "one";`,
			"node_modules/greeter/package.json": `{"name": "greeter", "exports": {".": {"node": "./index.cjs"}}}`,
			"node_modules/greeter/index.cjs":    `exports.greet = () => "hello";`,
		},
		Config: func(c *imscript.Config) { c.Watch = true },
	})
	url := fmt.Sprintf("http://127.0.0.1:%d/", h.Port(0))
	clients := []*http.Client{{Transport: &http.Transport{}}, {Transport: &http.Transport{}}}
	get := func(i int) string {
		resp, err := clients[i%2].Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	// await polls until both workers answer with prefix want.
	await := func(want string) {
		t.Helper()
		workers := map[string]bool{}
		deadline := time.Now().Add(scripttest.WaitLimit)
		for i := 0; len(workers) < 2; i++ {
			got := get(i)
			if w, ok := strings.CutPrefix(got, want+" "); ok {
				workers[w] = true
			} else {
				workers = map[string]bool{}
			}
			if time.Now().After(deadline) {
				t.Fatalf("no answer %q from both workers within %v; last %q", want, scripttest.WaitLimit, got)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	await("one hello")
	h.Write("lib/word.mjs", `export const word = "two";`)
	await("two hello")
	h.Write("node_modules/greeter/index.cjs", `exports.greet = () => "bonjour";`)
	await("two bonjour")
	n := h.H.ReloadCount()
	h.Write("lib/word.mjs", "export const word = = 3;\n")
	h.WaitLog("word.mjs:1:21: syntax error")
	if got := get(0); !strings.HasPrefix(got, "two bonjour ") || h.H.ReloadCount() != n {
		t.Fatalf("after a bad save: %q, reloads %d (was %d)", got, h.H.ReloadCount(), n)
	}
	h.Write("lib/word.mjs", `export const word = "three";`)
	await("three bonjour")
}
