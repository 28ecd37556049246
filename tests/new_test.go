package tests

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// `imscript new` and `imscript test`, as a user runs them: a project made
// from each template in each language passes its own test; with its server
// broken, the test fails naming the test and the assertion's file:line;
// `imscript run` of the generated server answers real clients; the
// generated editor settings check the project with tsc and luacheck.

// newBreak is an edit that breaks a generated server, and what the
// project's test then reports.
type newBreak struct {
	old, new string // in server.<ext>
	failing  string // the name of a test that must fail
	marker   string // text on the line of the assertion that fails (in the test file)
}

var newTemplates = []struct {
	name   string
	breaks map[string]newBreak // by language
}{
	{"echo", map[string]newBreak{
		"lua": {`srv:send(fd, line)`, `srv:send(fd, "bye\n")`, "echoes a line back", `t.equal(inbox:take(), "hello\n")`},
		"js":  {`srv.send(fd, line)`, `srv.send(fd, "bye\n")`, "echoes a line back", `t.equal(await inbox.take(), "hello\n")`},
	}},
	{"http", map[string]newBreak{
		"lua": {`res:send("Hello from imscript\n")`, `res:send("Goodbye\n")`, "GET / says hello", `t.equal(res.body, "Hello from imscript\n")`},
		"js":  {`res.send("Hello from imscript\n")`, `res.send("Goodbye\n")`, "GET / says hello", `t.equal(res.body, "Hello from imscript\n")`},
	}},
	{"ws", map[string]newBreak{
		"lua": {`srv:push(frame.fd, frame.data, frame.opcode)`, `srv:push(frame.fd, "x", "text")`, "echoes a text message", `{ data = "hello", opcode = "text" }`},
		"js":  {`srv.push(frame.fd, frame.data, frame.opcode)`, `srv.push(frame.fd, "x", "text")`, "echoes a text message", `{ data: "hello", opcode: "text" }`},
	}},
	{"chat", map[string]newBreak{
		"lua": {`text = msg.text:sub(1, 2000)`, `text = "x"`, "a message reaches everyone in the room", `t.equal(bobInbox:take()`},
		"js":  {`text: msg.text.slice(0, 2000)`, `text: "x"`, "a message reaches everyone in the room", `t.equal(await bob.inbox.take()`},
	}},
}

func serverFile(lang string) string { return "server." + lang }

func testFile(lang string) string {
	if lang == "js" {
		return "server.test.js"
	}
	return "server_test.lua"
}

