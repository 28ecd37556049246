package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTypesSpec: every function, method, property and event of the host,
// the standard modules and the bindings is described, and the
// descriptions parse (apitypes.Spec.Check), so `imscript types` cannot
// drift from the code.
func TestTypesSpec(t *testing.T) {
	if err := typesSpec().Check(); err != nil {
		t.Fatal(err)
	}
}

func TestTypesCommand(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	if code := run([]string{"types", "--out", dir}, &out, &errOut); code != 0 {
		t.Fatalf("imscript types: exit %d, stderr %q", code, errOut.String())
	}
	for _, name := range []string{"imscript.d.ts", "imscript.lua", ".luacheckrc"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || len(b) == 0 {
			t.Errorf("%s: %v (%d bytes)", name, err, len(b))
		}
		if !strings.Contains(out.String(), filepath.Join(dir, name)) {
			t.Errorf("stdout %q does not name %s", out.String(), name)
		}
	}
	if code := run([]string{"types", "extra"}, &out, &errOut); code != 2 {
		t.Errorf("imscript types extra: exit %d, want 2", code)
	}
}
