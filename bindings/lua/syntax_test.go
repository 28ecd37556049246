package lua

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSyntaxCheckerAcceptsValidScripts: the syntax checker reads every
// Lua file of the project (examples, test helpers) without an error, so it
// does not stray from gopher-lua's grammar on valid code.
func TestSyntaxCheckerAcceptsValidScripts(t *testing.T) {
	var files []string
	for _, g := range []string{"../../scripts/lua/*.lua", "../../tests/testdata/lua/*.lua", "../../scripts/web/*/*.lua"} {
		m, _ := filepath.Glob(g)
		files = append(files, m...)
	}
	if len(files) < 10 {
		t.Fatalf("found only %d Lua files", len(files))
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if e := checkSyntax(string(src), f); e != nil {
			t.Errorf("%s:%d: the checker refuses valid code: %s", f, e.line, e.msg)
		}
	}
}

// TestSyntaxErrorMessages: Compile's message for common mistakes, word
// for word: the line named is where something is missing (the last good
// token's), and what was expected.
func TestSyntaxErrorMessages(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ src, want string }{
		{"local x = 1\nif x == 1\n  print(x)\nend\n",
			"bad.lua:2: syntax error: expected 'then' after '1' (found 'print' on line 3)"},
		{"for i = 1, 3\n  print(i)\nend\n",
			"bad.lua:1: syntax error: expected 'do' after '3' (found 'print' on line 2)"},
		{"local function f(x)\n  return x +\nend\n",
			"bad.lua:2: syntax error: expected an expression after '+' (found 'end' on line 3)"},
		{"local t = {\n  a = 1\n  b = 2,\n}\n",
			"bad.lua:2: syntax error: expected ',' or '}' (to close '{' at line 1) after '1' (found 'b' on line 3)"},
		{"local z = = 3\n",
			"bad.lua:1: syntax error: expected an expression near '='"},
		{"if x then end end\n",
			"bad.lua:1: syntax error: 'end' without a block to close (one 'end' too many?)"},
		{"local function f()\n  print(1)\n",
			"bad.lua:1: syntax error: 'function' is never closed: expected 'end' before the end of the file"},
		{"local function f()\n  return 1\n  print(2)\nend\n",
			"bad.lua:2: syntax error: expected 'end' (to close 'function' at line 1) after '1' (found 'print' on line 3) ('return' must be the last statement of its block)"},
		{"local function f()\n  if x then\n    print(1)\nend\n",
			"bad.lua:1: syntax error: 'function' is never closed: expected 'end' before the end of the file (is an 'end' missing before line 4? The 'end' there closes the 'if' at line 2 but is indented less)"},
		{"srv:on(\"receive\", function(srv, fd, data)\n  for i = 1, 3 do\n    if i == 2 then\n      print(i)\n  end\nend)\n",
			"bad.lua:6: syntax error: expected 'end' (to close 'function' at line 1) near ')' (is an 'end' missing before line 5? The 'end' there closes the 'if' at line 3 but is indented less)"},
		{"f(function() return 1)\n",
			"bad.lua:1: syntax error: expected 'end' near ')'"},
		{"local n = 0\nn += 1\n",
			"bad.lua:2: syntax error: Lua has no '+=': write x = x + y"},
		{"if a != b then end\n",
			"bad.lua:1: syntax error: invalid token near '!' (Lua writes ~= for 'not equal' and 'not' for negation)"},
		{"for i = 1, 3 do\n  continue\nend\n",
			"bad.lua:2: syntax error: Lua has no 'continue': jump to a label at the loop's end (goto continue ... ::continue::)"},
		{"local a = [1, 2]\n",
			"bad.lua:1: syntax error: expected an expression near '[' (Lua writes a list as {1, 2})"},
		{"local s = \"abc\nprint(s)\n",
			"bad.lua:1: syntax error: unterminated string near 'abc'"},
	} {
		path := filepath.Join(dir, "bad.lua")
		if err := os.WriteFile(path, []byte(c.src), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := New().Compile(path)
		if err == nil {
			t.Errorf("%q compiled", c.src)
			continue
		}
		if got := filepath.Base(err.Error()); got != c.want {
			t.Errorf("%q:\n got %s\nwant %s", c.src, got, c.want)
		}
	}
}
