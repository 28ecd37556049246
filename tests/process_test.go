package tests

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/imscript/imscript/internal/testutil"
)

// Processes: imscript.process.exec (child OS processes) and
// imscript.process.spawn (scripts in their own VMs), with real children.

// procScript writes src as main.<lang> in a fresh folder and returns its
// path.
func procScript(t *testing.T, lang, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "main."+lang)
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestProcessExample: the process example hands plain lines to the Python
// echo child (python3 scripts/python/echo.py) and "vm ..." lines to its
// spawned script, and answers with what they said.
func TestProcessExample(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		s := start(t, example(lang, "process"), runOpts{})
		c := dial(t, s.addr())
		ask := func(line, want string) {
			t.Helper()
			write(t, c, []byte(line))
			got, err := readLine(c, ioTimeout)
			if err != nil || got != want {
				t.Fatalf("sent %q: got %q (%v), want %q", line, got, err, want)
			}
		}
		ask("hello\n", "hello\n")
		ask("vm hello world\n", "vm: 2 words, 11 bytes (message #1)\n")
		ask("hello again\r\n", "hello again\r\n")
		ask("vm  a  b c \n", "vm: 3 words, 8 bytes (message #2)\n")
		// Bytes that are not UTF-8 go through the Python child unchanged.
		bin := append(bytes.ReplaceAll(allBytes(), []byte("\n"), nil), '\n')
		write(t, c, bin)
		expect(t, c, bin)
		// Several lines at once come back in order.
		write(t, c, []byte("one\ntwo\nthree\n"))
		expect(t, c, []byte("one\ntwo\nthree\n"))
		// A second connection is served too.
		c2 := dial(t, s.addr())
		roundTrip(t, c2, []byte("second\n"), []byte("second\n"))
	})
}

// procScenarios run several children at once and print one line per
// outcome: an echo child whose stdin is closed, a crashing child (its
// stdout and stderr arrive before its exit code), children killed with the
// default SIGTERM and with signal 9, and cat fed 2 MiB then closed.
var procScenarios = map[string]string{
	"lua": `
local function s(v) return tostring(v) end
local e = imscript.process.exec{ cmd = "python3", args = { imscript.env.ECHO_PY } }
local out = ""
e:on("stdout", function(d) out = out .. d end)
e:on("exit", function(code, sig) print("echo: " .. s(code) .. " " .. s(sig) .. " " .. (out == "one\ntwo\n" and "ok" or ("got " .. out))) end)
e:write("one\n")
e:write("two\n")
e:closeStdin()

local c = imscript.process.exec{ cmd = "python3", args = { "-c", "import sys\nprint('partial', flush=True)\nraise SystemExit(sys.stderr.write('Traceback: boom\\n') and 3)" } }
local cout, cerr = "", ""
c:on("stdout", function(d) cout = cout .. d end)
c:on("stderr", function(d) cerr = cerr .. d end)
c:on("exit", function(code, sig)
  print("crash: " .. s(code) .. " " .. s(sig) .. " " .. (cout == "partial\n" and "stdout-ok" or cout) .. " " .. (cerr == "Traceback: boom\n" and "stderr-ok" or cerr))
end)

local k = imscript.process.exec{ cmd = "python3", args = { "-c", "import time\nprint('ready', flush=True)\ntime.sleep(60)" } }
k:on("stdout", function() k:kill() end)
k:on("exit", function(code, sig) print("killed: " .. s(code) .. " " .. s(sig)) end)

local k9 = imscript.process.exec{ cmd = "sleep", args = { "60" } }
k9:on("exit", function(code, sig) print("killed9: " .. s(code) .. " " .. s(sig)) end)
k9:kill(9)

local cat = imscript.process.exec{ cmd = "cat" }
local n, same = 0, true
local block = string.rep("0123456789abcdef", 65536)
cat:on("stdout", function(d)
  if d ~= block:sub(n % #block + 1, n % #block + #d) then same = false end
  n = n + #d
end)
cat:on("exit", function(code, sig) print("cat: " .. s(code) .. " " .. s(sig) .. " " .. n .. " " .. s(same)) end)
cat:write(block)
cat:write(block)
cat:closeStdin()
`,
	"js": `
const s = (v) => (v === null || v === undefined ? "nil" : String(v));
const e = imscript.process.exec({ cmd: "python3", args: [imscript.env.ECHO_PY] });
let out = "";
e.on("stdout", (d) => { out += d.toString(); });
e.on("exit", (code, sig) => console.log("echo: " + s(code) + " " + s(sig) + " " + (out === "one\ntwo\n" ? "ok" : "got " + out)));
e.write("one\n");
e.write(Buffer.from("two\n"));
e.closeStdin();

const c = imscript.process.exec({ cmd: "python3", args: ["-c", "import sys\nprint('partial', flush=True)\nraise SystemExit(sys.stderr.write('Traceback: boom\\n') and 3)"] });
let cout = "", cerr = "";
c.on("stdout", (d) => { cout += d.toString(); });
c.on("stderr", (d) => { cerr += d.toString(); });
c.on("exit", (code, sig) => {
  console.log("crash: " + s(code) + " " + s(sig) + " " + (cout === "partial\n" ? "stdout-ok" : cout) + " " + (cerr === "Traceback: boom\n" ? "stderr-ok" : cerr));
});

const k = imscript.process.exec({ cmd: "python3", args: ["-c", "import time\nprint('ready', flush=True)\ntime.sleep(60)"] });
k.on("stdout", () => k.kill());
k.on("exit", (code, sig) => console.log("killed: " + s(code) + " " + s(sig)));

const k9 = imscript.process.exec({ cmd: "sleep", args: ["60"] });
k9.on("exit", (code, sig) => console.log("killed9: " + s(code) + " " + s(sig)));
k9.kill(9);

const cat = imscript.process.exec({ cmd: "cat" });
let n = 0, same = true;
const block = Buffer.from("0123456789abcdef".repeat(65536));
cat.on("stdout", (d) => {
  const at = n % block.length;
  if (!d.equals(block.subarray(at, at + d.length))) same = false;
  n += d.length;
});
cat.on("exit", (code, sig) => console.log("cat: " + s(code) + " " + s(sig) + " " + n + " " + s(same)));
cat.write(block);
cat.write(block);
cat.closeStdin();
`,
}

