package tests

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
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
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	_ "modernc.org/sqlite"
)

// The chat example (scripts/<lang>/chat.<lang>, protocol in
// scripts/web/chat/PROTOCOL.md) driven by real HTTP and WebSocket clients.

// chatEnv lifts the per-user and per-IP limits for tests that send in
// bursts or log in many users from 127.0.0.1 (TestChatLimits keeps them).
func chatEnv(extra ...string) map[string]string {
	env := map[string]string{
		"CHAT_MSG_RATE":       "100000",
		"CHAT_MSG_BURST":      "100000",
		"CHAT_LOGINS_PER_MIN": "100000",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	return env
}

func startChat(t *testing.T, lang string, env map[string]string, args ...string) *server {
	t.Helper()
	return start(t, example(lang, "chat"), runOpts{workers: 2, env: env, args: args})
}

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

func (m chatMsg) num(k string) int {
	f, _ := m[k].(float64)
	return int(f)
}

func (m chatMsg) list(k string) []any {
	l, _ := m[k].([]any)
	return l
}

func (m chatMsg) obj(k string) chatMsg {
	o, _ := m[k].(map[string]any)
	return chatMsg(o)
}

// objs is the list k as messages.
func (m chatMsg) objs(k string) []chatMsg {
	var out []chatMsg
	for _, x := range m.list(k) {
		if o, ok := x.(map[string]any); ok {
			out = append(out, chatMsg(o))
		}
	}
	return out
}

// ---- accounts over HTTP ----

// account is a registered user and its session cookie.
type account struct {
	user, password string
	cookie         string // the chat_session cookie's value
}

var chatHTTP = &http.Client{Timeout: ioTimeout}

// chatAPI calls a JSON endpoint; it returns the status, the decoded body
// and the response (for its cookies).
func chatAPI(t *testing.T, s *server, method, path string, body any, cookie string) (int, chatMsg, *http.Response) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://"+s.addr()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: "chat_session", Value: cookie})
	}
	resp, err := chatHTTP.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	var m chatMsg
	if len(raw) > 0 && json.Unmarshal(raw, &m) != nil {
		m = chatMsg{"raw": string(raw)}
	}
	return resp.StatusCode, m, resp
}

func sessionCookie(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == "chat_session" {
			return c
		}
	}
	return nil
}

func password(user string) string { return user + "-pass-123" }

// register makes an account (password from the name) and returns it
// logged in.
func register(t *testing.T, s *server, user string) *account {
	t.Helper()
	status, body, resp := chatAPI(t, s, "POST", "/api/register", map[string]any{"user": user, "password": password(user)}, "")
	ck := sessionCookie(resp)
	if status != 201 || body.str("user") != user || ck == nil || ck.Value == "" {
		t.Fatalf("register %s = %d %v (cookie %v), want 201 with a session cookie", user, status, body, ck)
	}
	return &account{user: user, password: password(user), cookie: ck.Value}
}

// login logs an existing account in again: a new session.
func login(t *testing.T, s *server, user, pw string) *account {
	t.Helper()
	status, body, resp := chatAPI(t, s, "POST", "/api/login", map[string]any{"user": user, "password": pw}, "")
	ck := sessionCookie(resp)
	if status != 200 || ck == nil || ck.Value == "" {
		t.Fatalf("login %s = %d %v, want 200 with a session cookie", user, status, body)
	}
	return &account{user: body.str("user"), password: pw, cookie: ck.Value}
}

// ---- WebSocket clients ----

// chatClient is one WebSocket connection to a chat server. A goroutine reads
// every message into got; tests poll got with deadlines.
type chatClient struct {
	t    *testing.T
	nick string
	conn *websocket.Conn

	wmu sync.Mutex // gorilla allows one writer at a time

	mu     sync.Mutex
	got    []chatMsg
	texts  map[string]int   // room messages ("msg") by text: how often each arrived
	order  []string         // room message texts in arrival order
	seqs   map[string][]int // room -> the seqs of its msgs in arrival order
	err    error            // why the read loop ended
	closed chan struct{}
}

// dialWS opens a WebSocket with the session cookie; it returns the HTTP
// status of a refused handshake.
func dialWS(s *server, cookie string, header ...string) (*websocket.Conn, int, string, error) {
	d := websocket.Dialer{HandshakeTimeout: ioTimeout}
	h := http.Header{}
	for i := 0; i+1 < len(header); i += 2 {
		h.Set(header[i], header[i+1])
	}
	if cookie != "" {
		h.Set("Cookie", "chat_session="+cookie)
	}
	conn, resp, err := d.Dial("ws://"+s.addr()+"/ws", h)
	status, body := 0, ""
	if resp != nil {
		status = resp.StatusCode
		if resp.Body != nil {
			b, _ := io.ReadAll(resp.Body)
			body = string(b)
		}
	}
	return conn, status, body, err
}

// dialChat connects as a and says hello (welcome awaited).
func dialChat(t *testing.T, s *server, a *account) *chatClient {
	t.Helper()
	c := connectChat(t, s, a)
	c.hello(nil)
	return c
}

