package tests

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The reload helper script answers each line with PREFIX + ":" + line; its
// source declares `PREFIX = "A"` once.
const prefixDecl = `PREFIX = "A"`

// setPrefix rewrites the reload script with a new PREFIX declaration
// (replacement is the text after "PREFIX "), as an editor would save it:
// truncate-and-write, or write-a-temp-file-and-rename.
func setPrefix(t *testing.T, path, lang, replacement string, rename bool) {
	t.Helper()
	src, err := os.ReadFile(testScript(lang, "reload"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), prefixDecl) {
		t.Fatalf("%s does not declare %s", testScript(lang, "reload"), prefixDecl)
	}
	out := []byte(strings.Replace(string(src), prefixDecl, "PREFIX "+replacement, 1))
	if !rename {
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	tmp := filepath.Join(filepath.Dir(path), ".save-"+filepath.Base(path))
	if err := os.WriteFile(tmp, out, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// ask sends one line and returns the reply line.
func ask(t *testing.T, c net.Conn, line string) string {
	t.Helper()
	write(t, c, []byte(line))
	reply, err := readLine(c, ioTimeout)
	if err != nil {
		t.Fatalf("reply to %q: got %q: %v", line, reply, err)
	}
	return reply
}

// reloadCount asks the reload script for stats().reload_count.
func reloadCount(t *testing.T, c net.Conn) string {
	t.Helper()
	r := ask(t, c, "stats\n")
	n, ok := strings.CutPrefix(strings.TrimSuffix(r, "\n"), "reload_count=")
	if !ok {
		t.Fatalf("stats reply %q", r)
	}
	return n
}

// awaitPrefix sends line on c until the reply has the prefix want; every
// reply before must have one of the prefixes in old. The connection must
// stay open throughout.
func awaitPrefix(t *testing.T, c net.Conn, line, want string, old ...string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		r := ask(t, c, line)
		if r == want+":"+line {
			return
		}
		okOld := false
		for _, o := range old {
			okOld = okOld || r == o+":"+line
		}
		if !okOld {
			t.Fatalf("reply %q: want prefix %q (or the old %q)", r, want, old)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no reply with prefix %q within %v; last %q", want, waitTimeout, r)
		}
		time.Sleep(30 * time.Millisecond)
	}
}

// TestReloadSameConnection: saving the script changes the behaviour for the
// next message on a connection opened before, and stats().reload_count
// counts the reload.
func TestReloadSameConnection(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		path := copyScript(t, lang, "reload")
		s := start(t, path, runOpts{watch: true})
		c := dial(t, s.addr())
		if r := ask(t, c, "hi\n"); r != "A:hi\n" {
			t.Fatalf("before reload: got %q, want %q", r, "A:hi\n")
		}
		if n := reloadCount(t, c); n != "0" {
			t.Fatalf("reload_count before any reload: %s", n)
		}
		setPrefix(t, path, lang, `= "B"`, false)
		awaitPrefix(t, c, "hi\n", "B", "A")
		if n := reloadCount(t, c); n != "1" {
			t.Errorf("reload_count after one save: %s, want 1", n)
		}
		s.waitStderr("reloaded")
		// A second save, by rename this time, on the same connection.
		setPrefix(t, path, lang, `= "C"`, true)
		awaitPrefix(t, c, "hi\n", "C", "B")
		if n := reloadCount(t, c); n != "2" {
			t.Errorf("reload_count after two saves: %s, want 2", n)
		}
		// A connection opened after the reload sees the new version too.
		c2 := dial(t, s.addr())
		if r := ask(t, c2, "new\n"); r != "C:new\n" {
			t.Errorf("new connection: got %q", r)
		}
	})
}