// newProject runs `imscript new proj --lang lang --template tpl` in a temp
// folder and returns the project's folder.
func newProject(t *testing.T, lang, tpl string) string {
	t.Helper()
	parent := t.TempDir()
	out, errOut, code := imscript(t, parent, "new", "proj", "--lang", lang, "--template", tpl)
	if code != 0 {
		t.Fatalf("imscript new: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	dir := filepath.Join(parent, "proj")
	want := []string{serverFile(lang), testFile(lang), "README.md"}
	if lang == "js" {
		want = append(want, "jsconfig.json", "types/imscript.d.ts")
	} else {
		want = append(want, ".luarc.json", ".luacheckrc", "types/imscript.lua")
	}
	if tpl == "chat" {
		want = append(want, "public/index.html")
	}
	for _, f := range want {
		if !fileExists(filepath.Join(dir, f)) || !strings.Contains(out, filepath.Join("proj", f)) {
			t.Errorf("imscript new did not write (or list) %s; stdout:\n%s", f, out)
		}
	}
	readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"imscript run " + serverFile(lang), "imscript test"} {
		if !strings.Contains(string(readme), "    "+cmd+"\n") {
			t.Errorf("README.md does not show %q:\n%s", cmd, readme)
		}
	}
	return dir
}

// testNames are the names the test file declares (t.it("name", ...)).
func testNames(t *testing.T, file string) []string {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range regexp.MustCompile(`t\.it\("([^"]+)"`).FindAllStringSubmatch(string(src), -1) {
		names = append(names, m[1])
	}
	if len(names) < 2 {
		t.Fatalf("%s declares %d tests, want 2 or more", file, len(names))
	}
	return names
}

func edit(t *testing.T, file, old, new string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s has no %q", file, old)
	}
	if err := os.WriteFile(file, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestNewProjectPassesItsTest: for every template in both languages, the
// generated project's `imscript test` passes and lists every test; broken,
// it exits 1 naming the failing test and the assertion's file:line.
func TestNewProjectPassesItsTest(t *testing.T) {
	t.Parallel()
	for _, tpl := range newTemplates {
		for _, lang := range langs {
			t.Run(tpl.name+"/"+lang, func(t *testing.T) {
				t.Parallel()
				dir := newProject(t, lang, tpl.name)
				tf := testFile(lang)
				names := testNames(t, filepath.Join(dir, tf))

				out, errOut, code := imscript(t, dir, "test")
				if code != 0 {
					t.Fatalf("imscript test: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
				}
				for _, n := range names {
					if !strings.Contains(out, "  PASS "+n+" (") {
						t.Errorf("imscript test does not report %q as passed:\n%s", n, out)
					}
				}
				if want := "ok: " + strconv.Itoa(len(names)) + " passed, 0 failed"; !strings.Contains(out, want) {
					t.Errorf("imscript test: no %q in:\n%s", want, out)
				}

				b := tpl.breaks[lang]
				edit(t, filepath.Join(dir, serverFile(lang)), b.old, b.new)
				out, errOut, code = imscript(t, dir, "test")
				if code != 1 {
					t.Fatalf("imscript test with a broken server: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
				}
				line := markerLine(t, filepath.Join(dir, tf), b.marker)
				report := regexp.MustCompile(`(?m)^  FAIL ` + regexp.QuoteMeta(b.failing) + ` \(\d+ ms\)\n +` +
					regexp.QuoteMeta(tf+":"+strconv.Itoa(line)) + `(:\d+)?: assertion failed: expected `)
				if !report.MatchString(out) {
					t.Errorf("imscript test with a broken server: want %q reported failed at %s:%d:\n%s", b.failing, tf, line, out)
				}
				if !strings.Contains(out, "FAIL: ") || !strings.Contains(out, " failed (") {
					t.Errorf("imscript test: no failing summary:\n%s", out)
				}
			})
		}
	}
}

// TestNewProjectRuns: `imscript run` of the generated servers answers real
// clients on PORT.
func TestNewProjectRuns(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		t.Run("echo", func(t *testing.T) {
			t.Parallel()
			s := start(t, filepath.Join(newProject(t, lang, "echo"), serverFile(lang)), runOpts{})
			c := dial(t, s.addr())
			roundTrip(t, c, []byte("ping\npong\n"), []byte("ping\npong\n"))
		})
		t.Run("http", func(t *testing.T) {
			t.Parallel()
			s := start(t, filepath.Join(newProject(t, lang, "http"), serverFile(lang)), runOpts{})
			status, body := httpGet(t, "http://"+s.addr()+"/hello/gopher")
			if status != 200 || body != `{"greeting":"Hello, gopher!"}` {
				t.Errorf("GET /hello/gopher: %d %q", status, body)
			}
		})
		t.Run("ws", func(t *testing.T) {
			t.Parallel()
			s := start(t, filepath.Join(newProject(t, lang, "ws"), serverFile(lang)), runOpts{})
			c, _ := wsDial(t, wsDialer(nil), "ws://"+s.addr()+"/", nil)
			_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
			for _, m := range []struct {
				kind int
				data string
			}{{websocket.TextMessage, "hi there"}, {websocket.BinaryMessage, "\x00\xff"}} {
				if err := c.WriteMessage(m.kind, []byte(m.data)); err != nil {
					t.Fatal(err)
				}
				kind, got, err := c.ReadMessage()
				if err != nil || kind != m.kind || string(got) != m.data {
					t.Errorf("echo of %q (type %d): %q (type %d), %v", m.data, m.kind, got, kind, err)
				}
			}
		})
		t.Run("chat", func(t *testing.T) {
			t.Parallel()
			s := start(t, filepath.Join(newProject(t, lang, "chat"), serverFile(lang)), runOpts{})
			status, body := httpGet(t, "http://"+s.addr()+"/")
			if status != 200 || !strings.Contains(body, "<title>chat</title>") || !strings.Contains(body, "new WebSocket(") {
				t.Errorf("GET /: %d %q", status, body)
			}
			// Each client is in the room once the server says so.
			join := func() *websocket.Conn {
				c, _ := wsDial(t, wsDialer(nil), "ws://"+s.addr()+"/", nil)
				_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
				if _, got, err := c.ReadMessage(); err != nil || string(got) != `{"joined":"lobby"}` {
					t.Fatalf("first message: %q, %v; want {\"joined\":\"lobby\"}", got, err)
				}
				return c
			}
			a, b := join(), join()
			if err := a.WriteMessage(websocket.TextMessage, []byte(`{"nick":"ada","text":"hi"}`)); err != nil {
				t.Fatal(err)
			}
			for _, c := range []*websocket.Conn{b, a} {
				_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
				_, got, err := c.ReadMessage()
				if err != nil || !strings.Contains(string(got), `"nick":"ada"`) || !strings.Contains(string(got), `"text":"hi"`) {
					t.Errorf("chat message: %q, %v", got, err)
				}
			}
		})
	})
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	cl := &http.Client{Timeout: ioTimeout}
	res, err := cl.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

// TestNewProjectTypes: the generated editor settings check the project:
// `tsc -p jsconfig.json` and `luacheck .` pass in the project's folder,
// and a misspelled test function is caught.
func TestNewProjectTypes(t *testing.T) {
	t.Parallel()
	t.Run("js", func(t *testing.T) {
		t.Parallel()
		tsc := tool(t, "tsc", "tests/types/node_modules/.bin/tsc", "typescript (npm ci --prefix tests/types)")
		for _, tpl := range newTemplates {
			dir := newProject(t, "js", tpl.name)
			if code, out := run(t, dir, tsc, "-p", "jsconfig.json", "--pretty", "false"); code != 0 {
				t.Errorf("%s: tsc -p jsconfig.json: exit %d\n%s", tpl.name, code, out)
			}
		}
		dir := newProject(t, "js", "echo")
		edit(t, filepath.Join(dir, "server.test.js"), "t.equal(", "t.equl(")
		if code, out := run(t, dir, tsc, "-p", "jsconfig.json", "--pretty", "false"); code == 0 || !strings.Contains(out, "Property 'equl' does not exist") {
			t.Errorf("tsc over t.equl(...): exit %d, want an error naming equl:\n%s", code, out)
		}
	})
	t.Run("lua", func(t *testing.T) {
		t.Parallel()
		luacheck := tool(t, "luacheck", "", "lua-check (apt-get install lua-check)")
		for _, tpl := range newTemplates {
			dir := newProject(t, "lua", tpl.name)
			if code, out := run(t, dir, luacheck, "--no-color", "."); code != 0 {
				t.Errorf("%s: luacheck .: exit %d\n%s", tpl.name, code, out)
			}
		}
		dir := newProject(t, "lua", "echo")
		edit(t, filepath.Join(dir, "server_test.lua"), "local t = imscript.test", "local t = imscript.tset")
		if code, out := run(t, dir, luacheck, "--no-color", "."); code == 0 || !strings.Contains(out, "undefined field 'tset'") {
			t.Errorf("luacheck over imscript.tset: exit %d, want an undefined field:\n%s", code, out)
		}
	})
}

// TestNewRefuses: bad names and flags exit 2, a folder with files in it
// exits 1, each with a message; `imscript test` without tests exits 1.
func TestNewRefuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"new"}, 2, "want one project name"},
		{[]string{"new", "a b"}, 2, `"a b" is not a project name`},
		{[]string{"new", "p", "--lang", "python"}, 2, `--lang "python": want lua or js`},
		{[]string{"new", "p", "--template", "blog"}, 2, `--template "blog": want one of echo, http, ws, chat`},
		{[]string{"new", "p", "--tempalte", "echo"}, 2, "flag provided but not defined: -tempalte"},
		{[]string{"test", "--timeout", "0s"}, 2, "--timeout must be above 0"},
		{[]string{"test"}, 1, "imscript test: no test files in ."},
	} {
		out, errOut, code := imscript(t, dir, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("imscript %s: exit %d, stderr %q; want exit %d and %q (stdout %q)", strings.Join(c.args, " "), code, errOut, c.code, c.want, out)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "full"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "full", "notes.txt"), []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := imscript(t, dir, "new", "full")
	if code != 1 || !strings.Contains(errOut, "full exists and is not empty") {
		t.Errorf("imscript new full (a folder with a file): exit %d, stderr %q", code, errOut)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "full", "notes.txt")); err != nil || string(b) != "mine\n" {
		t.Errorf("the user's file changed: %q, %v", b, err)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "full")); len(entries) != 1 {
		t.Errorf("imscript new wrote into a folder it refused: %d entries", len(entries))
	}
	// An empty folder is fine.
	if err := os.MkdirAll(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := imscript(t, dir, "new", "empty"); code != 0 {
		t.Errorf("imscript new empty (an empty folder): exit %d, stderr %q", code, errOut)
	}
}

