package tests

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
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
	"strings"
	"testing"
	"unicode"
)

// The docs' samples (README.md and docs/**/*.md) are checked against the
// built binary; docs/README.md states the convention:
//
//   - every ```lua and ```js block compiles (`imscript check`);
//   - a block after <!-- run: NAME --> is a complete server: it is run and
//     docsRunChecks[NAME] talks to it;
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

// docsRunEnv gives a marked server the environment it needs.
var docsRunEnv = map[string]func(t *testing.T) map[string]string{
	"tcp-fetch":        docsUpstream,
	"tcp-fetch-status": docsUpstream,
	// docs/api/identity.md's login service signs with an EC key (ES256).
	"http-login": func(t *testing.T) map[string]string {
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
	},
}

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

// docsRunChecks talk to the complete servers marked <!-- run: NAME -->.
var docsRunChecks = map[string]func(t *testing.T, s *server){
	// The quick start's echo: a line comes back after "echo: "; then, as
	// its step 4 says, an edit changes the reply on the same connection and
	// a typo only logs an error.
	"tcp-echo": func(t *testing.T, s *server) {
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
	// docs/api/http.md's routes: a parameter, a 404, a JSON body, a bad one.
	"http-routes": func(t *testing.T, s *server) {
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
	"http-login": func(t *testing.T, s *server) {
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
	"http-limit": func(t *testing.T, s *server) {
		for range 5 {
			docsHTTP(t, "POST", "http://"+s.addr()+"/login", "", 200, "welcome")
		}
		docsHTTP(t, "POST", "http://"+s.addr()+"/login", "", 429, "slow down")
	},
	// docs/api/async.md: the handler waits for the upstream's answer.
	"tcp-fetch": func(t *testing.T, s *server) {
		c := dial(t, s.addr())
		defer c.Close()
		roundTrip(t, c, []byte("go\n"), []byte("upstream says hi"))
	},
	// docs/api/client.md: the status, then the body.
	"tcp-fetch-status": func(t *testing.T, s *server) {
		c := dial(t, s.addr())
		defer c.Close()
		roundTrip(t, c, []byte("go\n"), []byte("200 upstream says hi"))
	},
	// docs/settings.md: length-prefixed packages, two in one write.
	"tcp-framed": func(t *testing.T, s *server) {
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
	"tcp-task": func(t *testing.T, s *server) {
		c := dial(t, s.addr())
		defer c.Close()
		roundTrip(t, c, []byte("make me loud\n"), []byte("MAKE ME LOUD\n"))
		roundTrip(t, c, []byte("again\n"), []byte("AGAIN\n"))
	},
	// docs/api/channels.md: a line from one client reaches both.
	"tcp-room": func(t *testing.T, s *server) {
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

// TestDocsSamples compiles every Lua and JS sample of the docs with
// `imscript check`, runs the complete servers among them, and checks that
// each Lua sample has its JS twin.
func TestDocsSamples(t *testing.T) {
	dir := t.TempDir()
	var compiled, run, lua, js int
	var failures []string
	type runnable struct {
		b    docBlock
		name string
		path string
	}
	var runs []runnable
	for _, f := range docFiles(t) {
		for i, b := range f.blocks {
			if b.info != "lua" && b.info != "js" {
				if _, ok := b.mark("run:"); ok {
					failures = append(failures, b.where()+": a run mark on a "+b.info+" block")
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
			ext := b.info
			if name, ok := b.mark("file:"); ok {
				ext = strings.TrimPrefix(filepath.Ext(name), ".")
			}
			path := filepath.Join(dir, fmt.Sprintf("sample%03d.%s", compiled, ext))
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
			if name, ok := b.mark("run:"); ok {
				if docsRunChecks[name] == nil {
					failures = append(failures, fmt.Sprintf("%s: no check named %q in docsRunChecks", b.where(), name))
					continue
				}
				runs = append(runs, runnable{b, name, path})
			}
		}
	}
	for _, r := range runs {
		run++
		t.Run(fmt.Sprintf("run/%s/%s:%d", r.name, r.b.file, r.b.line), func(t *testing.T) {
			o := runOpts{watch: r.name == "tcp-echo"} // the quick start edits it live
			if env := docsRunEnv[r.name]; env != nil {
				o.env = env(t)
			}
			s := start(t, r.path, o)
			docsRunChecks[r.name](t, s)
		})
	}
	t.Logf("%d samples compiled (%d Lua, %d JS), %d complete servers run", compiled, lua, js, run)
	if compiled < 40 || lua == 0 || js == 0 || run == 0 {
		t.Errorf("only %d samples found (%d Lua, %d JS, %d run): is the fence parser broken?", compiled, lua, js, run)
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
