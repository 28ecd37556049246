package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/imscript/imscript/internal/newproject"
)

const newUsage = `usage: imscript new NAME [--lang lua|js] [--template echo|http|ws|chat]

New makes the folder NAME (it must not exist, or be empty) with a working
server (server.lua or server.js), its test (server_test.lua or
server.test.js), a README and the editor types. Then:

    cd NAME && imscript run server.lua     # or server.js
    imscript test

templates:
%s
flags:
`

func newFlags(out io.Writer, lang, tpl *string) *flag.FlagSet {
	fs := flag.NewFlagSet("new", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(lang, "lang", "lua", "the language: lua or js")
	fs.StringVar(tpl, "template", "echo", "the server: "+strings.Join(newproject.TemplateNames(), ", "))
	return fs
}

func describeTemplates() string {
	var b strings.Builder
	for _, t := range newproject.Templates {
		fmt.Fprintf(&b, "  %-6s %s (port %d)\n", t.Name, t.Summary, t.Port)
	}
	return b.String()
}

func printNewUsage(w io.Writer) {
	var lang, tpl string
	fmt.Fprintf(w, newUsage, describeTemplates())
	newFlags(w, &lang, &tpl).PrintDefaults()
}

// newProject is `imscript new NAME [--lang lua|js] [--template NAME]`.
func newProject(args []string, stdout, stderr io.Writer) int {
	var lang, tpl string
	fs := newFlags(stderr, &lang, &tpl)
	fs.Usage = func() {}
	short := func() {
		fmt.Fprint(stderr, "usage: imscript new NAME [--lang lua|js] [--template echo|http|ws|chat]\nRun 'imscript help new' for details.\n")
	}
	pos, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		printNewUsage(stdout)
		return 0
	}
	if err != nil {
		short()
		return 2
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "imscript new: want one project name, got %d\n", len(pos))
		short()
		return 2
	}
	dir := pos[0]
	lang = strings.ToLower(lang)
	switch lang {
	case "lua", "js":
	case "javascript":
		lang = "js"
	default:
		fmt.Fprintf(stderr, "imscript new: --lang %q: want lua or js\n", lang)
		return 2
	}
	found := false
	for _, t := range newproject.Templates {
		found = found || t.Name == tpl
	}
	if !found {
		fmt.Fprintf(stderr, "imscript new: --template %q: want one of %s\n", tpl, strings.Join(newproject.TemplateNames(), ", "))
		return 2
	}
	if err := newproject.CheckName(dir); err != nil {
		fmt.Fprintln(stderr, "imscript new:", err)
		return 2
	}
	files, err := newproject.Create(newproject.Options{
		Dir: dir, Lang: lang, Template: tpl,
		Types: func(out string) ([]string, error) { return typesSpec().Write(out) },
	})
	if errors.Is(err, newproject.ErrNotEmpty) {
		fmt.Fprintf(stderr, "imscript new: %v: choose another name, or empty it first\n", err)
		return 1
	}
	if err != nil {
		fmt.Fprintln(stderr, "imscript new:", err)
		return 1
	}
	ext := ".lua"
	if lang == "js" {
		ext = ".js"
	}
	fmt.Fprintf(stdout, "created %s (%s template, %s):\n", dir, tpl, map[string]string{"lua": "Lua", "js": "JavaScript"}[lang])
	for _, f := range files {
		fmt.Fprintf(stdout, "  %s\n", filepath.Join(dir, filepath.FromSlash(f)))
	}
	fmt.Fprintf(stdout, "\nnext:\n  cd %s\n  imscript run server%s\n  imscript test\n", dir, ext)
	return 0
}