// TestReloadUnderLoad: messages sent while the script reloads are all
// answered, in order, on connections that are never dropped.
func TestReloadUnderLoad(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		const conns = 4 // spread over both workers
		const minMsgs = 200
		path := copyScript(t, lang, "reload")
		s := start(t, path, runOpts{watch: true})
		var totalSent, oldReplies, newReplies atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, 2*conns)
		for k := range conns {
			c := dial(t, s.addr())
			var seenNew atomic.Bool
			var n atomic.Int64 // messages sent on c
			done := make(chan struct{})
			wg.Add(2)
			go func() { // sender: at least minMsgs, until the new version answered
				defer wg.Done()
				defer close(done)
				deadline := time.Now().Add(waitTimeout)
				for i := 0; i < minMsgs || !seenNew.Load(); i++ {
					if time.Now().After(deadline) {
						errs <- fmt.Errorf("conn %d: no reply from the new version after %d messages", k, i)
						return
					}
					_ = c.SetWriteDeadline(time.Now().Add(ioTimeout))
					if _, err := fmt.Fprintf(c, "c%d-m%d\n", k, i); err != nil {
						errs <- fmt.Errorf("conn %d: write message %d: %w", k, i, err)
						return
					}
					n.Add(1)
					totalSent.Add(1)
					time.Sleep(2 * time.Millisecond)
				}
			}()
			go func() { // reader: every message answered, in order
				defer wg.Done()
				for i := 0; ; i++ {
					for int64(i) >= n.Load() {
						select {
						case <-done:
							if int64(i) >= n.Load() {
								return
							}
						case <-time.After(time.Millisecond):
						}
					}
					line, err := readLine(c, ioTimeout)
					if err != nil {
						errs <- fmt.Errorf("conn %d: reply %d: got %q: %v (connection dropped or reply lost)", k, i, line, err)
						return
					}
					msg := fmt.Sprintf("c%d-m%d\n", k, i)
					switch line {
					case "A:" + msg:
						if seenNew.Load() {
							errs <- fmt.Errorf("conn %d: reply %d from the old version after the new one answered", k, i)
							return
						}
						oldReplies.Add(1)
					case "B:" + msg:
						seenNew.Store(true)
						newReplies.Add(1)
					default:
						errs <- fmt.Errorf("conn %d: reply %d: got %q, want [AB]:%q", k, i, line, msg)
						return
					}
				}
			}()
		}
		// Save once traffic is flowing: by rename in one language, by
		// truncate-and-write in the other.
		waitFor(t, waitTimeout, "traffic before the save", func() bool { return totalSent.Load() >= 40 })
		setPrefix(t, path, lang, `= "B"`, lang == "js")
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if t.Failed() {
			return
		}
		if n := totalSent.Load(); n < conns*minMsgs {
			t.Fatalf("only %d messages sent", n)
		}
		if oldReplies.Load() == 0 || newReplies.Load() == 0 {
			t.Fatalf("replies: %d old, %d new; want both versions to answer", oldReplies.Load(), newReplies.Load())
		}
		t.Logf("%d messages across the reload, all answered (%d by the old version, %d by the new)",
			totalSent.Load(), oldReplies.Load(), newReplies.Load())
		c := dial(t, s.addr())
		if n := reloadCount(t, c); n != "1" {
			t.Errorf("reload_count: %s, want 1", n)
		}
	})
}

// TestReloadSyntaxError: a broken save is reported with file:line and the
// old version keeps serving; fixing the file reloads.
func TestReloadSyntaxError(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		path := copyScript(t, lang, "reload")
		line := markerLine(t, path, prefixDecl)
		s := start(t, path, runOpts{watch: true})
		c := dial(t, s.addr())
		if r := ask(t, c, "hi\n"); r != "A:hi\n" {
			t.Fatalf("before reload: got %q", r)
		}
		setPrefix(t, path, lang, `= = "X"`, false)
		where := fmt.Sprintf("reload.%s:%d", lang, line)
		logLine := s.waitStderr("reload failed", where)
		t.Logf("log: %s", logLine)
		for range 3 {
			if r := ask(t, c, "hi\n"); r != "A:hi\n" {
				t.Fatalf("after a broken save: got %q, want the old version's %q", r, "A:hi\n")
			}
		}
		c2 := dial(t, s.addr())
		if r := ask(t, c2, "new\n"); r != "A:new\n" {
			t.Fatalf("new connection after a broken save: got %q", r)
		}
		if n := reloadCount(t, c); n != "0" {
			t.Errorf("reload_count after a failed reload: %s, want 0", n)
		}
		if s.exited() {
			t.Fatalf("the server exited after a broken save: %v", s.err)
		}
		setPrefix(t, path, lang, `= "B"`, false)
		awaitPrefix(t, c, "hi\n", "B", "A")
		if n := reloadCount(t, c); n != "1" {
			t.Errorf("reload_count after the fix: %s, want 1", n)
		}
	})
}

