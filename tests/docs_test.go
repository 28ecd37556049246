package tests

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/gorilla/websocket"

	"github.com/imscript/imscript/internal/testutil"
	"github.com/imscript/imscript/stdlib/mail/mailtest"
)

// The docs' samples (README.md and docs/**/*.md) are checked against the
// built binary; docs/README.md states the convention:
//
//   - every ```lua and ```js block compiles (`imscript check`);
//   - every such block is run by a check: <!-- run: NAME --> (a server,
//     docsRunChecks), <!-- script: NAME --> (to its exit, docsScriptChecks)
//     or <!-- test: NAME --> (`imscript test`, docsTestChecks); see the
//     marks above TestDocsSamples;
//   - a ```lua block is followed by a ```js block unless marked
//     <!-- lua-only -->;
//   - every imscript command line in a ```sh block names an existing
//     command and existing flags;
//   - relative links point at existing files and headings.

// docBlock is one fenced code block of a Markdown file.
type docBlock struct {
	file  string // relative to the repository root
	line  int    // the line of the opening fence (1-based)
	info  string // the info string: lua, js, sh, go, text, ...
	body  string
	marks []string // the HTML comments just above the fence, e.g. "run: tcp-echo"
}

// docFile is one Markdown file: its fenced blocks, its headings' anchors and
// its links with their lines.
type docFile struct {
	path    string // relative to the repository root
	blocks  []docBlock
	anchors map[string]bool
	links   []docLink
}

type docLink struct {
	line   int
	target string
}

var (
	docMarkRE = regexp.MustCompile(`^<!--\s*(.*?)\s*-->$`)
	docLinkRE = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	docCodeRE = regexp.MustCompile("`[^`]*`")
)

// docFiles reads README.md and every .md file under docs/.
func docFiles(t *testing.T) []*docFile {
	t.Helper()
	paths := []string{"README.md"}
	err := filepath.WalkDir(filepath.Join(repoRoot, "docs"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".md") {
			rel, err := filepath.Rel(repoRoot, p)
			if err != nil {
				return err
			}
			paths = append(paths, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(paths[1:])
	var files []*docFile
	for _, p := range paths {
		f, err := parseDoc(p)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}

func parseDoc(rel string) (*docFile, error) {
	src, err := os.ReadFile(filepath.Join(repoRoot, rel))
	if err != nil {
		return nil, fmt.Errorf("read doc: %w", err)
	}
	f := &docFile{path: rel, anchors: map[string]bool{}}
	slugs := map[string]int{}
	var (
		cur   *docBlock
		body  []string
		marks []string
	)
	sc := bufio.NewScanner(strings.NewReader(string(src)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trim := strings.TrimSpace(line)
		if cur != nil {
			if strings.HasPrefix(trim, "```") && strings.Trim(trim, "`") == "" {
				cur.body = strings.Join(body, "\n") + "\n"
				f.blocks = append(f.blocks, *cur)
				cur, body = nil, nil
				continue
			}
			body = append(body, line)
			continue
		}
		if strings.HasPrefix(line, "```") {
			info := strings.Fields(strings.TrimPrefix(line, "```"))
			cur = &docBlock{file: rel, line: n, marks: marks}
			if len(info) > 0 {
				cur.info = info[0]
			}
			marks = nil
			continue
		}
		if m := docMarkRE.FindStringSubmatch(trim); m != nil {
			marks = append(marks, m[1])
			continue
		}
		if trim != "" {
			marks = nil
		}
		if strings.HasPrefix(line, "#") {
			s := docSlug(strings.TrimLeft(line, "#"))
			if k := slugs[s]; k > 0 {
				f.anchors[fmt.Sprintf("%s-%d", s, k)] = true
			} else {
				f.anchors[s] = true
			}
			slugs[s]++
		}
		if strings.HasPrefix(line, "    ") {
			continue // an indented code block (or a list's continuation: no links there)
		}
		for _, m := range docLinkRE.FindAllStringSubmatch(docCodeRE.ReplaceAllString(line, ""), -1) {
			f.links = append(f.links, docLink{line: n, target: m[1]})
		}
	}
	if cur != nil {
		return nil, fmt.Errorf("%s:%d: a code block is never closed", rel, cur.line)
	}
	return f, sc.Err()
}

// docSlug is GitHub's anchor for a heading: lower case, punctuation dropped,
// spaces as hyphens.
func docSlug(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(h)) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

func (b docBlock) mark(prefix string) (string, bool) {
	for _, m := range b.marks {
		if rest, ok := strings.CutPrefix(m, prefix); ok {
			return strings.TrimSpace(rest), true
		}
	}
	return "", false
}

func (b docBlock) where() string { return fmt.Sprintf("%s:%d", b.file, b.line) }

// docsUpstream is an HTTP server for the samples that fetch: UPSTREAM.
func docsUpstream(t *testing.T) map[string]string {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept") == "application/json" {
			w.Header().Set("Content-Type", "application/json")
		}
		io.WriteString(w, "upstream says hi")
	}))
	t.Cleanup(up.Close)
	return map[string]string{"UPSTREAM": up.URL + "/x"}
}

// docsLoginKeys is the EC key pair (ES256) docs/api/identity.md's login
// service signs with.
func docsLoginKeys(t *testing.T) map[string]string {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"JWT_PRIVATE_KEY": string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})),
		"JWT_PUBLIC_KEY":  string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})),
	}
}