// connectChat connects as a without saying hello.
func connectChat(t *testing.T, s *server, a *account) *chatClient {
	t.Helper()
	conn, status, body, err := dialWS(s, a.cookie)
	if err != nil {
		t.Fatalf("dial chat %s as %q: %v (HTTP %d %s)", s.addr(), a.user, err, status, body)
	}
	c := &chatClient{t: t, nick: a.user, conn: conn, texts: map[string]int{}, seqs: map[string][]int{}, closed: make(chan struct{})}
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
			c.seqs[m.str("room")] = append(c.seqs[m.str("room")], m.num("seq"))
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

// all returns the messages received so far that match.
func (c *chatClient) all(match func(chatMsg) bool) []chatMsg {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []chatMsg
	for _, m := range c.got {
		if match(m) {
			out = append(out, m)
		}
	}
	return out
}

// index is the position of the first received message that matches, or -1.
func (c *chatClient) index(match func(chatMsg) bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, m := range c.got {
		if match(m) {
			return i
		}
	}
	return -1
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

// waitNth waits for the n-th (1-based) message matching match.
func (c *chatClient) waitNth(what string, n int, match func(chatMsg) bool) chatMsg {
	c.t.Helper()
	var found chatMsg
	waitFor(c.t, waitTimeout, fmt.Sprintf("%s to receive %s #%d", c.nick, what, n), func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		k := 0
		for _, m := range c.got {
			if match(m) {
				if k++; k == n {
					found = m
					return true
				}
			}
		}
		return false
	})
	return found
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

// hello binds the connection to its user (recovering the personal
// channel after inbox.since when given) and waits for the welcome.
func (c *chatClient) hello(inbox map[string]any) chatMsg {
	c.t.Helper()
	m := map[string]any{"type": "hello"}
	if inbox != nil {
		m["inbox"] = inbox
	}
	c.send(m)
	return c.waitType("welcome", "user", c.nick)
}

// join joins room and returns the joined reply (the n-th joined of that
// room on this connection when joined before).
func (c *chatClient) join(room string, opts ...any) chatMsg {
	c.t.Helper()
	n := c.count(isMsg("joined", "room", room)) + 1
	m := map[string]any{"type": "join", "room": room}
	for i := 0; i+1 < len(opts); i += 2 {
		m[opts[i].(string)] = opts[i+1]
	}
	c.send(m)
	return c.waitNth("joined "+room, n, isMsg("joined", "room", room))
}

// say sends a room message.
func (c *chatClient) say(room, text string) {
	c.t.Helper()
	c.send(map[string]any{"type": "say", "room": room, "text": text})
}

// close closes the connection and waits until its read loop has ended.
func (c *chatClient) close() {
	c.conn.Close()
	<-c.closed
}

// roomSeqs is the seqs of room's msgs received, in order.
func (c *chatClient) roomSeqs(room string) []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.seqs[room])
}

// memberOnline maps user -> online from a members/joined reply.
func memberOnline(m chatMsg) map[string]bool {
	out := map[string]bool{}
	for _, e := range m.objs("members") {
		out[e.str("user")] = e["online"] == true
	}
	return out
}

// seqsOf is the seq of each message of a list.
func seqsOf(ms []chatMsg) []int {
	out := make([]int, len(ms))
	for i, m := range ms {
		out[i] = m.num("seq")
	}
	return out
}