// TestReloadSIGHUP: with --no-watch a save changes nothing until SIGHUP.
func TestReloadSIGHUP(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		path := copyScript(t, lang, "reload")
		s := start(t, path, runOpts{})
		c := dial(t, s.addr())
		if r := ask(t, c, "hi\n"); r != "A:hi\n" {
			t.Fatalf("before reload: got %q", r)
		}
		setPrefix(t, path, lang, `= "B"`, false)
		// Longer than the watcher's debounce: nothing may reload.
		time.Sleep(500 * time.Millisecond)
		if r := ask(t, c, "hi\n"); r != "A:hi\n" {
			t.Fatalf("--no-watch reloaded on a save: got %q", r)
		}
		s.signal(syscall.SIGHUP)
		awaitPrefix(t, c, "hi\n", "B", "A")
		if n := reloadCount(t, c); n != "1" {
			t.Errorf("reload_count after SIGHUP: %s, want 1", n)
		}
		s.waitStderr("reloaded", "SIGHUP")
		if s.exited() {
			t.Fatalf("SIGHUP stopped the server: %v", s.err)
		}
	})
}

// TestReloadRequiredFile: saving a file the script required reloads too.
func TestReloadRequiredFile(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		main := copyScript(t, lang, "reload_main")
		dir := filepath.Dir(main)
		src, err := os.ReadFile(testScript(lang, "reload_prefix"))
		if err != nil {
			t.Fatal(err)
		}
		mod := filepath.Join(dir, "reload_prefix."+lang)
		if err := os.WriteFile(mod, src, 0o644); err != nil {
			t.Fatal(err)
		}
		s := start(t, main, runOpts{watch: true})
		c := dial(t, s.addr())
		if r := ask(t, c, "hi\n"); r != "A:hi\n" {
			t.Fatalf("before reload: got %q", r)
		}
		if !strings.Contains(string(src), prefixDecl) {
			t.Fatalf("%s does not declare %s", mod, prefixDecl)
		}
		edited := strings.Replace(string(src), prefixDecl, `PREFIX = "B"`, 1)
		if err := os.WriteFile(mod, []byte(edited), 0o644); err != nil {
			t.Fatal(err)
		}
		awaitPrefix(t, c, "hi\n", "B", "A")
		s.waitStderr("reloaded", "reload_prefix."+lang)
	})
}

// TestReloadDrainsRequests: a request in flight when the script reloads is
// answered by the version that took it (from a Lua timer, after a JS
// await), while new requests get the new version; one the old version
// never answers gets 503 after max_wait_time.
func TestReloadDrainsRequests(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		path := copyScript(t, lang, "reload_http")
		s := start(t, path, runOpts{watch: true})
		c := hcClient(t, false)
		save := func(version string) {
			t.Helper()
			src, err := os.ReadFile(testScript(lang, "reload_http"))
			if err != nil {
				t.Fatal(err)
			}
			out := strings.Replace(string(src), `VERSION = "v1"`, `VERSION = "`+version+`"`, 1)
			if out == string(src) && version != "v1" {
				t.Fatalf("%s does not declare VERSION = \"v1\"", testScript(lang, "reload_http"))
			}
			if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		type reply struct {
			status int
			body   string
			err    error
		}
		get := func(p string) chan reply {
			ch := make(chan reply, 1)
			go func() {
				resp, err := c.Get(s.url(p))
				if err != nil {
					ch <- reply{err: err}
					return
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				ch <- reply{resp.StatusCode, string(b), err}
			}()
			return ch
		}

		slow := get("/slow")
		s.waitStdout("got /slow v1")
		save("v2")
		s.waitStderr("reloaded")
		// The new version answers new requests at once...
		if r := <-get("/"); r.err != nil || r.status != 200 || r.body != "v2" {
			t.Errorf("new request after the reload: %+v", r)
		}
		// ...and the old one still answers the request it took.
		if r := <-slow; r.err != nil || r.status != 200 || r.body != "slow v1" {
			t.Errorf("request in flight during the reload: %+v, want 200 \"slow v1\"", r)
		}

		never := get("/never")
		s.waitStdout("got /never v2")
		save("v3")
		if r := <-never; r.err != nil || r.status != 503 {
			t.Errorf("request never answered by the old version: %+v, want 503", r)
		}
		s.waitStderr("old version closed before it answered", "did not answer within max_wait_time")
		if r := <-get("/"); r.err != nil || r.status != 200 || r.body != "v3" {
			t.Errorf("after the second reload: %+v", r)
		}

		// Stopping the host while an old version drains answers 503 too.
		never = get("/never")
		s.waitStdout("got /never v3")
		save("v4")
		s.waitStderr("reloaded", "reload_count=3")
		waitFor(t, waitTimeout, "the third drain", func() bool {
			return strings.Count(s.stderr.String(), "old version drains") == 3
		})
		s.signal(syscall.SIGTERM)
		if r := <-never; r.err != nil || r.status != 503 {
			t.Errorf("request in flight when the host stopped: %+v, want 503", r)
		}
		s.waitStderr("old version closed before it answered", "the host stops")
	})
}