// docsRunChecks start the samples marked <!-- run: NAME --> and talk to
// them.
var docsRunChecks = map[string]func(t *testing.T, d *docsSample){
	// The quick start's echo: a line comes back after "echo: "; then, as
	// its step 4 says, an edit changes the reply on the same connection and
	// a typo only logs an error.
	"tcp-echo": func(t *testing.T, d *docsSample) {
		s := d.start(runOpts{watch: true})
		c := dial(t, s.addr())
		defer c.Close()
		roundTrip(t, c, []byte("hello docs\n"), []byte("echo: hello docs\n"))
		src, err := os.ReadFile(s.script)
		if err != nil {
			t.Fatal(err)
		}
		edited := strings.Replace(string(src), `"echo: "`, `"you said: "`, 1)
		if edited == string(src) {
			t.Fatalf("the sample has no \"echo: \" to edit:\n%s", src)
		}
		if err := os.WriteFile(s.script, []byte(edited), 0o644); err != nil {
			t.Fatal(err)
		}
		var reply string
		waitFor(t, waitTimeout, "the edited reply on the same connection", func() bool {
			write(t, c, []byte("again\n"))
			reply, err = readLine(c, ioTimeout)
			if err != nil {
				t.Fatalf("after the edit: %q, %v", reply, err)
			}
			return reply == "you said: again\n"
		})
		if err := os.WriteFile(s.script, []byte(edited+"\n)(\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		s.waitStderr("reload failed", filepath.Base(s.script)+":")
		roundTrip(t, c, []byte("still\n"), []byte("you said: still\n"))
	},
	// docs/api/server.md: the Swoole TCP server.
	"tcp-swoole": func(t *testing.T, d *docsSample) {
		s := d.start(runOpts{})
		for range 2 {
			c := dial(t, s.addr())
			roundTrip(t, c, []byte("hello\n"), []byte("Swoole TCP Server: hello\n"))
			c.Close()
		}
	},
	// docs/api/http.md's routes: a parameter, a 404, a JSON body, a bad one.
	"http-routes": func(t *testing.T, d *docsSample) {
		s := d.start(runOpts{})
		base := "http://" + s.addr()
		docsHTTP(t, "GET", base+"/users/1", "", 200, `"nick":"ann"`)
		docsHTTP(t, "GET", base+"/users/2", "", 404, `{"error":"not found"}`)
		res := docsHTTP(t, "POST", base+"/notes", `{"id":"n7","text":"hi"}`, 201, `"text":"hi"`)
		if got := res.Header.Get("X-Id"); got != "n7" {
			t.Errorf("POST /notes: X-Id %q, want n7", got)
		}
		docsHTTP(t, "POST", base+"/notes", `{"id":`, 400, "bad JSON body")
	},
	// docs/api/identity.md: register, log in, use the token.
	"http-login": func(t *testing.T, d *docsSample) {
		s := d.start(runOpts{env: docsLoginKeys(t)})
		base := "http://" + s.addr()
		docsHTTP(t, "POST", base+"/register", `{"name":"ann","password":"correct horse"}`, 201, `"name":"ann"`)
		docsHTTP(t, "POST", base+"/register", `{"name":"ann","password":"again"}`, 409, "name taken")
		docsHTTP(t, "POST", base+"/login", `{"name":"ann","password":"wrong"}`, 401, "bad login")
		docsHTTP(t, "POST", base+"/login", `{"name":"bob","password":"correct horse"}`, 401, "bad login")
		res := docsHTTP(t, "POST", base+"/login", `{"name":"ann","password":"correct horse"}`, 200, `"token":`)
		var tok struct{ Token string }
		if err := json.Unmarshal(res.body, &tok); err != nil || strings.Count(tok.Token, ".") != 2 {
			t.Fatalf("login: %q is not a token (%v)", res.body, err)
		}
		req, _ := http.NewRequest("GET", base+"/me", nil)
		req.Header.Set("Authorization", "Bearer "+tok.Token)
		docsDo(t, req, 200, `{"user":"ann"}`)
		req, _ = http.NewRequest("GET", base+"/me", nil)
		req.Header.Set("Authorization", "Bearer "+tok.Token[:len(tok.Token)-4]+"AAAA")
		docsDo(t, req, 401, "error")
		docsHTTP(t, "GET", base+"/me", "", 401, "error")
	},
	// docs/api/identity.md: five logins, then 429.
	"http-limit": func(t *testing.T, d *docsSample) {
		s := d.start(runOpts{})
		for range 5 {
			docsHTTP(t, "POST", "http://"+s.addr()+"/login", "", 200, "welcome")
		}
		docsHTTP(t, "POST", "http://"+s.addr()+"/login", "", 429, "slow down")
	},
	// docs/api/async.md: the handler waits for the upstream's answer.
	"tcp-fetch": func(t *testing.T, d *docsSample) {
		s := d.start(runOpts{env: docsUpstream(t)})
		c := dial(t, s.addr())
		defer c.Close()
		roundTrip(t, c, []byte("go\n"), []byte("upstream says hi"))
	},
	// docs/api/client.md: the status, then the body.
	"tcp-fetch-status": func(t *testing.T, d *docsSample) {
		s := d.start(runOpts{env: docsUpstream(t)})
		c := dial(t, s.addr())
		defer c.Close()
		roundTrip(t, c, []byte("go\n"), []byte("200 upstream says hi"))
	},
	// docs/settings.md: length-prefixed packages, two in one write.
	"tcp-framed": func(t *testing.T, d *docsSample) {
		s := d.start(runOpts{})
		frame := func(b string) []byte {
			return append([]byte{0, 0, 0, byte(len(b))}, b...)
		}
		c := dial(t, s.addr())
		defer c.Close()
		write(t, c, append(frame("one"), frame("two")...))
		expect(t, c, append(frame("echo: one"), frame("echo: two")...))
		big := append([]byte{0, 2, 0, 0}, make([]byte, 16)...) // 128 KiB announced: past package_max_length
		write(t, c, big)
		expectClosed(t, c)
	},
	// docs/api/tasks.md: a task worker upper-cases the line.
	"tcp-task": func(t *testing.T, d *docsSample) {
		s := d.start(runOpts{})
		c := dial(t, s.addr())
		defer c.Close()
		roundTrip(t, c, []byte("make me loud\n"), []byte("MAKE ME LOUD\n"))
		roundTrip(t, c, []byte("again\n"), []byte("AGAIN\n"))
	},
	// docs/api/channels.md: a line from one client reaches both.
	"tcp-room": func(t *testing.T, d *docsSample) {
		s := d.start(runOpts{})
		a, b := dial(t, s.addr()), dial(t, s.addr())
		defer a.Close()
		defer b.Close()
		expect(t, a, []byte("joined\n"))
		expect(t, b, []byte("joined\n"))
		write(t, a, []byte("hello room\n"))
		for _, c := range []net.Conn{a, b} {
			line, err := readLine(c, ioTimeout)
			if err != nil || !strings.HasPrefix(line, "fd ") || !strings.HasSuffix(line, ": hello room\n") {
				t.Errorf("a member read %q, %v; want \"fd N: hello room\\n\"", line, err)
			}
		}
	},
	// docs/api/data.md: a user from SQLite and a counter in Redis; a failed
	// query is a 500 with the driver's error and code.
	"http-data": func(t *testing.T, d *docsSample) {
		redisURL := docsRedis(t)
		d.replace("redis://127.0.0.1:6379/0", redisURL)
		db := docsSQLite(t, filepath.Join(d.dir, "app.db"),
			"CREATE TABLE users (id INTEGER PRIMARY KEY, nick TEXT)",
			"INSERT INTO users VALUES (1, 'ann')")
		s := d.start(runOpts{})
		base := "http://" + s.addr()
		type reply struct {
			User  map[string]any
			Seen  int
			Error string
			Code  string
		}
		get := func(path string, status int) reply {
			t.Helper()
			res := docsHTTP(t, "GET", base+path, "", status, "")
			var r reply
			if err := json.Unmarshal(res.body, &r); err != nil {
				t.Fatalf("GET %s: %q: %v", path, res.body, err)
			}
			return r
		}
		for i := 1; i <= 3; i++ { // any worker: the counter is Redis's
			if r := get("/users/1", 200); r.User["nick"] != "ann" || r.User["id"] != 1.0 || r.Seen != i {
				t.Errorf("GET /users/1 #%d: %+v, want ann seen %d times", i, r, i)
			}
		}
		if r := get("/users/7", 200); r.User != nil || r.Seen != 1 {
			t.Errorf("GET /users/7: %+v, want no user, seen once", r)
		}
		if _, err := db.Exec("DROP TABLE users"); err != nil {
			t.Fatal(err)
		}
		if r := get("/users/1", 500); !strings.Contains(r.Error, "no such table") || r.Code == "" {
			t.Errorf("GET /users/1 without the table: %+v, want the error and its code", r)
		}
	},
	// docs/api/tables.md: a row set, a field incremented, read whole and
	// by field, iterated; an atomic (one worker: the table is shared).
	"tables": func(t *testing.T, d *docsSample) {
		s := d.start(runOpts{workers: 1})
		waitFor(t, waitTimeout, "Ann 7, ann 1.5, 1", func() bool {
			return strings.Join(strings.Fields(s.stdout.String()), " ") == "Ann 7 ann 1.5 1"
		})
	},
	// docs/api/tables.md: a thousand rows read into one table and written
	// back from it.
	"tables-rows": func(t *testing.T, d *docsSample) {
		s := d.start(runOpts{workers: 1})
		waitFor(t, waitTimeout, "500500 0 (the sum of the scores, then a score set back to 0)", func() bool {
			return strings.Join(strings.Fields(s.stdout.String()), " ") == "500500 0"
		})
	},
	// docs/api/imscript.md: string.pack and unpack (on each worker).
	"string-pack": func(t *testing.T, d *docsSample) {
		s := d.start(runOpts{})
		waitFor(t, waitTimeout, "the unpacked values on both workers", func() bool {
			return strings.Count(s.stdout.String(), "7\thello\t9\t6\n") == 2
		})
	},
	// docs/api/processes.md: python3 echoes the line and exits 0 when its
	// stdin closes; the spawned script sums the numbers — on each worker.
	"process": func(t *testing.T, d *docsSample) {
		if _, err := exec.LookPath("python3"); err != nil {
			t.Skip("no python3")
		}
		echo, err := os.ReadFile(filepath.Join(repoRoot, "scripts", "python", "echo.py"))
		if err != nil {
			t.Fatal(err)
		}
		py := filepath.Join(filepath.Dir(d.dir), "python")
		if err := os.MkdirAll(py, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(py, "echo.py"), echo, 0o644); err != nil {
			t.Fatal(err)
		}
		s := d.start(runOpts{})
		nilName := map[string]string{"lua": "nil", "js": "null"}[d.b.info]
		for _, line := range []string{"child said hello", "exited 0 " + nilName, "w1: sum 6"} {
			waitFor(t, waitTimeout, fmt.Sprintf("%q from both workers", line), func() bool {
				return strings.Count(docsSpaces(s.stdout.String()), line+"\n") == 2
			})
		}
	},
	// docs/api/timers.md: ticks every second, stopped after 5.5 s; in JS
	// the microtask runs before the next turn. On each worker.
	"timers": func(t *testing.T, d *docsSample) {
		s := d.start(runOpts{})
		stopped := regexp.MustCompile(`(?m)^stopped after (\d+) ticks$`)
		waitFor(t, 2*waitTimeout, "both workers to stop their tick", func() bool {
			return len(stopped.FindAllString(s.stdout.String(), -1)) == 2
		})
		out := s.stdout.String()
		for _, m := range stopped.FindAllStringSubmatch(out, -1) {
			var n int
			fmt.Sscan(m[1], &n)
			// 5 on time; a slow machine may run the 5th tick after the
			// 5.5 s timer (a tick's next run counts from when it ran).
			if n < 4 || n > 5 {
				t.Errorf("%q, want 5 ticks (4 on a slow machine)", m[0])
			}
			for k := 1; k <= n; k++ {
				if !strings.Contains(out, fmt.Sprintf("tick %d\n", k)) {
					t.Errorf("no \"tick %d\" before %q", k, m[0])
				}
			}
		}
		if strings.Contains(out, "tick 6\n") {
			t.Errorf("a tick ran after the 5.5 s timer cleared it:\n%s", out)
		}
		if d.b.info == "js" {
			micro, next := strings.Index(out, "after this callback\n"), strings.Index(out, "next turn\n")
			if micro < 0 || next < micro || strings.Count(out, "next turn\n") != 2 || strings.Count(out, "after this callback\n") != 2 {
				t.Errorf("want \"after this callback\" then \"next turn\" on each worker:\n%s", out)
			}
		}
	},
	// docs/api/websocket.md: the handshake checks the session token (query
	// or cookie), sets a cookie on the 101, refuses with 403 and, past the
	// burst, 429.
	"ws-handshake": func(t *testing.T, d *docsSample) {
		docsSQLite(t, filepath.Join(d.dir, "sessions.db"),
			"CREATE TABLE sessions (token TEXT PRIMARY KEY, uid TEXT)",
			"INSERT INTO sessions VALUES ('t1', 'u1')")
		s := d.start(runOpts{})
		dialWS := func(path string, h http.Header) (*websocket.Conn, *http.Response, string) {
			t.Helper()
			c, res, err := (&websocket.Dialer{HandshakeTimeout: ioTimeout}).Dial("ws://"+s.addr()+path, h)
			if res == nil {
				t.Fatalf("ws %s: no response: %v", path, err)
			}
			body, _ := io.ReadAll(res.Body)
			if c != nil {
				t.Cleanup(func() { c.Close() })
			}
			return c, res, string(body)
		}
		welcome := func(c *websocket.Conn) {
			t.Helper()
			_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
			if _, msg, err := c.ReadMessage(); err != nil || string(msg) != "welcome" {
				t.Fatalf("first message %q, %v; want welcome", msg, err)
			}
		}
		c, res, _ := dialWS("/?token=t1", nil)
		if c == nil || res.StatusCode != 101 || !strings.Contains(strings.Join(res.Header.Values("Set-Cookie"), ";"), "seen=1") {
			t.Fatalf("with the token: %d %v, want 101 with the cookie seen=1", res.StatusCode, res.Header)
		}
		welcome(c)
		c, res, _ = dialWS("/", http.Header{"Cookie": {"session=t1"}})
		if c == nil {
			t.Fatalf("with the session cookie: %d, want 101", res.StatusCode)
		}
		welcome(c)
		if c, res, _ := dialWS("/?token=nope", nil); c != nil || res.StatusCode != 403 {
			t.Fatalf("a wrong token: %d, want 403", res.StatusCode)
		}
		for i := 0; ; i++ { // a burst of 10 (3 used), 1 more a second
			_, res, body := dialWS("/?token=nope", nil)
			if res.StatusCode == 429 {
				if body != "too many connections" {
					t.Errorf("429 with %q, want \"too many connections\"", body)
				}
				break
			}
			if res.StatusCode != 403 || i == 30 {
				t.Fatalf("connect %d: %d, want 403 until the burst is used, then 429", i+4, res.StatusCode)
			}
		}
	},
	// docs/javascript.md: an ES module importing a file beside it and a
	// node: module; fetch through an upstream.
	"http-esm": func(t *testing.T, d *docsSample) {
		up := docsUpstream(t)["UPSTREAM"]
		d.replace("https://example.com/", up)
		s := d.start(runOpts{})
		base := "http://" + s.addr()
		docsHTTP(t, "GET", base+"/hello?name=ann", "", 200, "hello ann")
		res := docsHTTP(t, "GET", base+"/proxy", "", 200, "upstream says hi")
		sum := sha256.Sum256(res.body)
		if got := res.Header.Get("ETag"); got != hex.EncodeToString(sum[:]) {
			t.Errorf("ETag %q, want the body's sha256 %x", got, sum)
		}
	},
	// docs/javascript.md: the set-up awaits at the top level (a config
	// file, a table), then the server counts visits in it, on both
	// workers; a config that is not JSON fails the start with its line.
	"http-tla": func(t *testing.T, d *docsSample) {
		s := d.start(runOpts{})
		base := "http://" + s.addr()
		for i := 1; i <= 3; i++ {
			docsHTTP(t, "GET", base+"/home", "", 200, fmt.Sprintf("welcome, visit %d of home", i))
		}
		docsHTTP(t, "GET", base+"/about", "", 200, "welcome, visit 1 of about")
		s.kill()
		if err := os.WriteFile(filepath.Join(d.dir, "config.json"), []byte("{ nope"), 0o644); err != nil {
			t.Fatal(err)
		}
		r := docsCommand(t, d.dir, map[string]string{"PORT": strconv.Itoa(freePort(t))}, "run", "--no-watch", "--workers", "2", d.path)
		r.wantExit(t, 1)
		if !strings.Contains(r.stderr, filepath.Base(d.path)+":1:") || !strings.Contains(r.stderr, "SyntaxError") {
			t.Errorf("a bad config: stderr %q, want the SyntaxError at %s:1", r.stderr, filepath.Base(d.path))
		}
	},
	// docs/metrics.md: the script's metrics at /metrics.
	"tcp-metrics": func(t *testing.T, d *docsSample) {
		maddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
		s := d.start(runOpts{args: []string{"--metrics", maddr}})
		c := dial(t, s.addr())
		roundTrip(t, c, []byte("hello\n"), []byte("ok\n"))
		roundTrip(t, c, []byte(strings.Repeat("x", 30)+"\n"), []byte("ok\n"))
		want := []string{
			`chat_messages_total{kind="public"} 2`,
			`chat_online 1`,
			`chat_message_bytes_bucket{le="16"} 1`,
			`chat_message_bytes_bucket{le="64"} 2`,
			`chat_message_bytes_sum 37`,
			`chat_message_bytes_count 2`,
		}
		var page string
		scraped := func() bool {
			res := docsHTTP(t, "GET", "http://"+maddr+"/metrics", "", 200, "")
			page = string(res.body)
			for _, w := range want {
				if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(w) + `$`).MatchString(page) {
					return false
				}
			}
			return true
		}
		waitFor(t, waitTimeout, fmt.Sprintf("/metrics to show %q", want), scraped)
		c.Close()
		want = []string{`chat_online 0`}
		waitFor(t, waitTimeout, "chat_online 0 once the client left", scraped)
	},
}

// docsScriptChecks run the samples marked <!-- script: NAME --> to their
// end.
var docsScriptChecks = map[string]func(t *testing.T, d *docsSample){
	// docs/api/client.md: one TCP client (on worker 0) says hello, prints
	// the reply and stops the host; a refused connect exits 1.
	"tcp-client": func(t *testing.T, d *docsSample) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		got := make(chan string, 4)
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				line, _ := bufio.NewReader(c).ReadString('\n')
				got <- line
				io.WriteString(c, "hi: "+line)
				_, _ = io.Copy(io.Discard, c) // until the client closes
				c.Close()
			}
		}()
		src := d.b.body
		d.replace("9501", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
		r := d.runToExit(runOpts{})
		r.wantExit(t, 0)
		wantLines(t, r.stdout, "hi: hello", "closed")
		if n := strings.Count(r.stdout, "hi: hello"); n != 1 {
			t.Errorf("%d replies printed, want 1 (one client)", n)
		}
		if len(got) != 1 || <-got != "hello\n" {
			t.Errorf("the peer got %d connections, want one with \"hello\\n\"", len(got)+1)
		}
		// A port nobody listens on: the error event, then exit 1.
		closed := freePort(t)
		if err := os.WriteFile(d.path, []byte(strings.ReplaceAll(src, "9501", strconv.Itoa(closed))), 0o644); err != nil {
			t.Fatal(err)
		}
		r = d.runToExit(runOpts{})
		r.wantExit(t, 1)
		if !strings.Contains(r.stdout, fmt.Sprintf("failed: connect 127.0.0.1:%d", closed)) {
			t.Errorf("stdout %q, want the failed connect", r.stdout)
		}
	},
	// docs/api/client.md: a WebSocket client sends with its header, prints
	// the frame and the peer's close.
	"ws-client": func(t *testing.T, d *docsSample) {
		auth := make(chan string, 4)
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			auth <- r.Header.Get("Authorization")
			c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
			if err != nil {
				return
			}
			defer c.Close()
			_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
			_, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			_ = c.WriteMessage(websocket.TextMessage, append([]byte("hi: "), msg...))
			_ = c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, "bye"))
			_, _, _ = c.ReadMessage() // the client's close
		}))
		t.Cleanup(up.Close)
		d.replace("127.0.0.1:9506", strings.TrimPrefix(up.URL, "http://"))
		r := d.runToExit(runOpts{})
		r.wantExit(t, 0)
		out := docsSpaces(r.stdout)
		wantLines(t, out, "text hi: hello", "closed 1000 bye")
		if len(auth) != 1 || <-auth != "Bearer t" {
			t.Errorf("the peer got %d connections, want one with Authorization: Bearer t", len(auth)+1)
		}
	},
	// docs/api/imscript.md: hello from the arguments, else $USER; exit 0.
	"hello": func(t *testing.T, d *docsSample) {
		hello := regexp.MustCompile(`^hello (\w+) from imscript \S+$`)
		for _, c := range []struct {
			who  string
			args []string
		}{{"ann", []string{"ann"}}, {"bob", nil}} {
			r := d.runToExit(runOpts{workers: 1, env: map[string]string{"USER": "bob"}}, c.args...)
			r.wantExit(t, 0)
			lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
			if len(lines) != 2 || hello.FindStringSubmatch(lines[0]) == nil || hello.FindStringSubmatch(lines[0])[1] != c.who {
				t.Fatalf("stdout %q, want \"hello %s from imscript VERSION\" and the JSON", r.stdout, c.who)
			}
			var v map[string]any
			if err := json.Unmarshal([]byte(lines[1]), &v); err != nil || v["worker"] != 0.0 || fmt.Sprint(v["tags"]) != "[]" {
				t.Errorf("%q, want {\"tags\":[],\"worker\":0} (%v)", lines[1], err)
			}
			if lineWith(r.stderr, "said hello", c.who) == "" {
				t.Errorf("no log line \"said hello\" with %s:\n%s", c.who, r.stderr)
			}
		}
	},
	// docs/api/mail.md: one mail through STARTTLS and AUTH, its parts and
	// attachment as sent; a refused login exits 1.
	"mail-send": func(t *testing.T, d *docsSample) {
		ca := testutil.NewCA(t)
		smtpSrv := mailtest.Start(t, mailtest.Options{TLS: ca.Server, Users: map[string]string{"me": "secret"}})
		d.replace("smtp.example.com", "127.0.0.1")
		d.replace("587", strconv.Itoa(smtpSrv.Port))
		env := map[string]string{"SSL_CERT_FILE": ca.CAFile}
		r := d.runToExit(runOpts{env: env})
		r.wantExit(t, 0)
		if r.stdout != "sent\n" {
			t.Errorf("stdout %q, want \"sent\"", r.stdout)
		}
		msgs := smtpSrv.Messages()
		if len(msgs) != 1 {
			t.Fatalf("%d mails, want 1", len(msgs))
		}
		m := msgs[0]
		if !m.TLS || m.User != "me" || m.From != "me@example.com" || strings.Join(m.To, ",") != "a@example.com,b@example.com" {
			t.Errorf("session: tls %v user %q from %q to %q", m.TLS, m.User, m.From, m.To)
		}
		p, err := mailtest.Parse(m.Data)
		if err != nil {
			t.Fatalf("parse: %v\n%s", err, m.Data)
		}
		if p.Subject != "Report" || p.Text != "plain text part" || p.HTML != "<p>HTML part</p>" || !strings.Contains(p.Header.Get("Cc"), "b@example.com") {
			t.Errorf("subject %q, text %q, html %q, cc %q", p.Subject, p.Text, p.HTML, p.Header.Get("Cc"))
		}
		if len(p.Attachments) != 1 || p.Attachments[0].Name != "report.csv" || p.Attachments[0].Type != "text/csv" ||
			string(p.Attachments[0].Content) != "day,orders\nmon,12\ntue,9\n" {
			t.Errorf("attachments: %+v", p.Attachments)
		}
		d.replace(`"secret"`, `"wrong"`)
		r = d.runToExit(runOpts{env: env})
		r.wantExit(t, 1)
		if r.stdout == "" || strings.Contains(r.stdout, "sent") || len(smtpSrv.Messages()) != 1 {
			t.Errorf("a wrong password: stdout %q, %d mails; want the error and no mail", r.stdout, len(smtpSrv.Messages()))
		}
	},
}

