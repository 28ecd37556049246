package process_test

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imscript/imscript/internal/testutil"
	"github.com/imscript/imscript/script/scripttest"
)

// start writes the files (main is the main script) into a fresh folder and
// runs the main script with one worker and env as imscript.env. Run's error
// fails the test when the host stops.
func start(t *testing.T, env map[string]string, main string, files map[string]string) *scripttest.Host {
	t.Helper()
	others := map[string]string{}
	for name, body := range files {
		if name != main {
			others[name] = body
		}
	}
	h := scripttest.Start(t, scripttest.Options{Name: main, Src: files[main], Files: others, Env: env})
	t.Cleanup(func() {
		if err := h.Stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return h
}

// eventually polls cond until it holds, also once the host has stopped
// (Host.Eventually gives up when the host is not running).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(scripttest.WaitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func eachLang(t *testing.T, body func(t *testing.T, lang string)) {
	for _, lang := range []string{"lua", "js"} {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			body(t, lang)
		})
	}
}

// TestExecEnvAndCwd: env adds to imscript.env (not to the Go process's
// environment), cwd resolves against the script's folder, and args pass
// through unchanged.
func TestExecEnvAndCwd(t *testing.T) {
	t.Parallel()
	py := "import os, sys\nprint(os.environ.get('BASE'), os.environ.get('EXTRA'), os.environ.get('GOPATH_IS_SET', 'unset'), os.path.basename(os.getcwd()), sys.argv[1:])\n"
	scripts := map[string]string{
		"lua": `
local p = imscript.process.exec{ cmd = "python3", args = { "../show.py", "a b", 42 }, env = { EXTRA = "yes" }, cwd = "sub" }
p:on("stdout", function(d) print("out: " .. (d:gsub("\n$", ""))) end)
p:on("exit", function(code, sig) print("exit " .. tostring(code) .. " " .. tostring(sig)) end)
`,
		"js": `
const p = imscript.process.exec({ cmd: "python3", args: ["../show.py", "a b", 42], env: { EXTRA: "yes" }, cwd: "sub" });
p.on("stdout", (d) => console.log("out: " + d.toString().trim()));
p.on("exit", (code, sig) => console.log("exit " + code + " " + (sig === null ? "nil" : sig)));
`,
	}
	eachLang(t, func(t *testing.T, lang string) {
		r := start(t, map[string]string{"BASE": "base"}, "main."+lang, map[string]string{
			"main." + lang: scripts[lang],
			"show.py":      py,
			"sub/keep":     "",
		})
		r.WaitStdout("exit 0 nil")
		if want := "out: base yes unset sub ['a b', '42']\n"; !strings.Contains(r.Stdout(), want) {
			t.Fatalf("stdout lacks %q:\n%s", want, r.Stdout())
		}
	})
}

// TestExecChattyChild: 24 MiB of output arrive complete and in order, in
// chunks of at most 64 KiB, before the exit event.
func TestExecChattyChild(t *testing.T) {
	t.Parallel()
	py := "import sys\nout = sys.stdout.buffer\nfor i in range(24 * 16):\n    out.write(bytes([i % 251]) * 65536)\nout.flush()\n"
	scripts := map[string]string{
		"lua": `
local p = imscript.process.exec{ cmd = "python3", args = { "chatty.py" } }
local total, biggest, bad, pos = 0, 0, 0, 0
p:on("stdout", function(d)
  if #d > biggest then biggest = #d end
  -- byte k of the stream is (k // 65536) % 251: check the chunk's ends
  local first, last = d:byte(1), d:byte(#d)
  if first ~= math.floor(pos / 65536) % 251 then bad = bad + 1 end
  if last ~= math.floor((pos + #d - 1) / 65536) % 251 then bad = bad + 1 end
  pos = pos + #d
  total = total + #d
end)
p:on("exit", function(code) print("exit " .. tostring(code) .. " total " .. total .. " bad " .. bad .. " small " .. tostring(biggest <= 65536)) end)
`,
		"js": `
const p = imscript.process.exec({ cmd: "python3", args: ["chatty.py"] });
let total = 0, biggest = 0, bad = 0, pos = 0;
p.on("stdout", (d) => {
  if (d.length > biggest) biggest = d.length;
  if (d[0] !== Math.floor(pos / 65536) % 251) bad++;
  if (d[d.length - 1] !== Math.floor((pos + d.length - 1) / 65536) % 251) bad++;
  pos += d.length;
  total += d.length;
});
p.on("exit", (code) => console.log("exit " + code + " total " + total + " bad " + bad + " small " + (biggest <= 65536)));
`,
	}
	eachLang(t, func(t *testing.T, lang string) {
		r := start(t, nil, "main."+lang, map[string]string{"main." + lang: scripts[lang], "chatty.py": py})
		r.WaitStdout("exit ")
		if want := "exit 0 total " + strconv.Itoa(24<<20) + " bad 0 small true\n"; r.Stdout() != want {
			t.Fatalf("stdout %q, want %q", r.Stdout(), want)
		}
	})
}

