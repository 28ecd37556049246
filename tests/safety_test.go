package tests

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var okReply = regexp.MustCompile(`^ok:(.*) w([0-9]+)\n$`)

// askOK sends line to the errors script and returns the id of the worker
// that answered "ok:<line> w<id>".
func askOK(t *testing.T, c net.Conn, line string) string {
	t.Helper()
	r := ask(t, c, line+"\n")
	m := okReply.FindStringSubmatch(r)
	if m == nil || m[1] != line {
		t.Fatalf("reply to %q: got %q, want \"ok:%s w<id>\"", line, r, line)
	}
	return m[2]
}

// TestHandlerError: a handler that raises is logged with file:line; that
// connection and the others keep being served by the same workers.
func TestHandlerError(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		script := testScript(lang, "errors")
		where := fmt.Sprintf("errors.%s:%d", lang, markerLine(t, script, "LINE:boom"))
		s := start(t, script, runOpts{})
		c1 := dial(t, s.addr())
		c2 := dial(t, s.addr())
		w1 := askOK(t, c1, "hello")
		w2 := askOK(t, c2, "hello")
		if w1 == w2 {
			t.Logf("both connections on worker %s", w1)
		}
		write(t, c1, []byte("boom\n"))
		if w := askOK(t, c1, "after boom"); w != w1 {
			t.Errorf("after the error the connection moved from worker %s to %s", w1, w)
		}
		logLine := s.waitStderr("handler error", where, "kaboom")
		t.Logf("log: %s", logLine)
		askOK(t, c2, "other connection")
		// Errors on many connections, interleaved with normal traffic.
		for i := range 6 {
			c := dial(t, s.addr())
			write(t, c, []byte("boom\n"))
			askOK(t, c, fmt.Sprintf("conn %d after boom", i))
			askOK(t, c1, fmt.Sprintf("c1 round %d", i))
		}
		waitFor(t, waitTimeout, "7 handler errors logged", func() bool {
			return strings.Count(s.stderr.String(), "kaboom") >= 7
		})
		if s.exited() {
			t.Fatalf("the server exited: %v", s.err)
		}
	})
}

// TestWatchdog: an endless handler is interrupted after max_exec_ms (200),
// reported, and its worker serves the next message.
func TestWatchdog(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		s := start(t, testScript(lang, "errors"), runOpts{})
		c1 := dial(t, s.addr())
		c2 := dial(t, s.addr())
		w1 := askOK(t, c1, "hello")
		askOK(t, c2, "hello")
		write(t, c1, []byte("loop\n"))
		// The next message on the same connection is queued behind the loop
		// on the same worker: its reply proves the worker is free again.
		if w := askOK(t, c1, "after loop"); w != w1 {
			t.Errorf("after the loop the connection moved from worker %s to %s", w1, w)
		}
		logLine := s.waitStderr("interrupted", "max_exec_ms")
		t.Logf("log: %s", logLine)
		askOK(t, c2, "other connection")
		// Both workers survive a loop each.
		for i := range 4 {
			c := dial(t, s.addr())
			write(t, c, []byte("loop\n"))
			askOK(t, c, fmt.Sprintf("conn %d after loop", i))
		}
		askOK(t, c1, "still here")
		waitFor(t, waitTimeout, "5 interruptions logged", func() bool {
			return strings.Count(s.stderr.String(), "interrupted") >= 5
		})
	})
}