// docsTestChecks run the samples marked <!-- test: NAME --> with `imscript
// test` in a project made by `imscript new --template NAME`: they pass, and
// fail once the server is broken.
var docsTestChecks = map[string]func(t *testing.T, d *docsSample){
	"echo": func(t *testing.T, d *docsSample) {
		docsProjectTest(t, d, "echo", "echoes a line back", `srv:send(fd, line)`, `srv:send(fd, "?" .. line)`)
	},
	"http": func(t *testing.T, d *docsSample) {
		docsProjectTest(t, d, "http", "GET /hello/:name greets in JSON", `"Hello, "`, `"Goodbye, "`)
	},
}

// docsProjectTest makes a project with `imscript new`, puts the sample in
// place of its test file, and runs `imscript test`: the test passes; with
// old replaced by broken in the server it fails.
func docsProjectTest(t *testing.T, d *docsSample, template, name, old, broken string) {
	t.Helper()
	root := t.TempDir()
	docsCommand(t, root, nil, "new", "proj", "--lang", d.b.info, "--template", template).wantExit(t, 0)
	proj := filepath.Join(root, "proj")
	testFile := map[string]string{"lua": "server_test.lua", "js": "server.test.js"}[d.b.info]
	if err := os.WriteFile(filepath.Join(proj, testFile), []byte(d.b.body), 0o644); err != nil {
		t.Fatal(err)
	}
	r := d.test(proj)
	r.wantExit(t, 0)
	if !strings.Contains(r.stdout, "PASS "+name) {
		t.Errorf("no \"PASS %s\" in:\n%s", name, r.stdout)
	}
	server := filepath.Join(proj, "server."+d.b.info)
	src, err := os.ReadFile(server)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), old) {
		t.Fatalf("the %s template's server has no %q", template, old)
	}
	if err := os.WriteFile(server, []byte(strings.Replace(string(src), old, broken, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	r = d.test(proj)
	r.wantExit(t, 1)
	if !strings.Contains(r.stdout, "FAIL "+name) {
		t.Errorf("with a broken server, no \"FAIL %s\" in:\n%s", name, r.stdout)
	}
}

// docsSpaces turns Lua print's tabs into the spaces console.log puts
// between values.
func docsSpaces(s string) string { return strings.ReplaceAll(s, "\t", " ") }

// docsSQLite makes an SQLite database at path with the statements run; the
// handle stays open for the test.
func docsSQLite(t *testing.T, path string, stmts ...string) *sql.DB {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return db
}

// docsRedis runs a throwaway redis-server on a free loopback port and
// returns its URL.
func docsRedis(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("no redis-server")
	}
	port := strconv.Itoa(freePort(t))
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	waitFor(t, waitTimeout, "redis-server to listen", func() bool {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second)
		if err != nil {
			return false
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(ioTimeout))
		if _, err := io.WriteString(c, "PING\r\n"); err != nil {
			return false
		}
		line, _ := bufio.NewReader(c).ReadString('\n')
		return line == "+PONG\r\n"
	})
	return "redis://127.0.0.1:" + port + "/0"
}

