package tests

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// imscript runs the binary with args in dir and returns its output and exit
// code.
func imscript(t *testing.T, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Dir = dir
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("imscript %s: %v", strings.Join(args, " "), err)
		}
	case <-time.After(waitTimeout):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("imscript %s did not finish within %v", strings.Join(args, " "), waitTimeout)
	}
	return o.String(), e.String(), cmd.ProcessState.ExitCode()
}

func TestVersion(t *testing.T) {
	t.Parallel()
	out, errOut, code := imscript(t, repoRoot, "version")
	if code != 0 {
		t.Fatalf("imscript version: exit %d, stderr %q", code, errOut)
	}
	if !regexp.MustCompile(`^imscript v?\d+\.\d+\.\d+\S*\n$`).MatchString(out) {
		t.Fatalf("imscript version printed %q, want \"imscript X.Y.Z\"", out)
	}
}

// TestCheckExamples: every example and helper script compiles.
func TestCheckExamples(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		files, _ := filepath.Glob(filepath.Join(repoRoot, "scripts", lang, "*."+lang))
		helpers, _ := filepath.Glob(filepath.Join(repoRoot, "tests", "testdata", lang, "*."+lang))
		files = append(files, helpers...)
		if len(files) < 8 {
			t.Fatalf("found only %d %s scripts: %q", len(files), lang, files)
		}
		for _, f := range files {
			out, errOut, code := imscript(t, repoRoot, "check", f)
			if code != 0 || !strings.Contains(out, "ok") {
				t.Errorf("imscript check %s: exit %d, stdout %q, stderr %q", f, code, out, errOut)
			}
		}
	})
}

// badScripts hold a syntax error on line 3.
var badScripts = map[string]string{
	"lua": "local x = 1\nlocal y = 2\nlocal z = = 3\nprint(x, y, z)\n",
	"js":  "const x = 1;\nconst y = 2;\nconst z = = 3;\nconsole.log(x, y, z);\n",
}

// TestCheckSyntaxError: check exits non-zero and names file:line.
func TestCheckSyntaxError(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		dir := t.TempDir()
		path := filepath.Join(dir, "bad."+lang)
		if err := os.WriteFile(path, []byte(badScripts[lang]), 0o644); err != nil {
			t.Fatal(err)
		}
		// From the script's folder (relative path) and from elsewhere.
		for _, run := range []struct{ dir, arg string }{{dir, "bad." + lang}, {repoRoot, path}} {
			out, errOut, code := imscript(t, run.dir, "check", run.arg)
			if code == 0 {
				t.Errorf("imscript check %s: exit 0, want non-zero (stdout %q)", run.arg, out)
			}
			if want := "bad." + lang + ":3"; !strings.Contains(errOut, want) {
				t.Errorf("imscript check %s: stderr %q does not name %q", run.arg, errOut, want)
			}
		}
		// run refuses to start it, with the same message.
		_, errOut, code := imscript(t, dir, "run", "--no-watch", "bad."+lang)
		if code == 0 || !strings.Contains(errOut, "bad."+lang+":3") {
			t.Errorf("imscript run bad.%s: exit %d, stderr %q; want non-zero naming bad.%s:3", lang, code, errOut, lang)
		}
	})
}

// TestGracefulStop: SIGTERM (and SIGINT) make the server run its shutdown
// handler, close its connections and exit 0 promptly.
func TestGracefulStop(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
			t.Run(sig.String(), func(t *testing.T) {
				s := start(t, testScript(lang, "raw_echo"), runOpts{})
				c := dial(t, s.addr())
				roundTrip(t, c, []byte("before stop"), []byte("before stop"))
				s.signal(sig)
				select {
				case <-s.done:
				case <-time.After(waitTimeout):
					t.Fatalf("still running %v after %v", sig, waitTimeout)
				}
				if code := s.cmd.ProcessState.ExitCode(); code != 0 {
					t.Errorf("exit code %d after %v, want 0 (%v)", code, sig, s.err)
				}
				if !strings.Contains(s.stdout.String(), "shutdown handler ran") {
					t.Errorf("shutdown handler output missing from stdout")
				}
				expectClosed(t, c)
				if c2, err := net.DialTimeout("tcp", s.addr(), time.Second); err == nil {
					c2.Close()
					t.Errorf("the listener still accepts after exit")
				}
			})
		}
	})
}