// stdoutLines counts the server's stdout lines starting with prefix.
func (s *server) stdoutLines(prefix string) int {
	n := 0
	for _, l := range strings.Split(s.stdout.String(), "\n") {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

// TestMaxConnection: with max_connection = 3 the fourth connection is closed
// at accept, without a connect (or close) event; once one closes, a new one
// is accepted.
func TestMaxConnection(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		const max = 3
		s := start(t, testScript(lang, "raw_echo"), runOpts{env: map[string]string{"MAX_CONN": strconv.Itoa(max)}})
		var conns []net.Conn
		for i := range max {
			c := dial(t, s.addr())
			msg := []byte(fmt.Sprintf("conn %d", i))
			roundTrip(t, c, msg, msg)
			conns = append(conns, c)
		}
		waitFor(t, waitTimeout, "3 connect events", func() bool { return s.stdoutLines("connect ") == max })
		for range 3 {
			extra := dial(t, s.addr())
			_ = extra.SetWriteDeadline(time.Now().Add(ioTimeout))
			_, _ = extra.Write([]byte("over the limit")) // may fail: the server closed it
			expectClosed(t, extra)
		}
		// The accepted ones still work.
		for i, c := range conns {
			msg := []byte(fmt.Sprintf("conn %d again", i))
			roundTrip(t, c, msg, msg)
		}
		// Free a slot; a new connection gets in (its accept races the
		// server's close of the old one: retry).
		conns[0].Close()
		waitFor(t, waitTimeout, "the close event", func() bool { return s.stdoutLines("close ") == 1 })
		deadline := time.Now().Add(waitTimeout)
		for {
			c := dial(t, s.addr())
			_ = c.SetDeadline(time.Now().Add(ioTimeout))
			if _, err := c.Write([]byte("new")); err == nil {
				if got, err := readNErr(c, 3); err == nil {
					if string(got) != "new" {
						t.Fatalf("new connection got %q", got)
					}
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatal("no connection accepted after one closed")
			}
			time.Sleep(50 * time.Millisecond)
		}
		// stdout comes through a pipe: wait for the new connection's line,
		// then check that nothing else came.
		waitFor(t, waitTimeout, "the new connection's connect event", func() bool { return s.stdoutLines("connect ") >= max+1 })
		for i, c := range conns[1:] {
			msg := []byte(fmt.Sprintf("conn %d at the end", i+1))
			roundTrip(t, c, msg, msg)
		}
		time.Sleep(100 * time.Millisecond)
		if n := s.stdoutLines("connect "); n != max+1 {
			t.Errorf("%d connect events, want %d: refused connections must not fire connect", n, max+1)
		}
		if n := s.stdoutLines("close "); n != 1 {
			t.Errorf("%d close events, want 1: refused connections must not fire close", n)
		}
	})
}

// TestHeartbeat: a connection idle for heartbeat_idle_time (0.8 s) is
// closed by the server; one that keeps talking is not.
func TestHeartbeat(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		s := start(t, testScript(lang, "heartbeat"), runOpts{})
		active := dial(t, s.addr())
		idle := dial(t, s.addr())
		opened := time.Now()
		roundTrip(t, active, []byte("hi"), []byte("hi"))

		var stop atomic.Bool
		errc := make(chan error, 1)
		go func() {
			for i := 0; !stop.Load(); i++ {
				msg := []byte(fmt.Sprintf("beat %d", i))
				_ = active.SetDeadline(time.Now().Add(ioTimeout))
				if _, err := active.Write(msg); err != nil {
					errc <- fmt.Errorf("active connection, write %d: %w", i, err)
					return
				}
				got, err := readNErr(active, len(msg))
				if err != nil || !bytes.Equal(got, msg) {
					errc <- fmt.Errorf("active connection, beat %d: got %q: %v", i, got, err)
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
			errc <- nil
		}()

		expectClosed(t, idle)
		if el := time.Since(opened); el < 600*time.Millisecond {
			t.Errorf("idle connection closed after %v, before heartbeat_idle_time (0.8 s)", el)
		}
		// Keep the active one talking for three idle periods more.
		time.Sleep(2400 * time.Millisecond)
		stop.Store(true)
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		roundTrip(t, active, []byte("still open"), []byte("still open"))
		// Silent now, it is closed in turn.
		expectClosed(t, active)
		waitFor(t, waitTimeout, "2 close events", func() bool { return s.stdoutLines("close ") == 2 })
	})
}

// TestOversizedPackage: a package announcing more than package_max_length
// (1024) closes that connection only.
func TestOversizedPackage(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		s := start(t, testScript(lang, "oversize"), runOpts{})
		good := dial(t, s.addr())
		roundTrip(t, good, frame([]byte("hello")), frame([]byte("hello")))
		// Exactly at the limit: 4 + 1020 bytes.
		atLimit := frame(randomBytes(1020))
		roundTrip(t, good, atLimit, atLimit)

		// One byte over, announced in the header: closed before the body.
		bad := dial(t, s.addr())
		write(t, bad, frame(randomBytes(1021))[:100])
		expectClosed(t, bad)
		s.waitStderr("package exceeds package_max_length")

		// A connection that was served, then announces an absurd length.
		bad2 := dial(t, s.addr())
		roundTrip(t, bad2, frame([]byte("fine")), frame([]byte("fine")))
		write(t, bad2, []byte{0x7f, 0xff, 0xff, 0xff, 'x'})
		expectClosed(t, bad2)

		roundTrip(t, good, frame([]byte("still served")), frame([]byte("still served")))
		late := dial(t, s.addr())
		roundTrip(t, late, frame(allBytes()), frame(allBytes()))
	})
}