// TestProcessExec: the outcomes of real child processes, in both languages.
func TestProcessExec(t *testing.T) {
	t.Parallel()
	echoPy := filepath.Join(repoRoot, "scripts", "python", "echo.py")
	eachLang(t, func(t *testing.T, lang string) {
		s := start(t, procScript(t, lang, procScenarios[lang]), runOpts{workers: 1, env: map[string]string{"ECHO_PY": echoPy}})
		for _, want := range []string{
			"echo: 0 nil ok\n",
			"crash: 3 nil stdout-ok stderr-ok\n",
			"killed: nil SIGTERM\n",
			"killed9: nil SIGKILL\n",
			"cat: 0 nil 2097152 true\n",
		} {
			s.waitStdout(want)
		}
	})
}

// procSpawnScripts: the parent and its spawned child exchange 10,000
// messages each way at once and the parent checks their order.
var procSpawnScripts = map[string][2]string{
	"lua": {`
local N = 10000
local child = imscript.process.spawn("child.lua", N)
local own, echoed, bad = 0, 0, 0
child:on("message", function(m)
  if m.kind == "own" then
    own = own + 1
    if m.i ~= own then bad = bad + 1 end
  else
    echoed = echoed + 1
    if m.i ~= echoed or m.text ~= "msg " .. m.i then bad = bad + 1 end
  end
end)
child:on("exit", function(code)
  print("worker " .. imscript.worker_id .. ": exit " .. tostring(code) .. ", own " .. own .. ", echoed " .. echoed .. ", out of order " .. bad)
end)
for i = 1, N do child:send({ i = i, text = "msg " .. i }) end
child:send("stop")
`, `
local parent = imscript.process.parent
parent:on("message", function(m)
  if m == "stop" then imscript.process.exit(0) return end
  parent:send({ kind = "echo", i = m.i, text = m.text })
end)
for i = 1, imscript.process.arg do parent:send({ kind = "own", i = i }) end
`},
	"js": {`
const N = 10000;
const child = imscript.process.spawn("child.js", N);
let own = 0, echoed = 0, bad = 0;
child.on("message", (m) => {
  if (m.kind === "own") {
    own++;
    if (m.i !== own) bad++;
  } else {
    echoed++;
    if (m.i !== echoed || m.text !== "msg " + m.i) bad++;
  }
});
child.on("exit", (code) => {
  console.log("worker " + imscript.worker_id + ": exit " + code + ", own " + own + ", echoed " + echoed + ", out of order " + bad);
});
for (let i = 1; i <= N; i++) child.send({ i, text: "msg " + i });
child.send("stop");
`, `
const parent = imscript.process.parent;
parent.on("message", (m) => {
  if (m === "stop") { imscript.process.exit(0); return; }
  parent.send({ kind: "echo", i: m.i, text: m.text });
});
for (let i = 1; i <= imscript.process.arg; i++) parent.send({ kind: "own", i });
`},
}

// TestProcessSpawnTenThousand: on each of two workers, a spawned script
// VM and its parent exchange 10,000 messages each way; all arrive in
// order before the child's exit event.
func TestProcessSpawnTenThousand(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		main := procScript(t, lang, procSpawnScripts[lang][0])
		if err := os.WriteFile(filepath.Join(filepath.Dir(main), "child."+lang), []byte(procSpawnScripts[lang][1]), 0o644); err != nil {
			t.Fatal(err)
		}
		s := start(t, main, runOpts{workers: 2})
		for w := 0; w < 2; w++ {
			s.waitStdout("worker " + strconv.Itoa(w) + ": exit 0, own 10000, echoed 10000, out of order 0\n")
		}
	})
}

