// Package newproject is `imscript new`: a project folder made from a
// template embedded in the binary (a server script, its test, a README and
// editor settings), in Lua or JavaScript.
package newproject

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"text/template"
)

//go:embed all:templates
var templates embed.FS

// Langs are the languages a project can be written in.
var Langs = []string{"lua", "js"}

// Template describes one project template.
type Template struct {
	Name    string
	Summary string // what the server is, for the README's first line
	Port    int    // the default port (PORT overrides it)
	Try     string // how to try it by hand: a command, with PORT for the port
}

// Templates are the project templates, the default first.
var Templates = []Template{
	{Name: "echo", Summary: "A TCP echo server: every line a client sends comes back to it", Port: 9501, Try: "nc 127.0.0.1 PORT"},
	{Name: "http", Summary: "An HTTP server with a few routes (text, JSON in and out)", Port: 8080, Try: "curl http://127.0.0.1:PORT/hello/you"},
	{Name: "ws", Summary: "A WebSocket echo server", Port: 9502, Try: "websocat ws://127.0.0.1:PORT/ (or any WebSocket client)"},
	{Name: "chat", Summary: "A chat: a page in public/ and a WebSocket room every browser tab joins", Port: 8080, Try: "open http://127.0.0.1:PORT/ in two browser tabs"},
}

// TemplateNames lists the templates' names.
func TemplateNames() []string {
	var out []string
	for _, t := range Templates {
		out = append(out, t.Name)
	}
	return out
}