// testReportScripts are test files whose tests pass and fail in the ways
// `imscript test` must report: by name, with the failing line.
var testReportScripts = map[string]string{
	"report_test.lua": `local t = imscript.test
t.it("tables compare deeply", function()
    t.equal({ a = 1, b = { 1, 2 } }, { a = 1, b = { 1, 3 } }) -- deep
end)
t.it("an error fails", function()
    error("boom") -- error
end)
t.it("a take that times out says so", function()
    t.equal(t.inbox():take(0.2), "reply") -- take
end)
t.it("a test that never ends times out", function()
    imscript.sleep(60)
end)
t.it("a test that waits passes", function()
    local inbox = t.inbox()
    imscript.after(20, function() inbox:push("later") end)
    t.equal(inbox:take(), "later")
end)
`,
	"report.test.js": `const t = imscript.test;
t.it("a throw fails", () => {
  throw new Error("sync boom"); // throw
});
t.it("a rejection fails", async () => {
  await imscript.sleep(0.01);
  t.fail("async boom"); // reject
});
t.it("a test that waits passes", async () => {
  const inbox = t.inbox();
  setTimeout(() => inbox.push(Buffer.from("later")), 20);
  t.equal(await inbox.take(), "later");
});
`,
	"broken_test.lua": "local t = imscript.test\nt.it(\"x\", function() end\n",
}

