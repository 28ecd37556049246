package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Errors a newcomer can act on, and a command that behaves like Go's
// tools, checked through the built binary.

// TestLuaSyntaxErrorNamesLineAndExpected: check and run name the line where
// 'then' is missing (not the next one, where the parser noticed) and what
// was expected, word for word.
func TestLuaSyntaxErrorNamesLineAndExpected(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src := "local x = 1\nif x == 1\n  print(x)\nend\n"
	if err := os.WriteFile(filepath.Join(dir, "bad.lua"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	const want = "bad.lua:2: syntax error: expected 'then' after '1' (found 'print' on line 3)\n"
	out, errOut, code := imscript(t, dir, "check", "bad.lua")
	if code != 1 || out != "" || errOut != want {
		t.Errorf("imscript check bad.lua: exit %d, stdout %q, stderr %q; want exit 1, stderr %q", code, out, errOut, want)
	}
	_, errOut, code = imscript(t, dir, "run", "--no-watch", "bad.lua")
	if code != 1 || !strings.Contains(errOut, "imscript run: "+want) {
		t.Errorf("imscript run bad.lua: exit %d, stderr %q; want exit 1 and %q", code, errOut, want)
	}
}

// stackAfter returns the indented lines that follow the first log line
// containing every sub (the stack a text log prints after its record),
// and that line.
func stackAfter(log string, subs ...string) (record string, stack []string) {
	lines := strings.Split(log, "\n")
	for i, l := range lines {
		if lineWith(l, subs...) == "" {
			continue
		}
		for _, s := range lines[i+1:] {
			if !strings.HasPrefix(s, "    ") {
				break
			}
			stack = append(stack, s)
		}
		return l, stack
	}
	return "", nil
}

// TestHandlerErrorStack: a receive handler that fails in a helper is
// logged with its message on the record's line and its stack on the
// following indented lines, the handler's frame named "receive handler";
// JS stacks hold script frames only (no Go functions, no native frames).
func TestHandlerErrorStack(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		script := testScript(lang, "stack")
		broken := testScript(lang, "stack_broken")
		line := func(marker string) int { return markerLine(t, script, "LINE:"+marker) }
		s := start(t, script, runOpts{})
		c := dial(t, s.addr())
		write(t, c, []byte("index\n"))
		if r := ask(t, c, "after\n"); r != "ok after\n" {
			t.Fatalf("after the error: %q, want \"ok after\\n\"", r)
		}
		f := "stack." + lang
		var wantErr string
		var want []string
		if lang == "lua" {
			wantErr = fmt.Sprintf(`err="%s:%d: attempt to index a non-table object(nil) with key 'field'" handler=receive`, f, line("index"))
			want = []string{
				"    stack traceback:",
				fmt.Sprintf("      %s:%d: in function 'helper'", f, line("index")),
				fmt.Sprintf("      %s:%d: in receive handler (%s:%d)", f, line("call"), f, line("handler")),
			}
		} else {
			wantErr = fmt.Sprintf(`err="%s:%d:20: TypeError: Cannot read property 'field' of undefined" handler=receive`, f, line("index"))
			want = []string{
				fmt.Sprintf("      at helper (%s:%d:20)", f, line("index")),
				fmt.Sprintf("      at receive handler (%s:%d:11)", f, line("call")),
			}
		}
		waitFor(t, waitTimeout, "the handler error", func() bool {
			return strings.Contains(s.stderr.String(), wantErr)
		})
		record, stack := stackAfter(s.stderr.String(), `msg="handler error"`, wantErr)
		if !strings.Contains(record, "level=ERROR") || strings.Join(stack, "\n") != strings.Join(want, "\n") {
			t.Errorf("log:\n%s\n%s\nwant the record with %s and then:\n%s", record, strings.Join(stack, "\n"), wantErr, strings.Join(want, "\n"))
		}

		// The same after the handler waited (Lua: it suspended; JS: its
		// promise fails later).
		write(t, c, []byte("later\n"))
		if r := ask(t, c, "after later\n"); r != "ok after later\n" {
			t.Fatalf("after the later error: %q", r)
		}
		var wantLater string
		if lang == "lua" {
			wantLater = fmt.Sprintf(`    stack traceback:
      %s:%d: in function 'helper'
      %s:%d: in receive handler (%s:%d)
`, f, line("index"), f, line("later"), f, line("handler"))
		} else {
			wantLater = fmt.Sprintf(`err="TypeError: Cannot read property 'field' of undefined" handler=receive
      at helper (%s:%d:20)
      at receive handler (%s:%d:`, f, line("index"), f, line("later"))
		}
		waitFor(t, waitTimeout, "the later error", func() bool {
			return strings.Contains(s.stderr.String(), wantLater)
		})

		// A module that fails as it loads: in JS the require between the
		// two script frames is a Go function, which the stack leaves out.
		write(t, c, []byte("require\n"))
		if r := ask(t, c, "after require\n"); r != "ok after require\n" {
			t.Fatalf("after the require error: %q", r)
		}
		b := "stack_broken." + lang
		var wantRe *regexp.Regexp
		if lang == "lua" {
			wantRe = regexp.MustCompile(regexp.QuoteMeta(fmt.Sprintf(`err="%s:%d: attempt to index a non-table object(nil) with key 'name'" handler=receive
    stack traceback:
      %s:%d: in main chunk
      [G]: in function 'require'
      %s:%d: in receive handler (%s:%d)
`, b, markerLine(t, broken, "LINE:broken"), b, markerLine(t, broken, "LINE:broken"), f, line("require"), f, line("handler"))))
		} else {
			wantRe = regexp.MustCompile(fmt.Sprintf(`err="%s:%d:\d+: TypeError: Cannot read property 'name' of undefined" handler=receive\n      at %s:%d:\d+\n      at receive handler \(%s:%d:\d+\)\n`,
				regexp.QuoteMeta(b), markerLine(t, broken, "LINE:broken"), regexp.QuoteMeta(b), markerLine(t, broken, "LINE:broken"), regexp.QuoteMeta(f), line("require")))
		}
		waitFor(t, waitTimeout, "the require error", func() bool {
			return wantRe.MatchString(s.stderr.String())
		})
		if lang == "js" {
			for _, l := range strings.Split(s.stderr.String(), "\n") {
				if strings.Contains(l, "github.com/") || strings.Contains(l, "native") {
					t.Errorf("a JS stack shows a Go or native frame: %q", l)
				}
			}
		}
	})
}

