package tests

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// The chat example (scripts/<lang>/chat.<lang>, protocol in
// scripts/web/chat/PROTOCOL.md) driven by real WebSocket clients.

// chatMsg is one decoded JSON message from the server.
type chatMsg map[string]any

func (m chatMsg) str(k string) string {
	switch v := m[k].(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

func (m chatMsg) list(k string) []any {
	l, _ := m[k].([]any)
	return l
}

// chatClient is one WebSocket connection to a chat server. A goroutine reads
// every message into got; tests poll got with deadlines.
type chatClient struct {
	t    *testing.T
	nick string
	conn *websocket.Conn

	wmu sync.Mutex // gorilla allows one writer at a time

	mu     sync.Mutex
	got    []chatMsg
	texts  map[string]int // room messages ("msg") by text: how often each arrived
	order  []string       // room message texts in arrival order
	err    error          // why the read loop ended
	closed chan struct{}
}

func dialChat(t *testing.T, s *server, nick string) *chatClient {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: ioTimeout}
	conn, resp, err := d.Dial("ws://"+s.addr()+"/ws", nil)
	if err != nil {
		status := ""
		if resp != nil {
			status = resp.Status
		}
		t.Fatalf("dial chat %s as %q: %v %s", s.addr(), nick, err, status)
	}
	c := &chatClient{t: t, nick: nick, conn: conn, texts: map[string]int{}, closed: make(chan struct{})}
	t.Cleanup(func() { conn.Close() })
	go c.readLoop()
	return c
}

func (c *chatClient) readLoop() {
	defer close(c.closed)
	for {
		typ, data, err := c.conn.ReadMessage()
		if err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return
		}
		var m chatMsg
		if typ != websocket.TextMessage || json.Unmarshal(data, &m) != nil {
			m = chatMsg{"type": "?undecodable", "raw": string(data)}
		}
		c.mu.Lock()
		c.got = append(c.got, m)
		if m.str("type") == "msg" {
			text := m.str("text")
			c.texts[text]++
			c.order = append(c.order, text)
		}
		c.mu.Unlock()
	}
}

// send writes one JSON message.
func (c *chatClient) send(m map[string]any) {
	c.t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(string(b))
}

func (c *chatClient) sendRaw(s string) {
	c.t.Helper()
	if err := c.trySend(s); err != nil {
		c.t.Fatal(err)
	}
}

// trySend writes one text frame; safe from any goroutine.
func (c *chatClient) trySend(s string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(ioTimeout))
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		return fmt.Errorf("%s: write: %w", c.nick, err)
	}
	return nil
}

// count is how many messages received so far match.
func (c *chatClient) count(match func(chatMsg) bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, m := range c.got {
		if match(m) {
			n++
		}
	}
	return n
}

// wait waits until a message matching match has arrived and returns the
// first one.
func (c *chatClient) wait(what string, match func(chatMsg) bool) chatMsg {
	c.t.Helper()
	var found chatMsg
	waitFor(c.t, waitTimeout, c.nick+" to receive "+what, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, m := range c.got {
			if match(m) {
				found = m
				return true
			}
		}
		return false
	})
	return found
}

// waitType waits for the first message of type typ whose fields hold the
// given values.
func (c *chatClient) waitType(typ string, fields ...string) chatMsg {
	c.t.Helper()
	return c.wait(fmt.Sprintf("%s %v", typ, fields), isMsg(typ, fields...))
}

// isMsg matches messages of type typ with fields (name, value pairs).
func isMsg(typ string, fields ...string) func(chatMsg) bool {
	return func(m chatMsg) bool {
		if m.str("type") != typ {
			return false
		}
		for i := 0; i+1 < len(fields); i += 2 {
			if m.str(fields[i]) != fields[i+1] {
				return false
			}
		}
		return true
	}
}

// login logs in as c.nick and waits for the welcome.
func (c *chatClient) login() chatMsg {
	c.t.Helper()
	c.send(map[string]any{"type": "login", "nick": c.nick})
	return c.waitType("welcome", "nick", c.nick)
}

// join joins room and returns the joined reply (a client joins a room once
// per test, so the first reply is this one).
func (c *chatClient) join(room string) chatMsg {
	c.t.Helper()
	c.send(map[string]any{"type": "join", "room": room})
	return c.waitType("joined", "room", room)
}

// close closes the connection and waits until its read loop has ended.
func (c *chatClient) close() {
	c.conn.Close()
	<-c.closed
}