// docsResponse is a response with its body read.
type docsResponse struct {
	*http.Response
	body []byte
}

// docsHTTP sends one request and checks the status and that the body
// contains want.
func docsHTTP(t *testing.T, method, url, body string, status int, want string) docsResponse {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return docsDo(t, req, status, want)
}

func docsDo(t *testing.T, req *http.Request, status int, want string) docsResponse {
	t.Helper()
	c := &http.Client{Timeout: ioTimeout}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read the body: %v", req.Method, req.URL, err)
	}
	if res.StatusCode != status || !strings.Contains(string(b), want) {
		t.Errorf("%s %s: %d %q, want %d and a body with %q", req.Method, req.URL, res.StatusCode, b, status, want)
	}
	return docsResponse{res, b}
}

// The marks that make a sample run (docs/README.md):
//
//   - <!-- run: NAME --> a complete server, or a script that keeps running:
//     docsRunChecks[NAME] starts it (d.start) and talks to it or reads its
//     output;
//   - <!-- script: NAME --> a script that ends by itself:
//     docsScriptChecks[NAME] runs it to its exit (d.runToExit) and checks
//     its output and exit code;
//   - <!-- test: NAME --> a test file: docsTestChecks[NAME] runs it with
//     `imscript test` against a server (d.test);
//   - <!-- file: NAME --> names the block's file; a block with only this mark
//     is a file the page's other samples use (written beside each of them);
//   - <!-- not-imscript --> a block in a script language that is not an
//     imscript script (an editor's config): neither compiled nor run.

