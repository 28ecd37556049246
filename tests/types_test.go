package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The editor types `imscript types` writes, checked the way an editor
// checks a script: tsc over every JavaScript example with imscript.d.ts,
// luacheck over every Lua example with the .luacheckrc; and a misspelled
// method or module member in a copy of an example is caught.

// tool finds a checker: on PATH, or at the path local (relative to the
// repository). When it is missing the test skips, naming the package
// that has it, except in CI (CI=true), where it fails.
func tool(t *testing.T, name, local, pkg string) string {
	t.Helper()
	if local != "" {
		if p := filepath.Join(repoRoot, local); fileExists(p) {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found: install %s (.ci/run does)", name, pkg)
	}
	t.Skipf("%s not found: install %s to run this test", name, pkg)
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// generateTypes runs `imscript types --out DIR` and returns DIR.
func generateTypes(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	out, errOut, code := imscript(t, repoRoot, "types", "--out", dir)
	if code != 0 {
		t.Fatalf("imscript types: exit %d, stderr %q", code, errOut)
	}
	for _, f := range []string{"imscript.d.ts", "imscript.lua", ".luacheckrc"} {
		p := filepath.Join(dir, f)
		if !fileExists(p) || !strings.Contains(out, p) {
			t.Fatalf("imscript types did not write %s (stdout %q)", p, out)
		}
	}
	return dir
}

// run runs a checker and returns its exit code and output.
func run(t *testing.T, dir, bin string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("%s: %v", bin, err)
		}
	}
	return cmd.ProcessState.ExitCode(), string(out)
}

// misspell copies the example src into dir with old replaced by new.
func misspell(t *testing.T, dir, src, old, new string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, src))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s has no %q", src, old)
	}
	sub, err := os.MkdirTemp(dir, "misspelled")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(sub, filepath.Base(src))
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTypesTypeScript(t *testing.T) {
	t.Parallel()
	tsc := tool(t, "tsc", "tests/types/node_modules/.bin/tsc", "typescript (npm ci --prefix tests/types)")
	if _, err := exec.LookPath("node"); err != nil {
		tool(t, "node", "", "nodejs")
	}
	dir := generateTypes(t)
	dts := filepath.Join(dir, "imscript.d.ts")
	flags := []string{"--noEmit", "--allowJs", "--checkJs", "--lib", "es2022", "--target", "es2022", "--moduleDetection", "force", "--pretty", "false"}

	examples, _ := filepath.Glob(filepath.Join(repoRoot, "scripts", "js", "*.js"))
	if len(examples) < 8 {
		t.Fatalf("found only %d JavaScript examples", len(examples))
	}
	examples = append(examples, filepath.Join(repoRoot, "tests", "testdata", "js", "types_node.js"))
	code, out := run(t, repoRoot, tsc, append(append(flags, dts), examples...)...)
	if code != 0 {
		t.Fatalf("tsc over scripts/js with imscript.d.ts: exit %d\n%s", code, out)
	}

	for _, c := range []struct{ src, old, new, want string }{
		{"scripts/js/echo.js", "srv.send(", "srv.sned(", "Property 'sned' does not exist on type 'Server'"},
		{"scripts/js/timer.js", "imscript.tick(", "imscript.tcik(", "Property 'tcik' does not exist on type 'Imscript'"},
		{"scripts/js/chat.js", `type: "websocket",`, `type: "websocket", worker_nm: 2,`, "'worker_nm' does not exist in type 'ServerSettings'"},
		{"scripts/js/echo.js", `srv.on("receive"`, `srv.on("recieve"`, "No overload matches this call"},
		{"tests/testdata/js/types_node.js", "bus.emit(", "bus.emitt(", "Property 'emitt' does not exist on type 'NodeEventEmitter'"},
		{"tests/testdata/js/types_node.js", "await res.json()", "await res.jsno()", "Property 'jsno' does not exist on type 'Response'"},
	} {
		bad := misspell(t, dir, c.src, c.old, c.new)
		code, out := run(t, repoRoot, tsc, append(flags, dts, bad)...)
		if code == 0 || !strings.Contains(out, c.want) {
			t.Errorf("tsc over %s (%s for %s): exit %d, want an error %q:\n%s", c.src, c.new, c.old, code, c.want, out)
		}
	}
}

func TestTypesLuacheck(t *testing.T) {
	t.Parallel()
	luacheck := tool(t, "luacheck", "", "lua-check (apt-get install lua-check)")
	dir := generateTypes(t)
	rc := filepath.Join(dir, ".luacheckrc")

	examples, _ := filepath.Glob(filepath.Join(repoRoot, "scripts", "lua", "*.lua"))
	if len(examples) < 8 {
		t.Fatalf("found only %d Lua examples", len(examples))
	}
	code, out := run(t, repoRoot, luacheck, append([]string{"--no-color", "--config", rc}, examples...)...)
	if code != 0 {
		t.Fatalf("luacheck over scripts/lua with the generated .luacheckrc: exit %d\n%s", code, out)
	}

	for _, c := range []struct{ src, old, new, want string }{
		{"scripts/lua/timer.lua", "imscript.tick(", "imscript.tcik(", "accessing undefined field 'tcik' of global 'imscript'"},
		{"scripts/lua/chat.lua", "imscript.sql.open(", "imscript.sql.opne(", "accessing undefined field 'sql.opne' of global 'imscript'"},
	} {
		bad := misspell(t, dir, c.src, c.old, c.new)
		code, out := run(t, repoRoot, luacheck, "--no-color", "--config", rc, bad)
		if code == 0 || !strings.Contains(out, c.want) {
			t.Errorf("luacheck over %s (%s for %s): exit %d, want %q:\n%s", c.src, c.new, c.old, code, c.want, out)
		}
	}
}