// memberTabs maps nick -> tabs from a members/joined reply.
func memberTabs(m chatMsg) map[string]int {
	out := map[string]int{}
	for _, x := range m.list("members") {
		if e, ok := x.(map[string]any); ok {
			nick, _ := e["nick"].(string)
			tabs, _ := e["tabs"].(float64)
			out[nick] = int(tabs)
		}
	}
	return out
}

// TestChatBroadcast: 200 clients in one room, 10 of them send 20 messages
// each at once; every client receives all 200 messages exactly once, and
// each sender's messages in the order sent (worker_num 2).
func TestChatBroadcast(t *testing.T) {
	t.Parallel()
	const (
		clients = 200
		senders = 10
		perSend = 20
	)
	eachLang(t, func(t *testing.T, lang string) {
		s := start(t, example(lang, "chat"), runOpts{workers: 2})
		cs := make([]*chatClient, clients)
		// Connect and log in 20 at a time: a burst of 400 handshakes (both
		// languages run at once) would only test the listen backlog.
		for i := 0; i < clients; i += 20 {
			for j := i; j < i+20; j++ {
				cs[j] = dialChat(t, s, fmt.Sprintf("u%03d", j))
				cs[j].send(map[string]any{"type": "login", "nick": cs[j].nick})
				cs[j].send(map[string]any{"type": "join", "room": "lobby"})
			}
			for j := i; j < i+20; j++ {
				cs[j].waitType("joined", "room", "lobby")
			}
		}
		var wg sync.WaitGroup
		for i := range senders {
			wg.Add(1)
			go func(c *chatClient) {
				defer wg.Done()
				for k := range perSend {
					msg := fmt.Sprintf(`{"type":"say","room":"lobby","text":"%s-%02d"}`, c.nick, k)
					if err := c.trySend(msg); err != nil {
						t.Error(err) // not Fatal: this is not the test's goroutine
						return
					}
				}
			}(cs[i])
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		total := senders * perSend
		waitFor(t, 30*time.Second, "every client to receive all room messages", func() bool {
			for _, c := range cs {
				c.mu.Lock()
				n := len(c.texts)
				c.mu.Unlock()
				if n < total {
					return false
				}
			}
			return true
		})
		for _, c := range cs {
			c.mu.Lock()
			if len(c.order) != total {
				t.Errorf("%s received %d room messages, want %d (duplicates: %v)", c.nick, len(c.order), total, dups(c.texts))
			}
			for i := range senders {
				prefix := cs[i].nick + "-"
				var seq []string
				for _, text := range c.order {
					if strings.HasPrefix(text, prefix) {
						seq = append(seq, text)
					}
				}
				if !slices.IsSorted(seq) || len(seq) != perSend {
					t.Errorf("%s received %s's messages as %v, want %d in order", c.nick, cs[i].nick, seq, perSend)
				}
			}
			c.mu.Unlock()
			if t.Failed() {
				return
			}
		}
		// Every message also names its room and sender.
		m := cs[clients-1].waitType("msg", "text", cs[3].nick+"-07")
		if m.str("room") != "lobby" || m.str("from") != cs[3].nick || m.str("ts") == "" {
			t.Errorf("msg = %v, want room lobby, from %s and a ts", m, cs[3].nick)
		}
	})
}

func dups(texts map[string]int) []string {
	var out []string
	for k, n := range texts {
		if n > 1 {
			out = append(out, fmt.Sprintf("%s×%d", k, n))
		}
	}
	return out
}

// TestChatPrivateAndPresence: several tabs of one nickname are one user:
// private messages reach all of them, the room sees one join notice when
// the first tab enters and one leave notice when the last one leaves, and
// members/presence count the tabs.
func TestChatPrivateAndPresence(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		s := start(t, example(lang, "chat"), runOpts{workers: 2})

		bob := dialChat(t, s, "bob")
		w := bob.login()
		if w.str("heartbeat") != "60" || len(w.list("rooms")) < 3 {
			t.Errorf("welcome = %v, want heartbeat 60 and the default rooms", w)
		}
		bob.join("lobby")

		// alice opens three tabs; the first to enter the room makes the
		// only join notice.
		alice := make([]*chatClient, 3)
		for i := range alice {
			alice[i] = dialChat(t, s, "alice")
			alice[i].login()
		}
		alice[0].join("lobby")
		bob.waitType("join", "room", "lobby", "nick", "alice")
		alice[1].join("lobby")
		joined := alice[2].join("lobby")
		if got := memberTabs(joined); got["alice"] != 3 || got["bob"] != 1 || len(got) != 2 {
			t.Errorf("joined members = %v, want alice with 3 tabs and bob with 1", got)
		}
		bob.send(map[string]any{"type": "members", "room": "lobby"})
		if got := memberTabs(bob.waitType("members", "room", "lobby")); got["alice"] != 3 || got["bob"] != 1 {
			t.Errorf("members = %v, want alice:3 bob:1", got)
		}
		bob.send(map[string]any{"type": "rooms"})
		rooms := bob.waitType("rooms")
		counts := map[string]int{}
		for _, x := range rooms.list("rooms") {
			if e, ok := x.(map[string]any); ok {
				n, _ := e["count"].(float64)
				counts[fmt.Sprint(e["name"])] = int(n)
			}
		}
		if counts["lobby"] != 2 || len(counts) != 3 {
			t.Errorf("rooms = %v, want lobby with 2 users among 3 rooms", counts)
		}

		// A private message reaches every tab of alice, and bob's own copy.
		bob.send(map[string]any{"type": "pm", "to": "alice", "text": "hello alice"})
		for _, a := range alice {
			pm := a.waitType("pm", "from", "bob", "to", "alice", "text", "hello alice")
			if pm.str("ts") == "" {
				t.Errorf("pm without ts: %v", pm)
			}
		}
		bob.waitType("pm", "from", "bob", "to", "alice", "text", "hello alice")
		// ... and alice's answer from one tab shows in all her tabs.
		alice[1].send(map[string]any{"type": "pm", "to": "bob", "text": "hi bob"})
		bob.waitType("pm", "from", "alice", "text", "hi bob")
		for _, a := range alice {
			a.waitType("pm", "from", "alice", "to", "bob", "text", "hi bob")
		}
		bob.send(map[string]any{"type": "pm", "to": "nobody", "text": "anyone?"})
		bob.waitType("error", "code", "offline", "request", "pm")

		// carol comes and goes: join and leave notices.
		carol := dialChat(t, s, "carol")
		carol.login()
		carol.join("lobby")
		bob.waitType("join", "nick", "carol")
		alice[2].waitType("join", "nick", "carol")
		carol.send(map[string]any{"type": "say", "room": "lobby", "text": "bye all"})
		bob.waitType("msg", "from", "carol", "text", "bye all")
		carol.send(map[string]any{"type": "leave", "room": "lobby"})
		carol.waitType("left", "room", "lobby")
		bob.waitType("leave", "room", "lobby", "nick", "carol")
		alice[0].waitType("leave", "nick", "carol")
		if n := carol.count(isMsg("join", "nick", "carol")); n != 0 {
			t.Errorf("carol got %d notices of her own join", n)
		}

		// alice closes two tabs: she is still present, no leave notice.
		alice[0].close()
		alice[1].close()
		waitFor(t, waitTimeout, "alice's closed tabs to leave the room", func() bool {
			bob.send(map[string]any{"type": "members", "room": "lobby"})
			time.Sleep(50 * time.Millisecond)
			bob.mu.Lock()
			defer bob.mu.Unlock()
			for i := len(bob.got) - 1; i >= 0; i-- {
				if isMsg("members", "room", "lobby")(bob.got[i]) {
					return memberTabs(bob.got[i])["alice"] == 1
				}
			}
			return false
		})
		if n := bob.count(isMsg("leave", "nick", "alice")); n != 0 {
			t.Errorf("bob got %d leave notices for alice while one of her tabs is still in the room", n)
		}
		// The last tab closes: one leave notice.
		alice[2].close()
		bob.waitType("leave", "room", "lobby", "nick", "alice")
		if n := bob.count(isMsg("join", "nick", "alice")); n != 1 {
			t.Errorf("bob got %d join notices for alice, want 1", n)
		}
		bob.send(map[string]any{"type": "pm", "to": "alice", "text": "gone?"})
		waitFor(t, waitTimeout, "a second offline error", func() bool {
			return bob.count(isMsg("error", "code", "offline")) == 2
		})
		if n := bob.count(isMsg("leave", "nick", "alice")); n != 1 {
			t.Errorf("bob got %d leave notices for alice, want 1", n)
		}
	})
}

