package tests

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// esmServer is an ES module server that does its set-up at its top level
// with await, as a Node program does: an import of a module that awaits,
// a sleep, a fetch, SQL statements;
// then it declares its server (the port from PORT) and answers each line
// with what it learned. The words NEXT and VERSION are what the reload
// test edits.
const esmServer = `import { prefix } from "./lib/prefix.mjs";
const t0 = Date.now();
await imscript.sleep(0.05);
const waited = Date.now() - t0 >= 40;
const upstream = (await (await fetch(imscript.env.UPSTREAM)).text()).trim();
const db = imscript.sql.open("sqlite:app.db");
await db.exec("CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT)");
await db.exec("INSERT OR REPLACE INTO kv VALUES ('greeting', 'hello')");
const row = await db.queryRow("SELECT v FROM kv WHERE k = ?", "greeting");
// NEXT
const srv = imscript.server({ host: "127.0.0.1", port: Number(imscript.env.PORT) });
srv.on("receive", (srv, fd, data) => {
  srv.send(fd, prefix + " " + row.v + " " + upstream + " waited=" + waited + " VERSION worker=" + imscript.worker_id + "\n");
});
`

// TestESMTopLevelAwait: a .mjs server with await at its top level serves
// once its set-up is done, on both workers; a throw after an await fails
// the start with its file:line; a reload waits for the new version's
// awaits, and one whose top level rejects keeps the running version.
func TestESMTopLevelAwait(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "upstream-ok\n")
	}))
	t.Cleanup(up.Close)
	dir := t.TempDir()
	script := filepath.Join(dir, "server.mjs")
	// The module it imports awaits too: the server waits for it.
	writeFile(t, filepath.Join(dir, "lib", "prefix.mjs"), "await imscript.sleep(0.02);\nexport const prefix = await Promise.resolve(\"v1:\");\n")
	writeFile(t, script, esmServer)
	s := start(t, script, runOpts{watch: true, env: map[string]string{"UPSTREAM": up.URL}})

	// Each connection is served by one worker; both answer, each after
	// its own awaits.
	answer := func(version string) map[string]bool {
		t.Helper()
		workers := map[string]bool{}
		for i := 0; i < 20 && len(workers) < 2; i++ {
			c := dial(t, s.addr())
			write(t, c, []byte("hi\n"))
			line, err := readLine(c, ioTimeout)
			c.Close()
			want := "v1: hello upstream-ok waited=true " + version + " worker="
			if err != nil || !strings.HasPrefix(line, want) {
				t.Fatalf("reply %q (%v), want %q N", line, err, want)
			}
			workers[strings.TrimSpace(strings.TrimPrefix(line, want))] = true
		}
		if len(workers) != 2 {
			t.Errorf("answered by workers %v, want both", workers)
		}
		return workers
	}
	answer("VERSION")

	// A reload: the new version's awaits run before it takes over.
	writeFile(t, script, strings.Replace(esmServer, " VERSION ", " v2 ", 1))
	s.waitStderr("reloaded")
	answer("v2")

	// A version that throws after an await: the reload fails with its
	// file:line, the running one goes on.
	bad := strings.Replace(esmServer, "// NEXT", `if (row.v === "hello") throw new Error("no config for " + row.v);`, 1)
	writeFile(t, script, bad)
	line := s.waitStderr("reload failed", fmt.Sprintf("server.mjs:%d:", markerLine(t, script, "no config")), "no config for hello")
	if !strings.Contains(line, "Error: no config for hello") {
		t.Errorf("reload failure %q, want the error", line)
	}
	answer("v2")
	s.kill()

	// The same at the start: exit 1 and the error with its file:line.
	r := docsCommand(t, dir, map[string]string{"UPSTREAM": up.URL, "PORT": fmt.Sprint(freePort(t))}, "run", "--no-watch", "--workers", "2", script)
	r.wantExit(t, 1)
	want := fmt.Sprintf("server.mjs:%d:", markerLine(t, script, "no config"))
	if !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "Error: no config for hello") {
		t.Errorf("stderr:\n%s\nwant %q and the error", r.stderr, want)
	}
}

// TestESMTopLevelAwaitStop: SIGTERM while the top level still awaits
// stops the start: exit 1, saying so.
func TestESMTopLevelAwaitStop(t *testing.T) {
	script := filepath.Join(t.TempDir(), "hang.mjs")
	writeFile(t, script, "console.log(\"awaiting\");\nawait new Promise(() => {});\nimscript.server({ port: Number(imscript.env.PORT) });\n")
	cmd := exec.Command(binPath, "run", "--no-watch", "--workers", "2", script)
	cmd.Env = append(os.Environ(), fmt.Sprintf("PORT=%d", freePort(t)))
	var out, errb syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	waitFor(t, waitTimeout, "the script to await", func() bool { return strings.Contains(out.String(), "awaiting") })
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(errb.String(), "hang.mjs: the host stopped while the script's top level still awaited") {
			t.Errorf("exit %v, stderr:\n%s\nwant exit 1 and why", err, errb.String())
		}
	case <-time.After(waitTimeout):
		t.Fatalf("still running %v after SIGTERM; stderr:\n%s", waitTimeout, errb.String())
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestESMProjectTest: `imscript test` finds server.mjs and *.test.mjs; both
// await at their top level; a failing assertion fails the run.
func TestESMProjectTest(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "server.mjs"), `await imscript.sleep(0.02);
const greeting = await Promise.resolve("hi");
const srv = imscript.server({ host: "127.0.0.1", port: Number(imscript.env.PORT || 9501), open_eof_split: true, package_eof: "\n" });
srv.on("receive", (srv, fd, line) => srv.send(fd, greeting + " " + line));
`)
	test := `import { test as t } from "imscript";
const port = Number(imscript.env.PORT);
await imscript.sleep(0.01);
t.it("greets", async () => {
  const inbox = t.inbox();
  const cli = imscript.client({ type: "tcp", host: "127.0.0.1", port, open_eof_split: true, package_eof: "\n" });
  cli.on("receive", (cli, data) => inbox.push(data));
  cli.on("connect", (cli) => cli.send("ann\n"));
  cli.connect();
  t.equal(await inbox.take(), "WANT\n");
  cli.close();
});
`
	writeFile(t, filepath.Join(dir, "test", "server.test.mjs"), strings.Replace(test, "WANT", "hi ann", 1))
	r := docsCommand(t, dir, nil, "test")
	r.wantExit(t, 0)
	if !strings.Contains(r.stdout, "PASS greets") {
		t.Errorf("stdout:\n%s\nwant PASS greets", r.stdout)
	}
	writeFile(t, filepath.Join(dir, "test", "server.test.mjs"), strings.Replace(test, "WANT", "bye ann", 1))
	r = docsCommand(t, dir, nil, "test")
	r.wantExit(t, 1)
	if !strings.Contains(r.stdout, "FAIL greets") {
		t.Errorf("stdout:\n%s\nwant FAIL greets", r.stdout)
	}
}