// TestProcessSpawnErrors: a missing script and a syntax error fail spawn
// with the path (and file:line); an error in the child's main chunk is
// logged with its file:line and the child exits with code 1.
func TestProcessSpawnErrors(t *testing.T) {
	t.Parallel()
	srcs := map[string]string{
		"lua": `
for _, f in ipairs({ "missing.lua", "bad.lua" }) do
  local ok, err = pcall(imscript.process.spawn, f)
  print(f .. ": " .. tostring(ok) .. " " .. err)
end
imscript.process.spawn("boom.lua"):on("exit", function(code) print("boom exit " .. tostring(code)) end)
`,
		"js": `
for (const f of ["missing.js", "bad.js"]) {
  try { imscript.process.spawn(f); console.log(f + ": true"); } catch (e) { console.log(f + ": false " + e.message); }
}
imscript.process.spawn("boom.js").on("exit", (code) => console.log("boom exit " + code));
`,
	}
	files := map[string]map[string]string{
		"lua": {"bad.lua": "local a = 1\nlocal b = = 2\n", "boom.lua": "local a = 1\nlocal b = nil\nprint(b.field) -- BOOM\n"},
		"js":  {"bad.js": "const a = 1;\nconst b = = 2;\n", "boom.js": "const a = 1;\nconst b = null;\nconsole.log(b.field); // BOOM\n"},
	}
	eachLang(t, func(t *testing.T, lang string) {
		main := procScript(t, lang, srcs[lang])
		for name, body := range files[lang] {
			if err := os.WriteFile(filepath.Join(filepath.Dir(main), name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		s := start(t, main, runOpts{workers: 1})
		s.waitStdout("boom exit 1\n")
		out := s.stdout.String()
		if !regexp.MustCompile(`missing\.` + lang + `: false .*imscript\.process\.spawn: .*missing\.` + lang + `: no such script file`).MatchString(out) {
			t.Errorf("missing script:\n%s", out)
		}
		if !regexp.MustCompile(`bad\.` + lang + `: false .*imscript\.process\.spawn: .*bad\.` + lang + `:2:.*syntax error`).MatchString(out) {
			t.Errorf("syntax error without file:line:\n%s", out)
		}
		line := s.waitStderr("spawned script failed")
		if want := "boom." + lang + ":3"; !strings.Contains(line, want) {
			t.Errorf("the child's error does not name %s: %s", want, line)
		}
	})
}

// TestProcessChildrenEndWithHost: SIGTERM stops the host, and with it the
// OS processes and the spawned scripts its workers started.
func TestProcessChildrenEndWithHost(t *testing.T) {
	t.Parallel()
	srcs := map[string]string{
		"lua": `
local p = imscript.process.exec{ cmd = "sleep", args = { "60" } }
print("pid " .. p.pid)
imscript.process.spawn("child.lua")
`,
		"js": `
const p = imscript.process.exec({ cmd: "sleep", args: ["60"] });
console.log("pid " + p.pid);
imscript.process.spawn("child.js");
`,
	}
	children := map[string]string{
		"lua": "imscript.tick(10, function() end)\n",
		"js":  "setInterval(() => {}, 10);\n",
	}
	eachLang(t, func(t *testing.T, lang string) {
		main := procScript(t, lang, srcs[lang])
		if err := os.WriteFile(filepath.Join(filepath.Dir(main), "child."+lang), []byte(children[lang]), 0o644); err != nil {
			t.Fatal(err)
		}
		s := start(t, main, runOpts{workers: 2})
		waitFor(t, waitTimeout, "two pids", func() bool { return strings.Count(s.stdout.String(), "pid ") == 2 })
		var pids []int
		for _, m := range regexp.MustCompile(`pid (\d+)`).FindAllStringSubmatch(s.stdout.String(), -1) {
			pid, _ := strconv.Atoi(m[1])
			pids = append(pids, pid)
		}
		for _, pid := range pids {
			if testutil.ProcessGone(pid) {
				t.Fatalf("child %d is gone before the host stopped", pid)
			}
		}
		s.signal(syscall.SIGTERM)
		waitFor(t, waitTimeout, "the host to exit", s.exited)
		if s.err != nil {
			t.Fatalf("the host exited with %v", s.err)
		}
		for _, pid := range pids {
			waitFor(t, waitTimeout, "child "+strconv.Itoa(pid)+" to end", func() bool { return testutil.ProcessGone(pid) })
		}
		if strings.Contains(s.stderr.String(), "still running") {
			t.Errorf("a spawned script did not stop:\n%s", s.stderr.String())
		}
	})
}