// TestChatProtocolErrors: bad input gets an error message, never a dropped
// connection; ping gets pong.
func TestChatProtocolErrors(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		s := start(t, example(lang, "chat"), runOpts{workers: 2})
		c := dialChat(t, s, "dave")
		c.send(map[string]any{"type": "ping", "t": 12345})
		c.waitType("pong", "t", "12345")
		c.sendRaw("this is not json")
		c.waitType("error", "code", "bad_json")
		c.send(map[string]any{"type": "say", "room": "lobby", "text": "too early"})
		c.waitType("error", "code", "not_logged_in", "request", "say")
		c.send(map[string]any{"type": "login", "nick": "no spaces allowed"})
		c.waitType("error", "code", "bad_nick", "request", "login")
		c.send(map[string]any{"type": "login", "nick": "dave"})
		c.waitType("welcome", "nick", "dave")
		c.send(map[string]any{"type": "login", "nick": "dave2"})
		c.waitType("error", "code", "logged_in")
		c.send(map[string]any{"type": "dance"})
		c.waitType("error", "code", "bad_type", "request", "dance")
		c.send(map[string]any{"type": "say", "room": "dev", "text": "not joined"})
		c.waitType("error", "code", "not_in_room", "request", "say")
		c.send(map[string]any{"type": "join", "room": "../etc"})
		c.waitType("error", "code", "bad_room", "request", "join")
		c.join("dev")
		c.send(map[string]any{"type": "say", "room": "dev", "text": "   "})
		c.waitType("error", "code", "bad_text", "request", "say")
		c.send(map[string]any{"type": "say", "room": "dev", "text": strings.Repeat("x", 4001)})
		waitFor(t, waitTimeout, "a second bad_text error", func() bool {
			return c.count(isMsg("error", "code", "bad_text")) == 2
		})
		c.send(map[string]any{"type": "say", "room": "dev", "text": "  héllo wörld ✓  "})
		c.waitType("msg", "room", "dev", "from", "dave", "text", "héllo wörld ✓")
		select {
		case <-c.closed:
			t.Fatalf("connection closed: %v", c.err)
		default:
		}
	})
}

