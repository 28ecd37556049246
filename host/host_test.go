package host_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imscript/imscript/script"
	"github.com/imscript/imscript/script/scripttest"

	"github.com/imscript/imscript"
	"github.com/imscript/imscript/host"
	"github.com/imscript/imscript/internal/testutil"
)

func TestNewRefusesWhatItCannotRun(t *testing.T) {
	t.Parallel()
	if _, err := imscript.New(host.Config{}); err == nil {
		t.Error("New without a script succeeded")
	}
	_, err := imscript.New(host.Config{Script: "server.py"})
	if err == nil || !strings.Contains(err.Error(), `no language runs ".py" files`) {
		t.Errorf("New(server.py) = %v", err)
	}
	// No languages configured: host.New alone runs nothing.
	if _, err := host.New(host.Config{Script: "x.lua"}); err == nil {
		t.Error("host.New without languages accepted a .lua script")
	}
	h, err := imscript.New(host.Config{Script: "rel/x.js"})
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(h.Script()) || filepath.Base(h.Script()) != "x.js" {
		t.Errorf("Script() = %q, want an absolute path", h.Script())
	}
}

func quietConfig(script string) host.Config {
	return host.Config{Script: script, Workers: 2, Env: map[string]string{},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Stdout: io.Discard, Stderr: io.Discard}
}

func TestRunReportsLoadErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cases := map[string]struct{ src, want string }{
		"missing.lua": {"", "read script"},
		"syntax.lua":  {"local x = \nlocal = 2\n", "syntax.lua:1: syntax error: expected an expression after '='"},
		"runtime.lua": {"local t = nil\nprint(t.x)\n", "runtime.lua:2:"},
		"syntax.js":   {"const a = 1;\nconst = 2;\n", "syntax.js:2:"},
		"runtime.js":  {"null.x;\n", "runtime.js:1:"},
		"type.lua":    {"imscript.server{ port = 0, bogus = true }\n", `unknown setting "bogus"`},
	}
	for name, tc := range cases {
		path := filepath.Join(dir, name)
		if name != "missing.lua" {
			if err := os.WriteFile(path, []byte(tc.src), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		h, err := imscript.New(quietConfig(path))
		if err != nil {
			t.Fatal(err)
		}
		err = h.Run(context.Background())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Run = %v, want an error with %q", name, err, tc.want)
		}
		select {
		case <-h.Started():
			t.Errorf("%s: Started closed for a script that did not load", name)
		default:
		}
	}
}

func TestRunReportsAPortInUse(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	path := filepath.Join(t.TempDir(), "busy.lua")
	src := fmt.Sprintf("imscript.server{ host = \"127.0.0.1\", port = %d }\n", port)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := imscript.New(quietConfig(path))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- h.Run(context.Background()) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "listen") {
			t.Errorf("Run = %v, want a listen error", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Run did not return")
	}
}

func TestWorkerNumComesFromTheScript(t *testing.T) {
	t.Parallel()
	src := `
local srv = imscript.server{ host = "127.0.0.1", port = 0, worker_num = 3 }
print("loaded on " .. imscript.worker_id)
srv:on("workerStart", function(s, id) print("workerStart " .. id) end)
srv:on("receive", function(s, fd, d) s:send(fd, s:stats().worker_num .. "\n") end)
`
	r := startHost(t, "three.lua", src, host.Config{Workers: -1})
	c := dial(t, r.port(0))
	if got := c.ask("n"); got != "3" {
		t.Fatalf("worker_num %q, want 3", got)
	}
	out := r.stdout.String()
	for w := 0; w < 3; w++ {
		if !strings.Contains(out, fmt.Sprintf("loaded on %d\n", w)) || !strings.Contains(out, fmt.Sprintf("workerStart %d\n", w)) {
			t.Errorf("worker %d did not load and start:\n%s", w, out)
		}
	}
	// Config.Workers overrides the script.
	r2 := startHost(t, "three.lua", src, host.Config{Workers: 1})
	if got := dial(t, r2.port(0)).ask("n"); got != "1" {
		t.Fatalf("Config.Workers 1: worker_num %q", got)
	}
}

// Not parallel: it sets the process environment.
func TestEnvDefaultsToTheProcessEnvironment(t *testing.T) {
	t.Setenv("IMSCRIPT_TEST_VAR", "from the process")
	dir := t.TempDir()
	path := filepath.Join(dir, "env.lua")
	if err := os.WriteFile(path, []byte(`print(imscript.env.IMSCRIPT_TEST_VAR)`), 0o644); err != nil {
		t.Fatal(err)
	}
	var out scripttest.Buffer
	cfg := quietConfig(path)
	cfg.Env, cfg.Workers, cfg.Stdout = nil, 1, &out
	h, err := imscript.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	<-h.Started()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "from the process\n" {
		t.Errorf("imscript.env.IMSCRIPT_TEST_VAR = %q", got)
	}
}

// TestGoModulesPerInstance: a module is built once per VM, sees its
// instance, and its functions reach both languages.
func TestGoModulesPerInstance(t *testing.T) {
	t.Parallel()
	for _, lang := range []struct{ name, src string }{
		{"mod.lua", `
local c = require("counter")
assert(c == imscript.counter)
c.add(imscript.worker_id + 1)
c.add(10)
print("worker " .. imscript.worker_id .. " total " .. c.total())
c.later(1, function(a, b) print("later " .. a .. " " .. b .. " on " .. imscript.worker_id) end)
`},
		{"mod.js", `
const c = require("counter");
if (c !== imscript.counter) throw new Error("two counters");
c.add(imscript.worker_id + 1);
c.add(10);
console.log("worker " + imscript.worker_id + " total " + c.total());
c.later(1, (a, b) => console.log("later " + a + " " + b + " on " + imscript.worker_id));
`},
	} {
		t.Run(lang.name, func(t *testing.T) {
			t.Parallel()
			r := newHost(t, lang.name, lang.src, host.Config{})
			var mu sync.Mutex
			built := map[int]script.Instance{}
			r.h.RegisterModule("counter", func(inst script.Instance) script.Value {
				mu.Lock()
				built[inst.WorkerID()] = inst
				mu.Unlock()
				total := int64(0) // per instance: this module value is built once per VM
				return script.Map{
					"add": script.Function(func(c script.Call) {
						if c.Instance() != inst {
							script.Usagef("called from another instance")
						}
						total += c.Int(0, "n")
					}),
					"total": script.Function(func(c script.Call) { c.ReturnInt(total) }),
					// later(ms, fn): fn(a, b) on the calling worker, after ms.
					"later": script.Function(func(c script.Call) {
						ms, fn := c.Float(0, "ms"), c.Func(1, "fn")
						c.ReturnInt(c.Instance().AddTimer(script.Millis(ms), false, fn, script.List{"a", int64(2)}))
					}),
				}
			})
			r.run()
			r.waitStdout("later a 2 on 0")
			r.waitStdout("later a 2 on 1")
			out := r.stdout.String()
			testutil.WantAll(t, "stdout", out, "worker 0 total 11\n", "worker 1 total 12\n")
			mu.Lock()
			defer mu.Unlock()
			if len(built) != 2 || built[0] == nil || built[1] == nil || built[0] == built[1] {
				t.Errorf("the module was built for %v, want once per worker of this host", built)
			}
		})
	}
}