// TestExecStdinBackpressure: writes to a process that does not read are
// queued up to 4 MiB, then write returns false (Lua: and the reason);
// closeStdin twice fails the second time; kill reports the signal.
func TestExecStdinBackpressure(t *testing.T) {
	t.Parallel()
	scripts := map[string]string{
		"lua": `
local p = imscript.process.exec{ cmd = "sleep", args = { "60" } }
local mib = string.rep("x", 1024 * 1024)
local n = 0
while true do
  local ok, why = p:write(mib)
  if not ok then print("full after " .. n .. ": " .. why) break end
  n = n + 1
end
print("close " .. tostring(p:closeStdin()) .. " " .. tostring(p:closeStdin()))
print("write after close " .. tostring(p:write("x")))
p:on("exit", function(code, sig)
  print("exit " .. tostring(code) .. " " .. tostring(sig) .. ", kill again " .. tostring(p:kill()) .. ", write " .. tostring(p:write("x")))
end)
print("kill " .. tostring(p:kill("kill")))
`,
		"js": `
const p = imscript.process.exec({ cmd: "sleep", args: ["60"] });
const mib = Buffer.alloc(1024 * 1024, "x");
let n = 0;
while (p.write(mib)) n++;
console.log("full after " + n + ": stdin buffer full (4194304 bytes waiting for the process to read them)");
console.log("close " + p.closeStdin() + " " + p.closeStdin());
console.log("write after close " + p.write("x"));
p.on("exit", (code, sig) => {
  console.log("exit " + (code === null ? "nil" : code) + " " + sig + ", kill again " + p.kill() + ", write " + p.write("x"));
});
console.log("kill " + p.kill("kill"));
`,
	}
	eachLang(t, func(t *testing.T, lang string) {
		r := start(t, nil, "main."+lang, map[string]string{"main." + lang: scripts[lang]})
		r.WaitStdout("exit ")
		want := "full after 4: stdin buffer full (4194304 bytes waiting for the process to read them)\n" +
			"close true false\n" +
			"write after close false\n" +
			"kill true\n" +
			"exit nil SIGKILL, kill again false, write false\n"
		if got := r.Stdout(); got != want {
			t.Fatalf("stdout:\n%s\nwant:\n%s", got, want)
		}
	})
}

// TestExecUsageErrors: misuse raises an error that says what is wrong.
func TestExecUsageErrors(t *testing.T) {
	t.Parallel()
	cases := []struct{ lua, js, want string }{
		{`imscript.process.exec{ cmd = "true", bogus = 1 }`, `imscript.process.exec({ cmd: "true", bogus: 1 })`, `unknown option "bogus"`},
		{`imscript.process.exec{ args = { "x" } }`, `imscript.process.exec({ args: ["x"] })`, `cmd must be a non-empty string`},
		{`imscript.process.exec{ cmd = "true", args = "x" }`, `imscript.process.exec({ cmd: "true", args: "x" })`, `args must be a list of strings`},
		{`imscript.process.exec{ cmd = "true", env = { A = {} } }`, `imscript.process.exec({ cmd: "true", env: { A: {} } })`, `env.A must be a string or a number`},
		{`imscript.process.exec{ cmd = "no-such-command-xyz" }`, `imscript.process.exec({ cmd: "no-such-command-xyz" })`, `"no-such-command-xyz": executable file not found`},
		{`imscript.process.exec{ cmd = "true", cwd = "nowhere" }`, `imscript.process.exec({ cmd: "true", cwd: "nowhere" })`, `cwd `},
		{`imscript.process.exec{ cmd = "sleep", args = { "5" } }:kill("SIGNOPE")`, `imscript.process.exec({ cmd: "sleep", args: ["5"] }).kill("SIGNOPE")`, `unknown signal "SIGNOPE"`},
		{`imscript.process.exec{ cmd = "true" }:on("stdin", print)`, `imscript.process.exec({ cmd: "true" }).on("stdin", console.log)`, `unknown event "stdin" (stdout, stderr, exit)`},
		{`imscript.process.exec("true")`, `imscript.process.exec("true")`, `(options)`},
	}
	eachLang(t, func(t *testing.T, lang string) {
		var src strings.Builder
		for i, c := range cases {
			if lang == "lua" {
				src.WriteString("print(" + strconv.Itoa(i) + ", select(2, pcall(function() " + c.lua + " end)))\n")
			} else {
				src.WriteString("try { " + c.js + "; console.log(" + strconv.Itoa(i) + ", 'no error') } catch (e) { console.log(" + strconv.Itoa(i) + ", e.message) }\n")
			}
		}
		src.WriteString("print('done')\n")
		if lang == "js" {
			src.WriteString("function print(x) { console.log(x) }\n")
		}
		r := start(t, nil, "main."+lang, map[string]string{"main." + lang: src.String()})
		r.WaitStdout("done")
		lines := strings.Split(r.Stdout(), "\n")
		for i, c := range cases {
			if i >= len(lines) || !strings.Contains(lines[i], c.want) {
				t.Errorf("case %d: want %q in the error, got:\n%s", i, c.want, r.Stdout())
			}
		}
	})
}