// TestChatServesPage: the chat server answers plain HTTP with its web
// client from document_root, whatever the working folder, and nothing
// outside it.
func TestChatServesPage(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		s := start(t, example(lang, "chat"), runOpts{workers: 2})
		base := "http://" + s.addr()
		for _, tc := range []struct {
			path, ctype, body string
			status            int
		}{
			{"/", "text/html", "<title>imscript chat</title>", 200},
			{"/index.html", "text/html", `<script src="chat.js">`, 200},
			{"/chat.js", "javascript", "new WebSocket(", 200},
			{"/chat.css", "text/css", ".composer", 200},
			{"/healthz", "text/plain", "ok", 200},
			{"/nope", "", "", 404},
			{"/../../go.mod", "", "", 0},
			{"/%2e%2e/%2e%2e/go.mod", "", "", 0},
		} {
			status, ctype, body := rawPathGet(t, base+tc.path)
			if strings.Contains(body, "module github.com/imscript") {
				t.Errorf("GET %s leaked a file outside document_root: %d %q", tc.path, status, abbrev([]byte(body)))
				continue
			}
			if tc.status == 0 {
				if status == 200 {
					t.Errorf("GET %s = 200, want it refused", tc.path)
				}
				continue
			}
			if status != tc.status || !strings.Contains(ctype, tc.ctype) || !strings.Contains(body, tc.body) {
				t.Errorf("GET %s = %d %q %q, want %d %q containing %q", tc.path, status, ctype, abbrev([]byte(body)), tc.status, tc.ctype, tc.body)
			}
		}
	})
}

// TestChatPageFromAnyFolder: the chat server finds its page (document_root
// is computed from imscript.script_dir) when started from another folder
// with a relative script path. start() runs scripts from their own folder,
// so this test starts the process itself.
func TestChatPageFromAnyFolder(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		cwd := t.TempDir()
		rel, err := filepath.Rel(cwd, example(lang, "chat"))
		if err != nil {
			t.Fatal(err)
		}
		port := freePort(t)
		stderr := &syncBuffer{}
		cmd := exec.Command(binPath, "run", "--no-watch", "--workers", "1", rel)
		cmd.Dir = cwd
		cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port))
		cmd.Stderr = stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			if t.Failed() {
				t.Logf("---- stderr ----\n%s", stderr.String())
			}
		})
		waitFor(t, startTimeout, "the chat server to start", func() bool {
			return strings.Contains(stderr.String(), "imscript started")
		})
		status, ctype, body := rawPathGet(t, "http://127.0.0.1:"+strconv.Itoa(port)+"/")
		if status != 200 || !strings.Contains(ctype, "text/html") || !strings.Contains(body, "<title>imscript chat</title>") {
			t.Errorf("GET / from %s with %s = %d %q %q, want the chat page", cwd, rel, status, ctype, abbrev([]byte(body)))
		}
	})
}

// rawPathGet fetches url with a raw path (no client-side cleaning).
func rawPathGet(t *testing.T, url string) (status int, ctype, body string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if i := strings.Index(url[len("http://"):], "/"); i >= 0 {
		req.URL.Opaque = url[len("http://")+i:] // keep "..": the server must refuse it
	}
	client := &http.Client{Timeout: ioTimeout}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", url, err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}