// seqRange is from, from+1, ..., to.
func seqRange(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

// roomOf returns the entry of room in a rooms/welcome list.
func roomOf(m chatMsg, room string) chatMsg {
	for _, r := range m.objs("rooms") {
		if r.str("name") == room {
			return r
		}
	}
	return nil
}

// convWith returns the conversation with user in a welcome.
func convWith(m chatMsg, user string) chatMsg {
	for _, c := range m.objs("conversations") {
		if c.str("with") == user {
			return c
		}
	}
	return nil
}

// ---- tests ----

// TestChatBroadcast: 200 connections (20 users with 10 tabs each) in one
// room, 10 of them send 20 messages each at once; every connection
// receives all 200 messages exactly once, with contiguous seqs, and each
// sender's messages in the order sent (worker_num 2).
func TestChatBroadcast(t *testing.T) {
	t.Parallel()
	const (
		users   = 20
		tabs    = 10
		senders = 10
		perSend = 20
	)
	eachLang(t, func(t *testing.T, lang string) {
		s := startChat(t, lang, chatEnv())
		accts := make([]*account, users)
		for i := range accts {
			accts[i] = register(t, s, fmt.Sprintf("u%02d", i))
		}
		cs := make([]*chatClient, 0, users*tabs)
		// Connect 20 at a time: a burst of 400 handshakes (both languages
		// run at once) would only test the listen backlog.
		for range tabs {
			batch := make([]*chatClient, users)
			for i, a := range accts {
				batch[i] = connectChat(t, s, a)
				batch[i].send(map[string]any{"type": "hello"})
				batch[i].send(map[string]any{"type": "join", "room": "lobby"})
			}
			for _, c := range batch {
				c.waitType("joined", "room", "lobby")
			}
			cs = append(cs, batch...) // the senders: the first tab of the first users

		}
		start := cs[0].all(isMsg("joined", "room", "lobby"))[0].num("seq")
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
			seqs := slices.Clone(c.seqs["lobby"])
			c.mu.Unlock()
			if want := seqRange(start+1, start+total); !slices.Equal(seqs, want) {
				t.Errorf("%s got seqs %v, want %d..%d in order", c.nick, seqs, start+1, start+total)
			}
			if t.Failed() {
				return
			}
		}
		// Every message also names its room and sender, and has a ts.
		m := cs[len(cs)-1].waitType("msg", "text", cs[3].nick+"-07")
		if m.str("room") != "lobby" || m.str("from") != cs[3].nick || m.num("ts") < 1e12 {
			t.Errorf("msg = %v, want room lobby, from %s and a ts in ms", m, cs[3].nick)
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

// TestChatAccounts: register, log in, wrong password and unknown user (one
// answer, similar time), /api/me, logout; the session cookie is HttpOnly
// and SameSite=Lax.
func TestChatAccounts(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		s := startChat(t, lang, chatEnv())
		status, body, resp := chatAPI(t, s, "POST", "/api/register", map[string]any{"user": "alice", "password": password("alice")}, "")
		ck := sessionCookie(resp)
		if status != 201 || body.str("user") != "alice" || ck == nil {
			t.Fatalf("register = %d %v, want 201 {user: alice} and a cookie", status, body)
		}
		if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.MaxAge <= 0 {
			t.Errorf("session cookie = %+v, want HttpOnly, SameSite=Lax, Path=/, a Max-Age", ck)
		}
		if strings.Count(ck.Value, ".") != 2 {
			t.Errorf("session cookie value %q is not a JWT", ck.Value)
		}
		alice := &account{user: "alice", password: password("alice"), cookie: ck.Value}

		for _, tc := range []struct {
			user, pw string
			status   int
			code     string
		}{
			{"alice", "another-password", 409, "taken"},
			{"ALICE", "another-password", 409, "taken"}, // names are unique whatever the case
			{"bob", "short", 422, "bad_password"},
			{"no spaces", "long enough", 422, "bad_user"},
			{strings.Repeat("x", 25), "long enough", 422, "bad_user"},
		} {
			status, body, _ := chatAPI(t, s, "POST", "/api/register", map[string]any{"user": tc.user, "password": tc.pw}, "")
			if status != tc.status || body.str("error") != tc.code || body.str("message") == "" {
				t.Errorf("register %q = %d %v, want %d %s with a message", tc.user, status, body, tc.status, tc.code)
			}
		}
		if status, body, _ := chatAPI(t, s, "POST", "/api/register", "not an object", ""); status != 400 {
			t.Errorf("register with a string body = %d %v, want 400", status, body)
		}

		if status, body, _ := chatAPI(t, s, "GET", "/api/me", nil, alice.cookie); status != 200 || body.str("user") != "alice" {
			t.Errorf("me = %d %v, want 200 alice", status, body)
		}
		if status, body, _ := chatAPI(t, s, "GET", "/api/me", nil, ""); status != 401 || body.str("error") != "unauthorized" {
			t.Errorf("me without a cookie = %d %v, want 401 unauthorized", status, body)
		}

		// Log in: right password (any case of the name), wrong one, unknown user.
		again := login(t, s, "Alice", alice.password)
		if again.user != "alice" || again.cookie == alice.cookie {
			t.Errorf("login = %+v, want user alice and a new session", again)
		}
		_, wrong, _ := chatAPI(t, s, "POST", "/api/login", map[string]any{"user": "alice", "password": "not-her-password"}, "")
		_, unknown, _ := chatAPI(t, s, "POST", "/api/login", map[string]any{"user": "nobody", "password": "not-her-password"}, "")
		if wrong.str("error") != "bad_credentials" || wrong.str("message") == "" {
			t.Errorf("wrong password = %v, want bad_credentials with a message", wrong)
		}
		if fmt.Sprint(wrong) != fmt.Sprint(unknown) {
			t.Errorf("wrong password answers %v but unknown user %v: they must be the same", wrong, unknown)
		}
		// ... and they take about as long (both check a password hash): the
		// fastest of 7 tries each, taken in turns (other tests load the
		// machine meanwhile).
		fastest := map[string]time.Duration{}
		for range 7 {
			for _, user := range []string{"alice", "nobody"} {
				t0 := time.Now()
				status, _, _ := chatAPI(t, s, "POST", "/api/login", map[string]any{"user": user, "password": "not-the-password"}, "")
				d := time.Since(t0)
				if status != 401 {
					t.Fatalf("login %s with a wrong password = %d, want 401", user, status)
				}
				if f, ok := fastest[user]; !ok || d < f {
					fastest[user] = d
				}
			}
		}
		tw, tu := fastest["alice"], fastest["nobody"]
		t.Logf("login with a wrong password: fastest %v; unknown user: fastest %v", tw, tu)
		if tu*5 < tw*2 || tw*5 < tu*2 {
			t.Errorf("wrong password takes %v, unknown user %v: the timing tells them apart", tw, tu)
		}
		if status, _, _ := chatAPI(t, s, "POST", "/api/login", map[string]any{"user": "alice"}, ""); status != 401 {
			t.Errorf("login without a password = %d, want 401", status)
		}

		// Log out: that session ends (cookie cleared, /api/me and the
		// WebSocket refuse it); the other session goes on.
		status, _, resp = chatAPI(t, s, "POST", "/api/logout", nil, again.cookie)
		if ck := sessionCookie(resp); status != 200 || ck == nil || ck.MaxAge >= 0 {
			t.Errorf("logout = %d, cookie %+v: want 200 and the cookie removed", status, ck)
		}
		if status, _, _ := chatAPI(t, s, "GET", "/api/me", nil, again.cookie); status != 401 {
			t.Errorf("me after logout = %d, want 401", status)
		}
		if _, status, _, err := dialWS(s, again.cookie); err == nil || status != 401 {
			t.Errorf("WebSocket with a logged-out session: status %d, err %v; want 401", status, err)
		}
		if status, _, _ := chatAPI(t, s, "GET", "/api/me", nil, alice.cookie); status != 200 {
			t.Errorf("me with the other session after logout = %d, want 200", status)
		}
	})
}

// jwtHS256 signs claims as a JWT with key.
func jwtHS256(header, claims map[string]any, key []byte) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	in := enc(header) + "." + enc(claims)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// chatSecret reads the session key the server keeps in DATA/chat.db.
func chatSecret(t *testing.T, dir string) []byte {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dir, "chat.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v string
	if err := db.QueryRow("SELECT value FROM meta WHERE key = 'jwt_secret'").Scan(&v); err != nil {
		t.Fatalf("read the session key: %v", err)
	}
	return []byte(v)
}

// TestChatHandshakeAuth: the WebSocket upgrade is refused with HTTP 401
// without a session, with a forged token (another key, alg none, a changed
// claim) and with an expired one (signed with the server's own key), and
// with 403 from a page of another origin; a valid session upgrades.
func TestChatHandshakeAuth(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		dir := t.TempDir()
		s := startChat(t, lang, chatEnv("CHAT_DATA", dir))
		alice := register(t, s, "alice")
		key := chatSecret(t, dir)
		now := time.Now().Unix()
		hs := map[string]any{"alg": "HS256", "typ": "JWT"}
		parts := strings.Split(alice.cookie, ".")
		for _, tc := range []struct {
			name, token, why string
		}{
			{"no cookie", "", ""},
			{"garbage", "not-a-token", "invalid"},
			{"another key", jwtHS256(hs, map[string]any{"sub": "alice", "jti": "x", "exp": now + 3600}, []byte("guess")), "invalid"},
			{"alg none", base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + ".", "invalid"},
			{"changed claim", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"bob","jti":"x","exp":`+strconv.FormatInt(now+3600, 10)+`}`)) + "." + parts[2], "invalid"},
			{"expired", jwtHS256(hs, map[string]any{"sub": "alice", "jti": "x", "iat": now - 7200, "exp": now - 3600}, key), "expired"},
		} {
			conn, status, body, err := dialWS(s, tc.token)
			if err == nil {
				conn.Close()
				t.Errorf("%s: the WebSocket upgraded, want HTTP 401", tc.name)
				continue
			}
			var m chatMsg
			_ = json.Unmarshal([]byte(body), &m)
			if status != 401 || m.str("error") != "unauthorized" || !strings.Contains(m.str("message"), tc.why) {
				t.Errorf("%s: handshake answered %d %q, want 401 {error: unauthorized, message: ...%s...}", tc.name, status, body, tc.why)
			}
		}
		// A page of another site (or another port) may not use the cookie.
		if _, status, body, err := dialWS(s, alice.cookie, "Origin", "http://evil.example"); err == nil || status != 403 || !strings.Contains(body, "forbidden") {
			t.Errorf("handshake from another origin = %d %q, want 403 forbidden", status, body)
		}
		conn, status, _, err := dialWS(s, alice.cookie, "Origin", "http://"+s.addr())
		if err != nil {
			t.Fatalf("handshake from the chat's own page = %d: %v", status, err)
		}
		conn.Close()
		// A token signed with the right key for a session that exists works.
		c := dialChat(t, s, alice)
		c.send(map[string]any{"type": "ping", "t": 1})
		c.waitType("pong", "t", "1")
	})
}

// TestChatTwoSessions: one account logged in from two browsers (two
// sessions) gets its room and private messages on both, and logging out
// one leaves the other connected.
func TestChatTwoSessions(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		s := startChat(t, lang, chatEnv())
		alice1 := register(t, s, "alice")
		alice2 := login(t, s, "alice", alice1.password)
		bob := register(t, s, "bob")
		a1, a2, b := dialChat(t, s, alice1), dialChat(t, s, alice2), dialChat(t, s, bob)
		for _, c := range []*chatClient{a1, a2, b} {
			c.join("lobby")
		}
		b.say("lobby", "hello both alices")
		a1.waitType("msg", "text", "hello both alices")
		a2.waitType("msg", "text", "hello both alices")
		b.send(map[string]any{"type": "pm", "to": "alice", "text": "psst"})
		pm1 := a1.waitType("pm", "from", "bob", "text", "psst")
		pm2 := a2.waitType("pm", "from", "bob", "text", "psst")
		if pm1.num("id") == 0 || pm1.num("id") != pm2.num("id") {
			t.Errorf("pm ids %v and %v, want the same stored message", pm1, pm2)
		}
		a2.send(map[string]any{"type": "pm", "to": "bob", "text": "answer from browser 2"})
		b.waitType("pm", "from", "alice", "text", "answer from browser 2")
		a1.waitType("pm", "from", "alice", "to", "bob", "text", "answer from browser 2")

		chatAPI(t, s, "POST", "/api/logout", nil, alice2.cookie)
		<-a2.closed
		if ce, ok := a2.err.(*websocket.CloseError); !ok || ce.Code != 4001 {
			t.Errorf("the logged-out connection ended with %v, want close 4001", a2.err)
		}
		b.say("lobby", "still there?")
		a1.waitType("msg", "text", "still there?")
		select {
		case <-a1.closed:
			t.Fatalf("the other session was closed too: %v", a1.err)
		default:
		}
	})
}

// TestChatHistory: joining shows the last 50 messages of the room; "load
// older" pages back through all of them.
func TestChatHistory(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		s := startChat(t, lang, chatEnv())
		alice := dialChat(t, s, register(t, s, "alice"))
		alice.join("dev")
		for i := 1; i <= 120; i++ {
			alice.say("dev", fmt.Sprintf("m%03d", i))
		}
		alice.waitType("msg", "text", "m120")

		bob := dialChat(t, s, register(t, s, "bob"))
		j := bob.join("dev")
		hist := j.objs("history")
		if got := seqsOf(hist); !slices.Equal(got, seqRange(71, 120)) || j["more"] != true {
			t.Fatalf("joined history seqs %v more %v, want 71..120 and more", got, j["more"])
		}
		if hist[0].str("text") != "m071" || hist[0].str("from") != "alice" || hist[0].str("type") != "msg" || hist[0].num("ts") < 1e12 {
			t.Errorf("history[0] = %v, want msg m071 from alice with a ts", hist[0])
		}
		if j.num("seq") != 120 || j.str("epoch") == "" {
			t.Errorf("joined seq %d epoch %q, want 120 and an epoch", j.num("seq"), j.str("epoch"))
		}
		bob.send(map[string]any{"type": "history", "room": "dev", "before": 71})
		h := bob.waitType("history", "room", "dev")
		if got := seqsOf(h.objs("messages")); !slices.Equal(got, seqRange(21, 70)) || h["more"] != true {
			t.Errorf("history before 71 = %v more %v, want 21..70 and more", got, h["more"])
		}
		bob.send(map[string]any{"type": "history", "room": "dev", "before": 21})
		h = bob.waitNth("the second history", 2, isMsg("history", "room", "dev"))
		if got := seqsOf(h.objs("messages")); !slices.Equal(got, seqRange(1, 20)) || h["more"] != false {
			t.Errorf("history before 21 = %v more %v, want 1..20 and no more", got, h["more"])
		}
		bob.send(map[string]any{"type": "history", "room": "random", "before": 5})
		bob.waitType("error", "code", "not_in_room", "request", "history")
		bob.send(map[string]any{"type": "history", "room": "dev", "before": "x"})
		bob.waitType("error", "code", "bad_seq", "request", "history")
		// An empty room: an empty history, no more.
		j = bob.join("random")
		if len(j.list("history")) != 0 || j["more"] != false || j.num("seq") != 0 {
			t.Errorf("joined an empty room: %v, want no history", j)
		}
	})
}

// TestChatRecovery: a connection that drops re-joins with the last seq
// and epoch it saw and gets exactly the messages it missed, in order, no
// duplicate and no gap, while two others keep publishing all along.
func TestChatRecovery(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		s := startChat(t, lang, chatEnv())
		p1 := dialChat(t, s, register(t, s, "pub1"))
		p2 := dialChat(t, s, register(t, s, "pub2"))
		p1.join("lobby")
		p2.join("lobby")
		carolAcct := register(t, s, "carol")
		carol := dialChat(t, s, carolAcct)
		j := carol.join("lobby")
		epoch := j.str("epoch")

		var stop atomic.Bool
		var sent atomic.Int64
		var wg sync.WaitGroup
		defer func() { stop.Store(true); wg.Wait() }() // also when the test fails
		for _, p := range []*chatClient{p1, p2} {
			wg.Add(1)
			go func(p *chatClient) {
				defer wg.Done()
				for k := 0; !stop.Load(); k++ {
					if err := p.trySend(fmt.Sprintf(`{"type":"say","room":"lobby","text":"%s-%d"}`, p.nick, k)); err != nil {
						t.Error(err)
						return
					}
					sent.Add(1)
					time.Sleep(2 * time.Millisecond)
				}
			}(p)
		}
		for round := range 3 {
			waitFor(t, waitTimeout, "some messages before the drop", func() bool { return len(carol.roomSeqs("lobby")) > 20 })
			before := carol.roomSeqs("lobby")
			carol.close()
			last := before[len(before)-1]
			time.Sleep(100 * time.Millisecond) // messages go by meanwhile
			carol = connectChat(t, s, carolAcct)
			carol.hello(nil)
			j := carol.join("lobby", "since", last, "epoch", epoch)
			if j["recovered"] != true || j.list("history") != nil {
				t.Fatalf("round %d: re-join since %d = %v, want recovered and no history", round, last, j)
			}
			// The recovered messages came before the joined reply.
			if carol.index(isMsg("msg")) > carol.index(isMsg("joined")) {
				t.Errorf("round %d: a msg arrived after joined but none before it", round)
			}
			waitFor(t, waitTimeout, "messages after the re-join", func() bool {
				return len(carol.roomSeqs("lobby")) > 0 && carol.roomSeqs("lobby")[len(carol.roomSeqs("lobby"))-1] > j.num("seq")+5
			})
			got := carol.roomSeqs("lobby")
			if !slices.Equal(got, seqRange(last+1, last+len(got))) {
				t.Fatalf("round %d: after a drop at %d got seqs %v, want %d.. contiguous", round, last, got, last+1)
			}
			if got[0] != last+1 || got[len(got)-1] < j.num("seq") {
				t.Fatalf("round %d: recovered %v, want from %d through %d at least", round, got, last+1, j.num("seq"))
			}
		}
		stop.Store(true)
		wg.Wait()
		total := int(sent.Load())
		waitFor(t, waitTimeout, "carol to have every message", func() bool {
			got := carol.roomSeqs("lobby")
			return len(got) > 0 && got[len(got)-1] >= total
		})
		got := carol.roomSeqs("lobby")
		if got[len(got)-1] != total || !slices.Equal(got, seqRange(got[0], total)) {
			t.Errorf("carol's last connection got %d..%d (%d messages), want contiguous up to %d", got[0], got[len(got)-1], len(got), total)
		}
		t.Logf("%d messages published, carol dropped 3 times", total)
	})
}

// TestChatRecoveryLost: when history no longer reaches back to since (or
// the epoch is not the room's), joined says recovered = false and carries
// the last 50 messages instead.
func TestChatRecoveryLost(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		s := startChat(t, lang, chatEnv("CHAT_HISTORY", "60"))
		alice := dialChat(t, s, register(t, s, "alice"))
		bobAcct := register(t, s, "bob")
		bob := dialChat(t, s, bobAcct)
		alice.join("lobby")
		j := bob.join("lobby")
		for i := 1; i <= 10; i++ {
			alice.say("lobby", fmt.Sprintf("early %d", i))
		}
		bob.waitType("msg", "text", "early 10")
		bob.close()
		for i := 1; i <= 100; i++ {
			alice.say("lobby", fmt.Sprintf("late %d", i))
		}
		alice.waitType("msg", "text", "late 100")

		bob = dialChat(t, s, bobAcct)
		r := bob.join("lobby", "since", 10, "epoch", j.str("epoch"))
		if r["recovered"] != false || !slices.Equal(seqsOf(r.objs("history")), seqRange(61, 110)) {
			t.Fatalf("re-join since 10 with 60 kept = recovered %v history %v, want false and 61..110", r["recovered"], seqsOf(r.objs("history")))
		}
		if n := bob.count(isMsg("msg")); n != 0 {
			t.Errorf("%d msgs were pushed although recovery failed", n)
		}
		// Another epoch (history lost): the same.
		carol := dialChat(t, s, register(t, s, "carol"))
		r = carol.join("lobby", "since", 105, "epoch", "not-the-epoch")
		if r["recovered"] != false || len(r.list("history")) != 50 {
			t.Errorf("re-join with another epoch = %v, want recovered false and 50 messages", r)
		}
		// Recovery that does reach back: recovered.
		dave := dialChat(t, s, register(t, s, "dave"))
		r = dave.join("lobby", "since", 105, "epoch", j.str("epoch"))
		if r["recovered"] != true || !slices.Equal(dave.roomSeqs("lobby"), seqRange(106, 110)) {
			t.Errorf("re-join since 105 = %v with %v pushed, want recovered and 106..110", r["recovered"], dave.roomSeqs("lobby"))
		}
	})
}

// TestChatOfflinePM: a private message to a user who is offline is
// stored; at the next login it arrives through the personal channel
// (hello with the inbox position the client kept) and shows in the
// conversation list with its unread count.
func TestChatOfflinePM(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		s := startChat(t, lang, chatEnv())
		alice := dialChat(t, s, register(t, s, "alice"))
		bobAcct := register(t, s, "bob")
		bob := connectChat(t, s, bobAcct)
		w := bob.hello(nil)
		inbox := w.obj("inbox")
		if inbox.str("epoch") == "" {
			t.Fatalf("welcome inbox = %v, want a position with an epoch", inbox)
		}
		bob.close()

		alice.send(map[string]any{"type": "pm", "to": "bob", "text": "are you there?"})
		alice.send(map[string]any{"type": "pm", "to": "bob", "text": "call me when you are back"})
		mine := alice.waitType("pm", "to", "bob", "text", "call me when you are back")
		if n := alice.count(isMsg("error")); n != 0 {
			t.Errorf("alice got %d errors sending to an offline user: %v", n, alice.all(isMsg("error")))
		}
		alice.send(map[string]any{"type": "pm", "to": "nobody", "text": "?"})
		alice.waitType("error", "code", "no_such_user", "request", "pm")
		alice.send(map[string]any{"type": "pm", "to": "alice", "text": "me"})
		alice.waitType("error", "code", "bad_user", "request", "pm")

		// Bob logs in again (a new session) with the position he kept.
		bob2 := connectChat(t, s, login(t, s, "bob", bobAcct.password))
		w = bob2.hello(map[string]any{"since": inbox.num("seq"), "epoch": inbox.str("epoch")})
		pms := bob2.all(isMsg("pm", "from", "alice"))
		if len(pms) != 2 || pms[0].str("text") != "are you there?" || pms[1].str("text") != "call me when you are back" {
			t.Fatalf("bob recovered %v, want alice's 2 messages in order", pms)
		}
		if bob2.index(isMsg("pm")) > bob2.index(isMsg("welcome")) || w.obj("inbox")["recovered"] != true {
			t.Errorf("the recovered messages must come before the welcome (recovered %v)", w.obj("inbox")["recovered"])
		}
		if pms[1].num("seq") != pms[0].num("seq")+1 || pms[0].num("seq") != inbox.num("seq")+1 {
			t.Errorf("recovered seqs %d, %d after %d, want contiguous", pms[0].num("seq"), pms[1].num("seq"), inbox.num("seq"))
		}
		conv := convWith(w, "alice")
		if conv == nil || conv.num("unread") != 2 || conv.obj("last").str("text") != "call me when you are back" || conv.obj("last").num("id") != mine.num("id") {
			t.Errorf("welcome conversation with alice = %v, want 2 unread and the last message", conv)
		}
		// A browser that kept nothing sees them in the list and the history.
		bob3 := dialChat(t, s, bobAcct)
		if n := bob3.count(isMsg("pm")); n != 0 {
			t.Errorf("a hello without since got %d pms pushed", n)
		}
		bob3.send(map[string]any{"type": "pm_history", "with": "alice"})
		h := bob3.waitType("pm_history", "with", "alice")
		msgs := h.objs("messages")
		if len(msgs) != 2 || msgs[0].str("text") != "are you there?" || msgs[1].str("from") != "alice" || msgs[1].str("to") != "bob" || h["more"] != false {
			t.Errorf("pm_history = %v, want alice's 2 messages oldest first", h)
		}
	})
}

// TestChatUnreadAndSeen: unread counts per room and per conversation come
// from read pointers; reading one updates the user's other tabs and, in a
// private conversation, tells the sender "seen".
func TestChatUnreadAndSeen(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		s := startChat(t, lang, chatEnv())
		alice := dialChat(t, s, register(t, s, "alice"))
		alice.join("lobby")
		bobAcct := register(t, s, "bob") // a member of lobby from now on, nothing unread
		for i := 1; i <= 3; i++ {
			alice.say("lobby", fmt.Sprintf("news %d", i))
		}
		last := alice.waitType("msg", "text", "news 3").num("seq")
		alice.send(map[string]any{"type": "pm", "to": "bob", "text": "pm 1"})
		alice.send(map[string]any{"type": "pm", "to": "bob", "text": "pm 2"})
		pm2 := alice.waitType("pm", "text", "pm 2")

		bob := dialChat(t, s, bobAcct)
		w := bob.all(isMsg("welcome"))[0]
		if r := roomOf(w, "lobby"); r == nil || r.num("unread") != 3 || r["member"] != true {
			t.Errorf("bob's lobby in welcome = %v, want a member with 3 unread", r)
		}
		if r := roomOf(w, "dev"); r == nil || r["member"] != false || r["unread"] != nil {
			t.Errorf("bob's dev in welcome = %v, want not a member, no unread", r)
		}
		if c := convWith(w, "alice"); c == nil || c.num("unread") != 2 || c.num("seen") != 0 {
			t.Errorf("bob's conversation with alice = %v, want 2 unread", c)
		}
		bobTab2 := dialChat(t, s, bobAcct)
		j := bob.join("lobby")
		if j.num("read") != last-3 {
			t.Errorf("joined read = %d, want %d", j.num("read"), last-3)
		}
		bob.send(map[string]any{"type": "read", "room": "lobby", "seq": last})
		rd := bobTab2.waitType("read", "room", "lobby")
		if rd.num("upto") != last {
			t.Errorf("bob's other tab got %v, want read lobby %d", rd, last)
		}
		bob.send(map[string]any{"type": "rooms"})
		if r := roomOf(bob.waitType("rooms"), "lobby"); r.num("unread") != 0 {
			t.Errorf("lobby after reading = %v, want 0 unread", r)
		}
		alice.say("lobby", "news 4")
		bob.waitType("msg", "text", "news 4")
		bob.send(map[string]any{"type": "rooms"})
		if r := roomOf(bob.waitNth("rooms", 2, isMsg("rooms")), "lobby"); r.num("unread") != 1 {
			t.Errorf("lobby after one more = %v, want 1 unread", r)
		}

		// Bob reads the conversation: alice's tabs are told "seen".
		bob.send(map[string]any{"type": "read", "with": "alice", "id": pm2.num("id")})
		seen := alice.waitType("seen", "by", "bob")
		if seen.num("id") != pm2.num("id") || seen.num("seq") == 0 {
			t.Errorf("seen = %v, want id %d with a seq", seen, pm2.num("id"))
		}
		bobTab2.waitType("read", "with", "alice")
		// Reading again what was read already tells nobody.
		bob.send(map[string]any{"type": "read", "with": "alice", "id": pm2.num("id") - 1})
		bob.send(map[string]any{"type": "ping", "t": 7})
		bob.waitType("pong", "t", "7")
		alice.send(map[string]any{"type": "pm_history", "with": "bob"})
		if h := alice.waitType("pm_history", "with", "bob"); h.num("seen") != pm2.num("id") {
			t.Errorf("alice's pm_history seen = %v, want %d", h["seen"], pm2.num("id"))
		}
		bob3 := dialChat(t, s, bobAcct)
		if c := convWith(bob3.all(isMsg("welcome"))[0], "alice"); c.num("unread") != 0 {
			t.Errorf("bob's conversation after reading = %v, want 0 unread", c)
		}
		aliceAgain := dialChat(t, s, login(t, s, "alice", password("alice")))
		if c := convWith(aliceAgain.all(isMsg("welcome"))[0], "bob"); c.num("seen") != pm2.num("id") || c.num("unread") != 0 {
			t.Errorf("alice's conversation with bob = %v, want seen %d", c, pm2.num("id"))
		}
		if n := alice.count(isMsg("seen")); n != 1 {
			t.Errorf("alice got %d seen notices, want 1", n)
		}
	})
}

// TestChatTyping: typing notices reach the room (not the typist) and the
// other user of a conversation, and are never stored: no seq, not in
// history, not recovered.
func TestChatTyping(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		s := startChat(t, lang, chatEnv())
		alice := dialChat(t, s, register(t, s, "alice"))
		bobAcct := register(t, s, "bob")
		bob := dialChat(t, s, bobAcct)
		alice.join("lobby")
		j := bob.join("lobby")
		alice.say("lobby", "one")
		bob.waitType("msg", "text", "one")
		alice.send(map[string]any{"type": "typing", "room": "lobby"})
		ty := bob.waitType("typing", "room", "lobby", "from", "alice")
		if ty.num("seq") != 0 {
			t.Errorf("typing = %v, want no seq", ty)
		}
		alice.say("lobby", "two")
		two := bob.waitType("msg", "text", "two")
		if two.num("seq") != j.num("seq")+2 {
			t.Errorf("the msg after a typing notice has seq %d, want %d: typing took a seq", two.num("seq"), j.num("seq")+2)
		}
		carol := dialChat(t, s, register(t, s, "carol"))
		for _, m := range carol.join("lobby").objs("history") {
			if m.str("type") != "msg" {
				t.Errorf("history holds %v", m)
			}
		}
		if n := alice.count(isMsg("typing")); n != 0 {
			t.Errorf("the typist got %d of her own typing notices", n)
		}

		// In a conversation: bob sees it; his personal channel does not keep it.
		pos := bob.all(isMsg("welcome"))[0].obj("inbox")
		alice.send(map[string]any{"type": "typing", "to": "bob"})
		bob.waitType("typing", "from", "alice", "to", "bob")
		alice.send(map[string]any{"type": "pm", "to": "bob", "text": "done typing"})
		pm := bob.waitType("pm", "text", "done typing")
		if pm.num("seq") != pos.num("seq")+1 {
			t.Errorf("pm seq %d after inbox %d, want the next: typing was stored", pm.num("seq"), pos.num("seq"))
		}
		bob.close()
		bob = connectChat(t, s, bobAcct)
		bob.hello(map[string]any{"since": pos.num("seq"), "epoch": pos.str("epoch")})
		if n := bob.count(isMsg("typing")); n != 0 || bob.count(isMsg("pm")) != 1 {
			t.Errorf("recovery gave %d typing notices and %d pms, want 0 and 1", n, bob.count(isMsg("pm")))
		}
	})
}

// TestChatLimits: the default limits: a user sending faster than 5
// messages a second (burst 10) gets rate_limited errors; the 6th log-in
// attempt from one address within a minute is refused with 429.
func TestChatLimits(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		s := startChat(t, lang, nil)
		alice := dialChat(t, s, register(t, s, "alice")) // attempt 1
		alice.join("lobby")
		for i := range 30 {
			alice.say("lobby", fmt.Sprintf("flood %d", i))
		}
		e := alice.waitType("error", "code", "rate_limited", "request", "say")
		if !strings.Contains(e.str("message"), "5 messages a second") {
			t.Errorf("rate_limited message %q, want it to say the limit", e.str("message"))
		}
		waitFor(t, waitTimeout, "30 answers", func() bool {
			return alice.count(isMsg("msg"))+alice.count(isMsg("error", "code", "rate_limited")) == 30
		})
		if n := alice.count(isMsg("msg")); n < 10 || n > 15 {
			t.Errorf("%d of 30 messages went through, want about the burst of 10", n)
		}
		time.Sleep(1200 * time.Millisecond) // tokens come back
		alice.say("lobby", "after a pause")
		alice.waitType("msg", "text", "after a pause")
		// The message size limit.
		alice.say("lobby", strings.Repeat("x", 4001))
		alice.waitType("error", "code", "bad_text", "request", "say")

		for i := 2; i <= 5; i++ {
			if status, body, _ := chatAPI(t, s, "POST", "/api/login", map[string]any{"user": "alice", "password": "wrong-password"}, ""); status != 401 {
				t.Fatalf("login attempt %d = %d %v, want 401", i, status, body)
			}
		}
		status, body, _ := chatAPI(t, s, "POST", "/api/login", map[string]any{"user": "alice", "password": password("alice")}, "")
		if status != 429 || body.str("error") != "rate_limited" || body.str("message") == "" {
			t.Errorf("6th login attempt = %d %v, want 429 rate_limited with a message", status, body)
		}
		status, _, _ = chatAPI(t, s, "POST", "/api/register", map[string]any{"user": "zed", "password": password("zed")}, "")
		if status != 429 {
			t.Errorf("register after 6 attempts = %d, want 429", status)
		}
	})
}

// TestChatPresence: several tabs of one user are one member: the room gets
// one presence notice when the first enters and one when the last leaves;
// joined lists the members with their state (members offline too).
func TestChatPresence(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		s := startChat(t, lang, chatEnv())
		bob := dialChat(t, s, register(t, s, "bob"))
		bob.join("lobby")
		aliceAcct := register(t, s, "alice")
		carolAcct := register(t, s, "carol") // a member of lobby, never online
		_ = carolAcct

		alice := make([]*chatClient, 3)
		for i := range alice {
			alice[i] = dialChat(t, s, aliceAcct)
		}
		alice[0].join("lobby")
		bob.waitType("presence", "room", "lobby", "user", "alice", "online", "true")
		alice[1].join("lobby")
		joined := alice[2].join("lobby")
		if got := memberOnline(joined); !got["alice"] || !got["bob"] || got["carol"] || len(got) != 3 {
			t.Errorf("joined members = %v, want alice and bob online, carol offline", got)
		}
		bob.send(map[string]any{"type": "members", "room": "lobby"})
		if got := memberOnline(bob.waitType("members", "room", "lobby")); !got["alice"] || len(got) != 3 {
			t.Errorf("members = %v", got)
		}
		bob.send(map[string]any{"type": "rooms"})
		if r := roomOf(bob.waitType("rooms"), "lobby"); r.num("count") != 2 {
			t.Errorf("rooms lobby = %v, want 2 online", r)
		}

		alice[0].close()
		alice[1].close()
		time.Sleep(300 * time.Millisecond)
		if n := bob.count(isMsg("presence", "user", "alice", "online", "false")); n != 0 {
			t.Errorf("bob got %d offline notices for alice while one of her tabs is still in the room", n)
		}
		alice[2].close()
		bob.waitType("presence", "room", "lobby", "user", "alice", "online", "false")
		if n := bob.count(isMsg("presence", "user", "alice", "online", "true")); n != 1 {
			t.Errorf("bob got %d online notices for alice, want 1", n)
		}
		for _, m := range bob.all(isMsg("presence")) {
			if m.num("seq") != 0 {
				t.Errorf("presence notice %v has a seq: it was stored", m)
			}
		}

		// leave: every tab of the user leaves the room, and it is no longer theirs.
		bob2 := dialChat(t, s, login(t, s, "bob", password("bob")))
		bob2.join("lobby")
		bob.send(map[string]any{"type": "leave", "room": "lobby"})
		bob.waitType("left", "room", "lobby")
		bob2.waitType("left", "room", "lobby")
		bob.say("lobby", "gone")
		bob.waitType("error", "code", "not_in_room", "request", "say")
		bob.send(map[string]any{"type": "rooms"})
		if r := roomOf(bob.waitNth("rooms", 2, isMsg("rooms")), "lobby"); r["member"] != false {
			t.Errorf("lobby after leaving = %v, want not a member", r)
		}
	})
}

// TestChatProtocolErrors: bad input gets an error message, never a dropped
// connection; ping gets pong.
func TestChatProtocolErrors(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		s := startChat(t, lang, chatEnv())
		c := connectChat(t, s, register(t, s, "dave"))
		c.send(map[string]any{"type": "ping", "t": 12345})
		c.waitType("pong", "t", "12345")
		c.sendRaw("this is not json")
		c.waitType("error", "code", "bad_json")
		c.send(map[string]any{"type": "say", "room": "lobby", "text": "too early"})
		c.waitType("error", "code", "not_logged_in", "request", "say")
		w := c.hello(nil)
		if w.num("heartbeat") != 60 || len(w.list("rooms")) < 3 || w.obj("limits").num("text") != 4000 {
			t.Errorf("welcome = %v, want heartbeat 60, the default rooms and the limits", w)
		}
		c.send(map[string]any{"type": "hello"})
		c.waitType("error", "code", "logged_in", "request", "hello")
		c.send(map[string]any{"type": "dance"})
		c.waitType("error", "code", "bad_type", "request", "dance")
		c.send(map[string]any{"type": "say", "room": "dev", "text": "not joined"})
		c.waitType("error", "code", "not_in_room", "request", "say")
		c.send(map[string]any{"type": "join", "room": "../etc"})
		c.waitType("error", "code", "bad_room", "request", "join")
		c.send(map[string]any{"type": "pm", "to": "no spaces", "text": "x"})
		c.waitType("error", "code", "bad_user", "request", "pm")
		c.send(map[string]any{"type": "read", "room": "dev", "seq": -1})
		c.waitType("error", "code", "bad_seq", "request", "read")
		c.join("dev")
		c.send(map[string]any{"type": "say", "room": "dev", "text": "   "})
		c.waitType("error", "code", "bad_text", "request", "say")
		c.send(map[string]any{"type": "say", "room": "dev", "text": strings.Repeat("x", 4001)})
		waitFor(t, waitTimeout, "a second bad_text error", func() bool {
			return c.count(isMsg("error", "code", "bad_text")) == 2
		})
		c.say("dev", "  héllo wörld ✓  ")
		c.waitType("msg", "room", "dev", "from", "dave", "text", "héllo wörld ✓")
		select {
		case <-c.closed:
			t.Fatalf("connection closed: %v", c.err)
		default:
		}
	})
}

// TestChatRestart: a restart of the server process with the same --data
// keeps accounts, sessions, private messages and room history: a client
// re-joins with its seq and epoch and recovers what it missed.
func TestChatRestart(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		dir := t.TempDir()
		s := startChat(t, lang, chatEnv(), "--data", dir)
		alice := register(t, s, "alice")
		bobAcct := register(t, s, "bob")
		a := dialChat(t, s, alice)
		b := dialChat(t, s, bobAcct)
		a.join("lobby")
		j := b.join("lobby")
		for i := 1; i <= 5; i++ {
			a.say("lobby", fmt.Sprintf("before %d", i))
		}
		b.waitType("msg", "text", "before 5")
		a.send(map[string]any{"type": "pm", "to": "bob", "text": "kept?"})
		b.waitType("pm", "text", "kept?")
		last := b.roomSeqs("lobby")
		s.kill()

		s = startChat(t, lang, chatEnv(), "--data", dir)
		login(t, s, "alice", alice.password) // the account is kept
		a = dialChat(t, s, alice)            // and the session (the key is kept)
		a.join("lobby")
		a.say("lobby", "after the restart")
		a.waitType("msg", "text", "after the restart")
		b = dialChat(t, s, bobAcct)
		r := b.join("lobby", "since", last[len(last)-1], "epoch", j.str("epoch"))
		if r["recovered"] != true || r.str("epoch") != j.str("epoch") {
			t.Fatalf("re-join after the restart = %v, want recovered in epoch %s", r, j.str("epoch"))
		}
		got := b.all(isMsg("msg"))
		if len(got) != 1 || got[0].str("text") != "after the restart" || got[0].num("seq") != last[len(last)-1]+1 {
			t.Errorf("recovered %v, want exactly the message sent after the restart", got)
		}
		c := dialChat(t, s, register(t, s, "carol"))
		if h := c.join("lobby").objs("history"); len(h) != 6 || h[0].str("text") != "before 1" {
			t.Errorf("history after the restart = %v, want the 6 messages", h)
		}
		b.send(map[string]any{"type": "pm_history", "with": "alice"})
		if h := b.waitType("pm_history"); len(h.list("messages")) != 1 {
			t.Errorf("pm_history after the restart = %v, want alice's message", h)
		}
	})
}

// TestChatServesPage: the chat server answers plain HTTP with its web
// client from document_root, whatever the working folder, and nothing
// outside it.
func TestChatServesPage(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		s := startChat(t, lang, nil)
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