// TestJSONLogKeepsStackInField: with --log-format json the stack stays in
// the err field, one JSON object per line.
func TestJSONLogKeepsStackInField(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		s := start(t, testScript(lang, "stack"), runOpts{args: []string{"--log-format", "json"}})
		c := dial(t, s.addr())
		write(t, c, []byte("index\n"))
		ask(t, c, "after\n")
		var rec map[string]any
		waitFor(t, waitTimeout, "the handler error as JSON", func() bool {
			for _, l := range strings.Split(s.stderr.String(), "\n") {
				if strings.Contains(l, `"handler error"`) {
					return json.Unmarshal([]byte(l), &rec) == nil
				}
			}
			return false
		})
		err, _ := rec["err"].(string)
		if !strings.Contains(err, "\n") || !strings.Contains(err, "receive handler (stack."+lang+":") {
			t.Errorf("err field %q: want the message and its stack, the handler frame named", err)
		}
	})
}

// exitServer runs `imscript run` with args in script's folder, PORT set,
// and returns it once it is listening.
func exitServer(t *testing.T, script string, args ...string) *server {
	t.Helper()
	s := &server{t: t, script: script, port: freePort(t), stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	s.cmd = exec.Command(binPath, args...)
	s.cmd.Dir = filepath.Dir(script)
	s.cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(s.port))
	s.cmd.Stdout, s.cmd.Stderr = s.stdout, s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.err = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		s.kill()
		if t.Failed() {
			s.dump()
		}
	})
	waitFor(t, startTimeout, "imscript started", func() bool {
		return strings.Contains(s.stderr.String(), "imscript started") || s.exited()
	})
	if s.exited() {
		t.Fatalf("exited before it was listening: %v", s.err)
	}
	return s
}

// TestFlagsAfterFileAndExitCode: flags after the script file are parsed
// (--workers 3 --no-watch), imscript.exit(300) is refused, and
// imscript.exit(3) from a handler stops the host gracefully (its shutdown
// handler runs) with exit status 3.
func TestFlagsAfterFileAndExitCode(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		s := exitServer(t, testScript(lang, "stack"), "run", filepath.Base(testScript(lang, "stack")), "--workers", "3", "--no-watch")
		if l := s.waitStderr("imscript started"); !strings.Contains(l, " workers=3 ") {
			t.Errorf("started with %q, want workers=3 (--workers after the file)", l)
		}
		c := dial(t, s.addr())
		// A code out of range is the caller's error; the host goes on.
		write(t, c, []byte("exit 300\n"))
		s.waitStderr("handler error", "imscript.exit: code must be a whole number from 0 to 125, got 300")
		if r := ask(t, c, "exit 3\n"); r != "ok exit 3\n" {
			t.Errorf("reply %q", r)
		}
		select {
		case <-s.done:
		case <-time.After(waitTimeout):
			t.Fatalf("still running %v after imscript.exit(3)", waitTimeout)
		}
		if code := s.cmd.ProcessState.ExitCode(); code != 3 {
			t.Errorf("exit status %d, want 3", code)
		}
		if !strings.Contains(s.stdout.String(), "shutdown handler ran") {
			t.Errorf("the shutdown handler did not run: stdout %q", s.stdout.String())
		}
	})
}

