package newproject

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCreateEveryTemplate(t *testing.T) {
	for _, tpl := range Templates {
		for _, lang := range Langs {
			dir := filepath.Join(t.TempDir(), "p")
			files, err := Create(Options{Dir: dir, Lang: lang, Template: tpl.Name})
			if err != nil {
				t.Fatalf("%s/%s: %v", tpl.Name, lang, err)
			}
			test := "server_test.lua"
			if lang == "js" {
				test = "server.test.js"
			}
			for _, want := range []string{"server." + lang, test, "README.md"} {
				if !strings.Contains(strings.Join(files, " "), want) {
					t.Errorf("%s/%s: files %v lack %s", tpl.Name, lang, files, want)
				}
			}
			readme, _ := os.ReadFile(filepath.Join(dir, "README.md"))
			if !strings.Contains(string(readme), "imscript run server."+lang) || !strings.Contains(string(readme), test) {
				t.Errorf("%s/%s README:\n%s", tpl.Name, lang, readme)
			}
		}
	}
}

func TestCreateRefuses(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(Options{Dir: dir, Lang: "lua", Template: "echo"}); !errors.Is(err, ErrNotEmpty) {
		t.Errorf("a folder with a file: %v, want ErrNotEmpty", err)
	}
	for _, o := range []Options{
		{Dir: filepath.Join(dir, "a"), Lang: "py", Template: "echo"},
		{Dir: filepath.Join(dir, "b"), Lang: "lua", Template: "blog"},
		{Dir: filepath.Join(dir, "-c"), Lang: "lua", Template: "echo"},
	} {
		if _, err := Create(o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
	for _, bad := range []string{"", "a b", ".hidden", "-x", "x.", "é"} {
		if CheckName(bad) == nil {
			t.Errorf("CheckName(%q) accepted it", bad)
		}
	}
	for _, good := range []string{"hello", "my-app", "v1.2_x"} {
		if err := CheckName(good); err != nil {
			t.Errorf("CheckName(%q): %v", good, err)
		}
	}
}