// docsCompiledOnly are the pages whose samples are compiled but not run;
// every sample of every other page is run by a check.
var docsCompiledOnly = map[string]bool{}

// docsSample is one sample that runs, in a folder of its own: the sample
// and its page's companion files are in dir (a folder "app" of a temp
// folder, so a sample may reach "../python").
type docsSample struct {
	t          *testing.T
	b          docBlock
	kind, name string
	companions []docBlock
	dir, path  string
	used       bool // the check ran the sample the way its mark says
}

// runMark is the sample's run mark: its kind (run, script, test) and name.
func (b docBlock) runMark() (kind, name string) {
	for _, k := range []string{"run", "script", "test"} {
		if n, ok := b.mark(k + ":"); ok {
			return k, n
		}
	}
	return "", ""
}

// fileName is the sample's file name: its file: mark, or sample.<lang>.
func (b docBlock) fileName() string {
	if n, ok := b.mark("file:"); ok {
		return n
	}
	return "sample." + b.info
}

// prepare writes the sample and its companions into a fresh folder.
func (d *docsSample) prepare() {
	d.dir = filepath.Join(d.t.TempDir(), "app")
	for _, b := range append(d.companions, d.b) {
		p := filepath.Join(d.dir, b.fileName())
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			d.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(b.body), 0o644); err != nil {
			d.t.Fatal(err)
		}
	}
	d.path = filepath.Join(d.dir, d.b.fileName())
}