// TestExecProcessesEndWithTheirVersion: a reload kills the processes the
// old version started, and so does stopping the host; they are reaped.
func TestExecProcessesEndWithTheirVersion(t *testing.T) {
	t.Parallel()
	scripts := map[string]string{
		"lua": `
local p = imscript.process.exec{ cmd = "sh", args = { "-c", "sleep 60 & echo $!; wait" } }
p:on("stdout", function(d) print("VER pids " .. p.pid .. " " .. (d:gsub("\n$", ""))) end)
`,
		"js": `
const p = imscript.process.exec({ cmd: "sh", args: ["-c", "sleep 60 & echo $!; wait"] });
p.on("stdout", (d) => console.log("VER pids " + p.pid + " " + d.toString().trim()));
`,
	}
	pidsRe := regexp.MustCompile(`(v\d) pids (\d+) (\d+)\n`)
	pids := func(r *scripttest.Host, v string) []int {
		for _, m := range pidsRe.FindAllStringSubmatch(r.Stdout(), -1) {
			if m[1] == v {
				a, _ := strconv.Atoi(m[2])
				b, _ := strconv.Atoi(m[3])
				return []int{a, b}
			}
		}
		return nil
	}
	eachLang(t, func(t *testing.T, lang string) {
		src := func(v string) string { return strings.ReplaceAll(scripts[lang], "VER", v) }
		r := start(t, nil, "main."+lang, map[string]string{"main." + lang: src("v1")})
		r.WaitStdout("v1 pids")
		v1 := pids(r, "v1")
		r.Reload(src("v2"))
		r.WaitStdout("v2 pids")
		v2 := pids(r, "v2")
		// The shell and its background sleep (same process group) are gone.
		for _, pid := range v1 {
			r.Eventually("v1 process "+strconv.Itoa(pid)+" to be gone", func() bool { return testutil.ProcessGone(pid) })
		}
		for _, pid := range v2 {
			if testutil.ProcessGone(pid) {
				t.Fatalf("v2 process %d is gone before the host stopped", pid)
			}
		}
		if err := r.Stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
		for _, pid := range v2 {
			eventually(t, "v2 process "+strconv.Itoa(pid)+" to be gone", func() bool { return testutil.ProcessGone(pid) })
		}
	})
}

// TestExecInSpawnedScript: a spawned script runs processes too, and killing
// the script kills them.
func TestExecInSpawnedScript(t *testing.T) {
	t.Parallel()
	files := map[string]map[string]string{
		"lua": {
			"main.lua": `
local c = imscript.process.spawn("kid.lua")
c:on("message", function(pid) print("pid " .. pid); c:kill() end)
c:on("exit", function(code) print("kid exit " .. tostring(code)) end)
`,
			"kid.lua": `
local p = imscript.process.exec{ cmd = "sleep", args = { "60" } }
imscript.process.parent:send(p.pid)
`,
		},
		"js": {
			"main.js": `
const c = imscript.process.spawn("kid.js");
c.on("message", (pid) => { console.log("pid " + pid); c.kill(); });
c.on("exit", (code) => console.log("kid exit " + (code === null ? "nil" : code)));
`,
			"kid.js": `
const p = imscript.process.exec({ cmd: "sleep", args: ["60"] });
imscript.process.parent.send(p.pid);
`,
		},
	}
	eachLang(t, func(t *testing.T, lang string) {
		r := start(t, nil, "main."+lang, files[lang])
		r.WaitStdout("kid exit nil\n")
		m := regexp.MustCompile(`pid (\d+)\n`).FindStringSubmatch(r.Stdout())
		if m == nil {
			t.Fatalf("no pid:\n%s", r.Stdout())
		}
		pid, _ := strconv.Atoi(m[1])
		r.Eventually("the kid's process to end", func() bool { return testutil.ProcessGone(pid) })
	})
}