// rssWatcher samples a process's VmRSS until stopped and keeps the peak.
type rssWatcher struct {
	peak atomic.Int64 // KiB
	stop chan struct{}
	wg   sync.WaitGroup
}

func watchRSS(pid int) *rssWatcher {
	w := &rssWatcher{stop: make(chan struct{})}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for {
			if kb, err := rssKiB(pid); err == nil && int64(kb) > w.peak.Load() {
				w.peak.Store(int64(kb))
			}
			select {
			case <-w.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return w
}

func (w *rssWatcher) done() int64 {
	close(w.stop)
	w.wg.Wait()
	return w.peak.Load()
}

// askFd asks the slow_reader script for the connection's fd.
func askFd(t *testing.T, c net.Conn) string {
	t.Helper()
	r := ask(t, c, "fd\n")
	fd, ok := strings.CutPrefix(strings.TrimSuffix(r, "\n"), "fd ")
	if !ok {
		t.Fatalf("fd reply %q", r)
	}
	return fd
}

// drain reads c until it ends and returns how many bytes came and why it
// ended.
func drain(c net.Conn) (int64, error) {
	_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
	n, err := io.Copy(io.Discard, c)
	if err == nil {
		err = io.EOF
	}
	return n, err
}

// TestSlowReader: with buffer_output_size = 256 KiB, a client that asks for
// much more than it reads is cut off, send returns false, and the server's
// memory stays bounded; a client that reads is served in full.
func TestSlowReader(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		const maxRSS = 200 << 10 // KiB
		s := start(t, testScript(lang, "slow_reader"), runOpts{})
		rss := watchRSS(s.pid())
		reply := bytes.Repeat([]byte("x"), 128<<10)

		// A reader that keeps up gets every 128 KiB reply.
		fast := dial(t, s.addr())
		for range 20 {
			roundTrip(t, fast, []byte("get\n"), reply)
		}

		// A reader that never reads, asking for 128 KiB at a time: each
		// reply fits the limit, the unread pile does not.
		slow := dial(t, s.addr())
		fd := askFd(t, slow)
		closeLine := "close " + fd + "\n"
		deadline := time.Now().Add(waitTimeout)
		requests := 0
		for !strings.Contains(s.stdout.String(), closeLine) {
			if time.Now().After(deadline) {
				t.Fatalf("slow reader not cut off after %d requests (%d MiB asked for)", requests, requests/8)
			}
			_ = slow.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := slow.Write([]byte("get\n")); err != nil && !isTimeout(err) {
				break // the server closed it
			}
			requests++
			time.Sleep(2 * time.Millisecond)
		}
		s.waitStdout(closeLine)
		logLine := s.waitStderr("closing connection", "fd="+fd+" ")
		t.Logf("cut off after %d requests; log: %s", requests, logLine)
		got, err := drain(slow)
		if isTimeout(err) {
			t.Errorf("slow connection: read %d bytes, then no end: %v", got, err)
		}

		// One handler that sends 64 KiB chunks until send returns false.
		flood := dial(t, s.addr())
		fd = askFd(t, flood)
		write(t, flood, []byte("flood\n"))
		s.waitStdout(" fd=" + fd + "\n")
		out := s.stdout.String()
		if l := lineWith(out, "flood:", " fd="+fd); !strings.HasPrefix(l, "flood: send false after ") {
			t.Fatalf("flood: want send to return false, got %q", l)
		} else {
			t.Logf("%s", l)
		}
		s.waitStdout("close " + fd + "\n")
		got, err = drain(flood)
		if isTimeout(err) {
			t.Errorf("flooded connection: read %d bytes, then no end: %v", got, err)
		}
		if got > 64<<20 {
			t.Errorf("flooded connection received %d bytes: output was not bounded", got)
		}

		// The reader that keeps up is still served.
		roundTrip(t, fast, []byte("get\n"), reply)
		peak := rss.done()
		t.Logf("peak RSS %d MiB", peak>>10)
		if peak > maxRSS {
			t.Errorf("peak RSS %d MiB, want under %d MiB", peak>>10, maxRSS>>10)
		}
		if s.exited() {
			t.Fatalf("server exited: %v", s.err)
		}
	})
}