// replace rewrites old to new in the sample's file (a port, a host the test
// provides); the test fails when the sample has no old.
func (d *docsSample) replace(old, new string) {
	d.t.Helper()
	src, err := os.ReadFile(d.path)
	if err != nil {
		d.t.Fatal(err)
	}
	if !strings.Contains(string(src), old) {
		d.t.Fatalf("%s: the sample has no %q to rewrite:\n%s", d.b.where(), old, src)
	}
	if err := os.WriteFile(d.path, []byte(strings.ReplaceAll(string(src), old, new)), 0o644); err != nil {
		d.t.Fatal(err)
	}
}

func (d *docsSample) ran(kind string) {
	if d.kind == kind {
		d.used = true
	}
}

// start runs a run: sample with `imscript run` (as start does).
func (d *docsSample) start(o runOpts) *server {
	d.t.Helper()
	d.ran("run")
	return start(d.t, d.path, o)
}

// docsExit is how a command that ended by itself went.
type docsExit struct {
	stdout, stderr string
	code           int
}

// runToExit runs a script: sample with `imscript run --workers N` (2 unless
// o says) and the arguments after --, and waits for it to end.
func (d *docsSample) runToExit(o runOpts, args ...string) docsExit {
	d.t.Helper()
	d.ran("script")
	workers := o.workers
	if workers == 0 {
		workers = 2
	}
	cmdArgs := append([]string{"run", "--no-watch", "--workers", strconv.Itoa(workers)}, o.args...)
	cmdArgs = append(append(cmdArgs, d.path, "--"), args...)
	return docsCommand(d.t, d.dir, o.env, cmdArgs...)
}