func lookup(name string) (Template, bool) {
	for _, t := range Templates {
		if t.Name == name {
			return t, true
		}
	}
	return Template{}, false
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// CheckName refuses a project name that is not a plain folder name.
func CheckName(name string) error {
	base := filepath.Base(name)
	if !nameRE.MatchString(base) || strings.HasSuffix(base, ".") {
		return fmt.Errorf("%q is not a project name: use letters, digits, '.', '_' and '-', starting with a letter or digit", base)
	}
	return nil
}

// ErrNotEmpty is Create's error for a folder that has files already.
var ErrNotEmpty = errors.New("exists and is not empty")

// Options say what Create makes.
type Options struct {
	Dir      string // the project folder (made if missing; must be empty)
	Lang     string // "lua" or "js"
	Template string // a Templates name
	// Types writes the editor types of the language into a folder and
	// returns the paths it wrote (`imscript types`).
	Types func(dir string) ([]string, error)
}

// Create makes the project and returns the files it wrote, relative to
// the project folder, sorted.
func Create(o Options) ([]string, error) {
	tpl, ok := lookup(o.Template)
	if !ok {
		return nil, fmt.Errorf("no template %q (there are %s)", o.Template, strings.Join(TemplateNames(), ", "))
	}
	if o.Lang != "lua" && o.Lang != "js" {
		return nil, fmt.Errorf("no language %q (there are lua and js)", o.Lang)
	}
	if err := CheckName(o.Dir); err != nil {
		return nil, err
	}
	if entries, err := os.ReadDir(o.Dir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("%s %w", o.Dir, ErrNotEmpty)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, err
	}
	var wrote []string
	write := func(rel string, data []byte) error {
		p := filepath.Join(o.Dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
		wrote = append(wrote, rel)
		return nil
	}
	// The template's files: its language's, then those both share.
	for _, sub := range []string{o.Lang, "common"} {
		root := path.Join("templates", tpl.Name, sub)
		err := fs.WalkDir(templates, root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := templates.ReadFile(p)
			if err != nil {
				return err
			}
			return write(strings.TrimPrefix(p, root+"/"), data)
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("template %s: %w", tpl.Name, err)
		}
	}
	if err := writeEditorFiles(o, write); err != nil {
		return nil, err
	}
	readme, err := renderReadme(tpl, filepath.Base(o.Dir), o.Lang, wrote)
	if err != nil {
		return nil, err
	}
	if err := write("README.md", readme); err != nil {
		return nil, err
	}
	sort.Strings(wrote)
	return wrote, nil
}

// writeEditorFiles writes the language's editor types into types/ and
// the settings that point editors and checkers at them.
func writeEditorFiles(o Options, write func(string, []byte) error) error {
	if o.Types == nil {
		return nil
	}
	tmp, err := os.MkdirTemp("", "imscript-types-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if _, err := o.Types(tmp); err != nil {
		return fmt.Errorf("editor types: %w", err)
	}
	read := func(name string) ([]byte, error) { return os.ReadFile(filepath.Join(tmp, name)) }
	if o.Lang == "js" {
		dts, err := read("imscript.d.ts")
		if err != nil {
			return err
		}
		if err := write("types/imscript.d.ts", dts); err != nil {
			return err
		}
		return write("jsconfig.json", []byte(jsconfig))
	}
	meta, err := read("imscript.lua")
	if err != nil {
		return err
	}
	if err := write("types/imscript.lua", meta); err != nil {
		return err
	}
	rc, err := read(".luacheckrc")
	if err != nil {
		return err
	}
	rc = append(rc, []byte("-- types/ holds LuaLS annotations, not code to check.\nexclude_files = { \"types/\" }\n")...)
	if err := write(".luacheckrc", rc); err != nil {
		return err
	}
	return write(".luarc.json", []byte(luarc))
}

const jsconfig = `{
  "compilerOptions": {
    "checkJs": true,
    "target": "es2022",
    "lib": ["es2022"],
    "moduleDetection": "force",
    "noEmit": true
  },
  "include": ["types/imscript.d.ts", "*.js", "test/*.js"]
}
`

const luarc = `{
  "$schema": "https://raw.githubusercontent.com/LuaLS/vscode-lua/master/setting/schema.json",
  "runtime.version": "Lua 5.1",
  "workspace.library": ["types"]
}
`

var readmeTmpl = template.Must(template.New("README.md").Parse(`# {{.Name}}

{{.Summary}}, in {{.LangName}}, run by [imscript](https://github.com/imscript/imscript).

## Run it

    imscript run {{.Server}}

It listens on 127.0.0.1:{{.Port}} (another port: ` + "`PORT=9000 imscript run {{.Server}}`" + `).
Try it: ` + "`{{.Try}}`" + `. Saving {{.Server}} while it runs reloads it.

## Test it

    imscript test

starts {{.Server}} on a free port (the tests read it as imscript.env.PORT),
runs every test in {{.Test}} and prints a PASS or FAIL line per test; a
failure names the assertion's file and line, and the command exits 1.
A test is ` + "`imscript.test.it(name, fn)`" + `; inside it, ` + "`t.equal(actual, expected)`" + `,
` + "`t.ok(value)`" + `, ` + "`t.contains(text, part)`" + ` or any error fails it, and
` + "`t.inbox()`" + ` collects what event handlers get so the test can wait for it
({{.Wait}}).

## Files

{{range .Files}}- ` + "`{{.Path}}`" + `{{if .Doc}}: {{.Doc}}{{end}}
{{end}}
{{.EditorNote}}
`))

type readmeFile struct{ Path, Doc string }

func renderReadme(tpl Template, name, lang string, files []string) ([]byte, error) {
	ext, langName, test := ".lua", "Lua", "server_test.lua"
	wait := "`inbox:take()` suspends the test until a value arrives"
	note := "Editors: `.luarc.json` points the Lua language server (LuaLS) at `types/imscript.lua`;\n" +
		"`luacheck .` reads `.luacheckrc`. After upgrading imscript, `imscript types --out types`\n" +
		"refreshes them (copy the `.luacheckrc` it writes there over this one, keeping `exclude_files`)."
	if lang == "js" {
		ext, langName, test = ".js", "JavaScript", "server.test.js"
		wait = "`await inbox.take()`"
		note = "Editors: `jsconfig.json` gives VS Code (and `npx tsc -p jsconfig.json`) the types in\n" +
			"`types/imscript.d.ts`. After upgrading imscript, refresh them with `imscript types --out types`\n" +
			"(and delete the two it writes for Lua)."
	}
	docs := map[string]string{
		"server" + ext:        "the server",
		test:                  "its tests (`imscript test`)",
		"public/index.html":   "the chat page, served by the server (document_root)",
		"types/imscript.d.ts": "the API's TypeScript declarations (`imscript types`)",
		"types/imscript.lua":  "the API's LuaLS annotations (`imscript types`)",
		"jsconfig.json":       "editor settings for JavaScript",
		".luarc.json":         "editor settings for the Lua language server",
		".luacheckrc":         "luacheck's globals",
	}
	var fl []readmeFile
	for _, f := range append([]string{"README.md"}, files...) {
		d := docs[f]
		if f == "README.md" {
			d = "this page"
		}
		fl = append(fl, readmeFile{Path: f, Doc: d})
	}
	sort.Slice(fl[1:], func(i, j int) bool { return fl[1+i].Path < fl[1+j].Path })
	var b bytes.Buffer
	err := readmeTmpl.Execute(&b, map[string]any{
		"Name": name, "Summary": tpl.Summary, "LangName": langName, "Server": "server" + ext,
		"Test": test, "Port": tpl.Port, "Try": strings.ReplaceAll(tpl.Try, "PORT", fmt.Sprint(tpl.Port)),
		"Wait": wait, "Files": fl, "EditorNote": note,
	})
	return b.Bytes(), err
}