// TestTestCommandReports: what `imscript test` prints for each way a test
// ends, in both languages: the test's name, the message, its file:line;
// a timeout; a file that does not load; the exit status.
func TestTestCommandReports(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, src := range testReportScripts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, errOut, code := imscript(t, dir, "test", "--timeout", "2s")
	if code != 1 {
		t.Fatalf("imscript test: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	line := func(file, marker string) string {
		return file + ":" + strconv.Itoa(markerLine(t, filepath.Join(dir, file), marker))
	}
	for _, want := range []string{
		"  FAIL tables compare deeply (",
		line("report_test.lua", "-- deep") + ": assertion failed: expected {a = 1, b = [1, 3]}, got {a = 1, b = [1, 2]}",
		"  FAIL an error fails (",
		line("report_test.lua", "-- error") + ": boom",
		"  FAIL a take that times out says so (",
		line("report_test.lua", "-- take") + `: assertion failed: expected "reply", got nil (inbox:take: nothing arrived within 0.2 s)`,
		"  FAIL a test that never ends times out (",
		"timed out after 2s",
		"  PASS a test that waits passes (",
		"  FAIL a throw fails (",
		line("report.test.js", "// throw") + ":9: Error: sync boom",
		"  FAIL a rejection fails (",
		line("report.test.js", "// reject") + ":9: assertion failed: async boom",
		"broken_test.lua\n  FAIL broken_test.lua:2: syntax error",
		"FAIL: 2 passed, 6 failed, 1 file(s) did not run (8 tests in 3 files,",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("imscript test: no %q in:\n%s", want, out)
		}
	}
	if strings.Count(out, "  PASS a test that waits passes (") != 2 {
		t.Errorf("want the waiting test passed in both languages:\n%s", out)
	}
	if strings.Contains(errOut, "handler error") {
		t.Errorf("a failed test is also logged as a handler error:\n%s", errOut)
	}

	// Files named: only those run; all passing exits 0.
	if err := os.WriteFile(filepath.Join(dir, "good_test.lua"), []byte(`imscript.test.it("passes", function() end)`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = imscript(t, dir, "test", "good_test.lua")
	if code != 0 || !strings.Contains(out, "  PASS passes (") || !strings.Contains(out, "ok: 1 passed, 0 failed (1 test in 1 file,") {
		t.Errorf("imscript test good_test.lua: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}