// test runs `imscript test` in dir (a project the check made).
func (d *docsSample) test(dir string, args ...string) docsExit {
	d.t.Helper()
	d.ran("test")
	return docsCommand(d.t, dir, nil, append([]string{"test"}, args...)...)
}

// docsCommand runs the imscript binary in dir until it ends by itself.
func docsCommand(t *testing.T, dir string, env map[string]string, args ...string) docsExit {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Dir = dir
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out, errb syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(startTimeout + waitTimeout):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("imscript %s did not end by itself within %v\nstdout:\n%s\nstderr:\n%s",
			strings.Join(args, " "), startTimeout+waitTimeout, out.String(), errb.String())
	}
	r := docsExit{stdout: out.String(), stderr: errb.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("imscript %s: %v", strings.Join(args, " "), err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("imscript %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
	})
	return r
}

// wantExit fails unless the command ended with code.
func (r docsExit) wantExit(t *testing.T, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
}

// TestDocsSamples compiles every Lua and JS sample of the docs with
// `imscript check`, runs every sample with its check, and checks that each
// Lua sample has its JS twin.
func TestDocsSamples(t *testing.T) {
	checks := map[string]map[string]func(*testing.T, *docsSample){
		"run": docsRunChecks, "script": docsScriptChecks, "test": docsTestChecks,
	}
	dir := t.TempDir()
	var compiled, lua, js int
	var failures []string
	var runs []*docsSample
	for _, f := range docFiles(t) {
		var companions []docBlock
		var pageRuns []*docsSample
		for i, b := range f.blocks {
			kind, name := b.runMark()
			if _, ok := b.mark("file:"); ok && kind == "" && b.info != "lua" && b.info != "js" {
				companions = append(companions, b) // config.json beside a sample
				continue
			}
			if _, ok := b.mark("not-imscript"); ok || (b.info != "lua" && b.info != "js") {
				if kind != "" {
					failures = append(failures, fmt.Sprintf("%s: a %s mark on a %s block that is not an imscript script", b.where(), kind, b.info))
				}
				continue
			}
			if b.info == "lua" {
				lua++
				_, luaOnly := b.mark("lua-only")
				if !luaOnly && (i+1 >= len(f.blocks) || f.blocks[i+1].info != "js") {
					failures = append(failures, b.where()+": a Lua sample without the JS one after it (or mark it <!-- lua-only -->)")
				}
			} else {
				js++
			}
			path := filepath.Join(dir, fmt.Sprintf("sample%03d%s", compiled, filepath.Ext(b.fileName())))
			if err := os.WriteFile(path, []byte(b.body), 0o644); err != nil {
				t.Fatal(err)
			}
			compiled++
			out, err := exec.Command(binPath, "check", path).CombinedOutput()
			if err != nil {
				failures = append(failures, fmt.Sprintf("%s: the %s sample does not compile: %s", b.where(), b.info,
					docsMapLines(strings.TrimSpace(string(out)), path, b)))
				continue
			}
			if kind == "" {
				if _, ok := b.mark("file:"); ok {
					companions = append(companions, b)
				} else if !docsCompiledOnly[f.path] {
					failures = append(failures, b.where()+": no test runs this sample: mark it <!-- run: NAME -->, <!-- script: NAME --> or <!-- test: NAME --> with a check of that name (docs/README.md)")
				}
				continue
			}
			if checks[kind][name] == nil {
				failures = append(failures, fmt.Sprintf("%s: no check named %q for <!-- %s: %s -->", b.where(), name, kind, name))
				continue
			}
			pageRuns = append(pageRuns, &docsSample{b: b, kind: kind, name: name})
		}
		if len(companions) > 0 && len(pageRuns) == 0 {
			failures = append(failures, companions[0].where()+": a file for other samples on a page where no sample runs")
		}
		for _, r := range pageRuns {
			r.companions = companions
		}
		runs = append(runs, pageRuns...)
	}
	for _, d := range runs {
		t.Run(fmt.Sprintf("%s/%s/%s:%d", d.kind, d.name, d.b.file, d.b.line), func(t *testing.T) {
			d.t = t
			d.prepare()
			checks[d.kind][d.name](t, d)
			if !d.used && !t.Skipped() {
				t.Errorf("%s: the check %q does not run the sample as its %s mark says", d.b.where(), d.name, d.kind)
			}
		})
	}
	t.Logf("%d samples compiled (%d Lua, %d JS), %d run", compiled, lua, js, len(runs))
	if compiled < 40 || lua == 0 || js == 0 || len(runs) < 40 {
		t.Errorf("only %d samples found (%d Lua, %d JS, %d run): is the fence parser broken?", compiled, lua, js, len(runs))
	}
	for _, f := range failures {
		t.Error(f)
	}
}

