package imscript_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The rooms of the house and what each may import (docs/ARCHITECTURE.md):
// the engine (host) is imported only by the façade (this package), the
// command (cmd/) and the end-to-end tests (tests/); bindings, modules and
// everything else are written against the contract, package script, which
// imports nothing of this module. The compiler keeps a package from
// importing another's internal/ folder; this test keeps the rest.

const module = "github.com/imscript/imscript"

// mayImportHost says whether the package in dir (slash-separated, relative
// to the module root; "." is the façade) may import the engine.
func mayImportHost(dir string) bool {
	return dir == "." || dir == "host" || strings.HasPrefix(dir, "host/") ||
		dir == "cmd" || strings.HasPrefix(dir, "cmd/") ||
		dir == "tests" || strings.HasPrefix(dir, "tests/")
}

// importRule returns why the file in dir may not import imp ("" when it
// may).
func importRule(dir, imp string, test bool) string {
	rel, ok := strings.CutPrefix(imp, module+"/")
	if imp == module {
		rel, ok = ".", true
	}
	if !ok {
		return ""
	}
	if (rel == "host" || strings.HasPrefix(rel, "host/")) && !mayImportHost(dir) {
		return "only the façade, cmd/ and tests/ import the engine (host): write against package script"
	}
	if dir == "script" && !test {
		return "the contract (script) imports nothing of the module"
	}
	return ""
}

// moduleImports lists, for every Go file of the module (tests included,
// testdata and node_modules left out), the module's packages it imports.
func moduleImports(t *testing.T, root string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "testdata", "node_modules", ".git":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		for _, is := range f.Imports {
			imp, _ := strconv.Unquote(is.Path.Value)
			if imp == module || strings.HasPrefix(imp, module+"/") {
				out[filepath.ToSlash(rel)] = append(out[filepath.ToSlash(rel)], imp)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestImportRule(t *testing.T) {
	root, err := os.Getwd() // the module root: this test's package
	if err != nil {
		t.Fatal(err)
	}
	files := moduleImports(t, root)
	if len(files) < 20 {
		t.Fatalf("read the imports of only %d files: is %s the module root?", len(files), root)
	}
	var bad []string
	for file, imps := range files {
		dir := path.Dir(file)
		for _, imp := range imps {
			if why := importRule(dir, imp, strings.HasSuffix(file, "_test.go")); why != "" {
				bad = append(bad, file+" imports "+imp+": "+why)
			}
		}
	}
	sort.Strings(bad)
	for _, b := range bad {
		t.Error(b)
	}
}

// TestImportRuleCatches: the rule refuses what it is for (so that the test
// above cannot pass by reading nothing).
func TestImportRuleCatches(t *testing.T) {
	for _, tc := range []struct {
		dir, imp string
		refused  bool
	}{
		{"stdlib/json", module + "/host", true},
		{"bindings/lua", module + "/host", true},
		{"script/scripttest", module + "/host", true},
		{"broker/memory", module + "/host", true},
		{"broker/nats", module + "/host", true},
		{"internal/testutil", module + "/host", true},
		{"script", module + "/stdlib", true},
		{".", module + "/host", false},
		{"cmd/imscript", module + "/host", false},
		{"tests", module + "/host", false},
		{"host", module + "/host/internal/wire/httpwire", false},
		{"host", module + "/host/internal/admin", false},
		{"stdlib/metrics", module + "/host/internal/admin", true},
		{"stdlib/json", module + "/script", false},
		{"script/scripttest", module, false},
	} {
		if got := importRule(tc.dir, tc.imp, false) != ""; got != tc.refused {
			t.Errorf("%s importing %s: refused %v, want %v", tc.dir, tc.imp, got, tc.refused)
		}
	}
}
