package tests

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// History with --data, as a client sees it across restarts of the
// process: after kill -9 and after SIGTERM every message whose publish
// returned is still there, with its seq and the room's epoch, and a
// client that comes back with since recovers exactly what it missed.
// Without --data a restart is a new epoch.

type histConn struct {
	t *testing.T
	c *websocket.Conn
}

// histJoin connects to the room (with since/epoch when since >= 0) and
// returns the messages recovered before the join's answer and the answer's
// fields: seq, epoch, recovered, data_dir.
func histJoin(t *testing.T, s *server, since int, epoch string) (*histConn, []string, []string) {
	t.Helper()
	u := "ws://" + s.addr() + "/"
	if since >= 0 {
		u += fmt.Sprintf("?since=%d&epoch=%s", since, epoch)
	}
	c, resp, err := websocket.DefaultDialer.Dial(u, http.Header{})
	if err != nil {
		t.Fatalf("dial %s: %v (%v)", u, err, resp)
	}
	t.Cleanup(func() { c.Close() })
	h := &histConn{t: t, c: c}
	var got []string
	for {
		m := h.read()
		if f := strings.Fields(m); len(f) == 5 && f[0] == "joined" {
			return h, got, f[1:]
		}
		got = append(got, m)
	}
}

func (h *histConn) read() string {
	h.t.Helper()
	_ = h.c.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, m, err := h.c.ReadMessage()
	if err != nil {
		h.t.Fatalf("read: %v", err)
	}
	return string(m)
}

// say publishes text and returns the seq its copy came back with.
func (h *histConn) say(text string) uint64 {
	h.t.Helper()
	if err := h.c.WriteMessage(websocket.TextMessage, []byte(text)); err != nil {
		h.t.Fatal(err)
	}
	for {
		var m struct {
			Seq  uint64 `json:"seq"`
			Text string `json:"text"`
		}
		if err := json.Unmarshal([]byte(h.read()), &m); err == nil && m.Text == text {
			return m.Seq
		}
	}
}

func texts(t *testing.T, msgs []string) []string {
	t.Helper()
	out := make([]string, len(msgs))
	for i, m := range msgs {
		var v struct {
			Text string `json:"text"`
		}
		if err := json.Unmarshal([]byte(m), &v); err != nil {
			t.Fatalf("not a stamped message: %q", m)
		}
		out[i] = v.Text
	}
	return out
}

func wantTexts(from, to int) string {
	var s []string
	for i := from; i <= to; i++ {
		s = append(s, "m"+strconv.Itoa(i))
	}
	return strings.Join(s, ",")
}

func TestHistoryOnDiskSurvivesRestarts(t *testing.T) {
	eachLang(t, func(t *testing.T, lang string) {
		dir := t.TempDir()
		opts := runOpts{args: []string{"--data", dir}}
		s := start(t, testScript(lang, "history"), opts)
		a, _, f := histJoin(t, s, -1, "")
		if f[0] != "0" || f[3] != dir {
			t.Fatalf("first join: %v, want seq 0 and data_dir %s", f, dir)
		}
		epoch := f[1]
		for i := 1; i <= 50; i++ {
			if seq := a.say("m" + strconv.Itoa(i)); seq != uint64(i) {
				t.Fatalf("message %d got seq %d", i, seq)
			}
		}
		s.kill() // SIGKILL: no goodbye

		s = start(t, testScript(lang, "history"), opts)
		b, got, f := histJoin(t, s, 10, epoch)
		if f[0] != "50" || f[1] != epoch || f[2] != "true" {
			t.Fatalf("after kill -9: join since 10 answered %v, want seq 50, epoch %s, recovered", f, epoch)
		}
		if g := strings.Join(texts(t, got), ","); g != wantTexts(11, 50) {
			t.Fatalf("after kill -9 recovered %s, want m11..m50", g)
		}
		if seq := b.say("m51"); seq != 51 {
			t.Fatalf("the first message after the restart got seq %d, want 51", seq)
		}
		s.signal(syscall.SIGTERM)
		waitFor(t, 20*time.Second, "the server to stop", s.exited)

		s = start(t, testScript(lang, "history"), opts)
		_, got, f = histJoin(t, s, 49, epoch)
		if f[0] != "51" || f[1] != epoch || f[2] != "true" || strings.Join(texts(t, got), ",") != "m50,m51" {
			t.Fatalf("after SIGTERM: %v, recovered %q", f, got)
		}

		// Without --data, history lives in the process: a restart is a new
		// epoch, and recovery says so.
		s.kill()
		s = start(t, testScript(lang, "history"), runOpts{})
		_, got, f = histJoin(t, s, 49, epoch)
		if f[1] == epoch || f[2] != "false" || len(got) != 0 || f[3] != "nil" {
			t.Fatalf("in memory after a restart: %v, %d recovered, want another epoch, not recovered, no data_dir", f, len(got))
		}
	})
}