// TestHTTPClientFailureExitsNonZero: the http_client example against a
// port nobody listens on says why and exits 1.
func TestHTTPClientFailureExitsNonZero(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		url := fmt.Sprintf("http://127.0.0.1:%d/", freePort(t))
		out, errOut, code := imscript(t, repoRoot, "run", "--no-watch", example(lang, "http_client"), "--workers", "2", "--", url)
		if code != 1 || !strings.Contains(out, "request failed: GET "+url) {
			t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 and \"request failed: GET %s\"", code, out, errOut, url)
		}
	})
}

// noEmptySection fails when a section heading (a line ending in ':') is
// followed by an empty line or nothing.
func noEmptySection(t *testing.T, what, text string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	for i, l := range lines {
		if strings.HasSuffix(l, ":") && (i+1 == len(lines) || strings.TrimSpace(lines[i+1]) == "") {
			t.Errorf("%s: section %q is empty:\n%s", what, l, text)
		}
	}
}

// TestUsage: `imscript run --help` and `imscript help run` print the same
// usage on stdout and exit 0; imscript alone prints the usage (no empty
// section) on stderr and exits 2; a bad flag value is refused with a
// message and exit status 2.
func TestUsage(t *testing.T) {
	t.Parallel()
	help1, errOut, code := imscript(t, repoRoot, "run", "--help")
	if code != 0 || errOut != "" {
		t.Errorf("imscript run --help: exit %d, stderr %q", code, errOut)
	}
	help2, errOut, code := imscript(t, repoRoot, "help", "run")
	if code != 0 || errOut != "" {
		t.Errorf("imscript help run: exit %d, stderr %q", code, errOut)
	}
	if help1 != help2 || !strings.HasPrefix(help1, "usage: imscript run [flags] FILE [-- args...]\n") || !strings.Contains(help1, "\n  -workers int\n") {
		t.Errorf("run --help printed:\n%s\nhelp run printed:\n%s", help1, help2)
	}
	noEmptySection(t, "imscript help run", help1)

	out, usage, code := imscript(t, repoRoot)
	if code != 2 || out != "" || !strings.Contains(usage, "imscript run [flags] FILE") || !strings.Contains(usage, "\n  -workers int\n") {
		t.Errorf("imscript: exit %d, stdout %q, stderr:\n%s", code, out, usage)
	}
	noEmptySection(t, "imscript", usage)
	help, _, code := imscript(t, repoRoot, "help")
	if code != 0 || help != usage {
		t.Errorf("imscript help: exit %d, printed:\n%s\nwant what imscript alone prints:\n%s", code, help, usage)
	}

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ok.lua"), []byte("print('never runs')\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"run", "--workers", "-3", "ok.lua"}, {"run", "ok.lua", "--workers", "-3"}} {
		out, errOut, code := imscript(t, dir, args...)
		if code != 2 || out != "" || !strings.Contains(errOut, "imscript run: --workers -3: want 0 (automatic) or more\n") {
			t.Errorf("imscript %s: exit %d, stdout %q, stderr %q; want exit 2 and the reason", strings.Join(args, " "), code, out, errOut)
		}
	}
	_, errOut, code = imscript(t, dir, "run", "ok.lua", "--wrokers", "2")
	if code != 2 || !strings.Contains(errOut, "flag provided but not defined: -wrokers\n") {
		t.Errorf("imscript run ok.lua --wrokers 2: exit %d, stderr %q", code, errOut)
	}
}

// TestExitInSpawnedScript: imscript.exit(7) in a spawned script ends that
// script only: its parent's exit handler gets 7 and the host runs on.
func TestExitInSpawnedScript(t *testing.T) {
	t.Parallel()
	srcs := map[string][2]string{
		"lua": {`if imscript.worker_id ~= 0 then return end
imscript.process.spawn("child.lua"):on("exit", function(code)
  print("child exit " .. tostring(code))
  imscript.after(200, function() print("parent still runs") end)
end)`,
			`imscript.after(0, function() imscript.exit(7) end)`},
		"js": {`if (imscript.worker_id === 0) {
  imscript.process.spawn("child.js").on("exit", (code) => {
    console.log("child exit " + code);
    imscript.after(200, () => console.log("parent still runs"));
  });
}`,
			`imscript.after(0, () => imscript.exit(7));`},
	}
	eachLang(t, func(t *testing.T, lang string) {
		main := procScript(t, lang, srcs[lang][0])
		if err := os.WriteFile(filepath.Join(filepath.Dir(main), "child."+lang), []byte(srcs[lang][1]), 0o644); err != nil {
			t.Fatal(err)
		}
		s := start(t, main, runOpts{workers: 2})
		// A stopping host would cancel the parent's timer.
		s.waitStdout("child exit 7\nparent still runs\n")
		if s.exited() || strings.Contains(s.stderr.String(), "msg=stopping") {
			t.Fatalf("the host stopped after a spawned script's imscript.exit: %v", s.err)
		}
	})
}