// docsMapLines rewrites "sampleNNN.lua:3:" in check's output to the doc's
// file:line.
func docsMapLines(out, path string, b docBlock) string {
	re := regexp.MustCompile(regexp.QuoteMeta(path) + `:(\d+)`)
	return re.ReplaceAllStringFunc(out, func(m string) string {
		var n int
		fmt.Sscanf(re.FindStringSubmatch(m)[1], "%d", &n)
		return fmt.Sprintf("%s:%d", b.file, b.line+n)
	})
}

// TestDocsCommands checks the imscript command lines of the docs' ```sh
// blocks: the command exists and so does every flag they name.
func TestDocsCommands(t *testing.T) {
	usage, _ := exec.Command(binPath, "help").CombinedOutput()
	runHelp, _ := exec.Command(binPath, "run", "--help").CombinedOutput()
	commands := map[string]bool{"help": true}
	for _, l := range strings.Split(string(usage), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "imscript" {
			commands[f[1]] = true
		}
	}
	if !commands["run"] || !strings.Contains(string(runHelp), "-workers") {
		t.Fatalf("cannot read the usage:\n%s\n%s", usage, runHelp)
	}
	checked := 0
	for _, f := range docFiles(t) {
		for _, b := range f.blocks {
			if b.info != "sh" {
				continue
			}
			for i, line := range strings.Split(b.body, "\n") {
				where := fmt.Sprintf("%s:%d", b.file, b.line+1+i)
				if j := strings.Index(line, " #"); j >= 0 {
					line = line[:j]
				}
				words := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "$ "))
				for len(words) > 0 && strings.Contains(words[0], "=") { // VAR=value
					words = words[1:]
				}
				switch {
				case len(words) >= 2 && words[0] == "imscript":
					words = words[1:]
				case len(words) >= 4 && words[0] == "go" && words[1] == "run" && words[2] == "./cmd/imscript":
					words = words[3:]
				default:
					continue
				}
				checked++
				sub := words[0]
				if !commands[sub] {
					t.Errorf("%s: imscript has no command %q (imscript help lists %v)", where, sub, commands)
					continue
				}
				help := string(usage)
				if sub == "run" {
					help = string(runHelp)
				}
				for _, w := range words[1:] {
					if w == "--" {
						break // the script's own arguments
					}
					if !strings.HasPrefix(w, "-") {
						continue
					}
					name, _, _ := strings.Cut(strings.TrimLeft(w, "-"), "=")
					if !regexp.MustCompile(`(?m)[\s\[]--?` + regexp.QuoteMeta(name) + `\b`).MatchString(help) {
						t.Errorf("%s: imscript %s has no flag %s", where, sub, w)
					}
				}
			}
		}
	}
	t.Logf("%d imscript command lines checked", checked)
	if checked < 5 {
		t.Errorf("only %d command lines found", checked)
	}
}

// TestDocsLinks checks that every relative link of README.md and docs/
// points at a file that exists and, with a #anchor into Markdown, at one of
// its headings.
func TestDocsLinks(t *testing.T) {
	files := docFiles(t)
	byPath := map[string]*docFile{}
	for _, f := range files {
		byPath[f.path] = f
	}
	n := 0
	for _, f := range files {
		for _, l := range f.links {
			if strings.Contains(l.target, "://") || strings.HasPrefix(l.target, "mailto:") {
				continue
			}
			n++
			where := fmt.Sprintf("%s:%d", f.path, l.line)
			p, anchor, _ := strings.Cut(l.target, "#")
			target := f.path
			if p != "" {
				target = filepath.Clean(filepath.Join(filepath.Dir(f.path), p))
			}
			if _, err := os.Stat(filepath.Join(repoRoot, target)); err != nil {
				t.Errorf("%s: link %s: %s does not exist", where, l.target, target)
				continue
			}
			if anchor == "" || !strings.HasSuffix(target, ".md") {
				continue
			}
			tf := byPath[target]
			if tf == nil {
				var err error
				if tf, err = parseDoc(target); err != nil {
					t.Fatal(err)
				}
				byPath[target] = tf
			}
			if !tf.anchors[anchor] {
				t.Errorf("%s: link %s: %s has no heading #%s", where, l.target, target, anchor)
			}
		}
	}
	t.Logf("%d relative links checked", n)
	if n < 20 {
		t.Errorf("only %d links found", n)
	}
}

// TestDocsExamplesTable checks that the README's examples table names every
// example of scripts/lua and scripts/js, and that each exists in both
// languages.
func TestDocsExamplesTable(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(src), "\n## Examples\n")
	if !ok {
		t.Fatal("README.md has no ## Examples section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	rows := map[string]bool{}
	for _, l := range strings.Split(section, "\n") {
		if cells := strings.Split(l, "|"); len(cells) > 2 && strings.HasPrefix(l, "| ") {
			rows[strings.TrimSpace(cells[1])] = true
		}
	}
	names := map[string]bool{}
	for _, lang := range langs {
		files, err := filepath.Glob(filepath.Join(repoRoot, "scripts", lang, "*."+lang))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			names[strings.TrimSuffix(filepath.Base(f), "."+lang)] = true
		}
	}
	if len(names) < 10 {
		t.Fatalf("only %d examples found", len(names))
	}
	for name := range names {
		for _, lang := range langs {
			if _, err := os.Stat(example(lang, name)); err != nil {
				t.Errorf("the example %s has no %s version: %v", name, lang, err)
			}
		}
		// A helper of another example (spawn_child) is named in that row.
		if !rows[name] && !strings.Contains(section, "`"+name+"`") {
			t.Errorf("README.md's examples table does not name the example %s", name)
		}
	}
	for name := range rows {
		if name != "example" && !strings.HasPrefix(name, "-") && !names[name] {
			t.Errorf("README.md's examples table names %s, which is not in scripts/lua and scripts/js", name)
		}
	}
}
