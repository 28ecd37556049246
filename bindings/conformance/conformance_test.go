package conformance

import (
	"fmt"
	"strings"
	"testing"
)

var languages = []struct {
	name, ext, prelude string
}{
	{"lua", ".lua", luaPrelude},
	{"js", ".js", jsPrelude},
}

// TestConformance runs every case in both languages.
func TestConformance(t *testing.T) {
	for _, tc := range cases {
		for _, lang := range languages {
			t.Run(lang.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				runCase(t, tc, lang.name, lang.ext, lang.prelude)
			})
		}
	}
}

func runCase(t *testing.T, tc tcase, lang, ext, prelude string) {
	snippet, files, want := tc.lua, tc.luaFiles, tc.want
	if lang == "js" {
		snippet, files = tc.js, tc.jsFiles
	}
	switch {
	case lang == "lua" && tc.wantLua != "":
		want = tc.wantLua
	case lang == "js" && tc.wantJS != "":
		want = tc.wantJS
	}
	src := prelude + snippet + "\n"
	opts := runOpts{files: files, env: tc.env, args: tc.args, client: tc.client}
	if tc.wantRunErr == nil {
		opts.until = "done\n"
	}
	o := runScript(t, ext, src, opts)
	dump := func() string {
		return fmt.Sprintf("\n--- stdout:\n%s--- stderr:\n%s--- log:\n%s", o.stdout, o.stderr, o.log)
	}
	where := ""
	if tc.errLine != "" {
		where = fmt.Sprintf("case%s:%d", ext, lineOf(t, src, tc.errLine))
	}
	if tc.wantRunErr != nil {
		if o.runErr == nil {
			t.Fatalf("the script loaded; want a load error%s", dump())
		}
		for _, s := range append(tc.wantRunErr, where) {
			if !strings.Contains(o.runErr.Error(), s) {
				t.Errorf("load error does not mention %q:\n%v", s, o.runErr)
			}
		}
	} else if o.runErr != nil {
		t.Fatalf("Run: %v%s", o.runErr, dump())
	}
	if o.stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s%s", o.stdout, want, dump())
	}
	if lang == "js" && o.stderr != tc.wantStderrJS {
		t.Errorf("stderr: %q, want %q", o.stderr, tc.wantStderrJS)
	}
	wantLog := tc.wantLog
	if where != "" && tc.wantRunErr == nil {
		wantLog = append(wantLog, where)
	}
	for _, s := range wantLog {
		if !strings.Contains(o.log, s) {
			t.Errorf("the log does not hold %q%s", s, dump())
		}
	}
}

// lineOf is the 1-based line of the first line of src holding marker.
func lineOf(t *testing.T, src, marker string) int {
	for i, l := range strings.Split(src, "\n") {
		if strings.Contains(l, marker) {
			return i + 1
		}
	}
	t.Fatalf("marker %q not in the script", marker)
	return 0
}
