package testrun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/imscript/imscript"
	"github.com/imscript/imscript/script"
)

// Options say what Run runs.
type Options struct {
	// Files are the test scripts, run one after the other.
	Files []string
	// Server is the script started before the tests and stopped after
	// them, on a free port; "" starts none.
	Server string
	// Workers are the server's workers (0: its worker_num, else the CPUs).
	Workers int
	// Timeout bounds each test.
	Timeout time.Duration
	// Stdout receives the report and the scripts' print / console.log.
	Stdout io.Writer
	// Stderr receives the scripts' errors and the hosts' warnings.
	Stderr io.Writer
	// Logger receives the hosts' logs (warnings and errors, typically).
	Logger *slog.Logger
}

// Result counts what Run did.
type Result struct {
	Passed, Failed int
	// Broken lists the files that could not run (a load error, no tests).
	Broken []string
}

// OK says whether every test passed and every file ran.
func (r Result) OK() bool { return r.Failed == 0 && len(r.Broken) == 0 }

const startTimeout = 30 * time.Second

// Run starts the server (if any), runs every test file against it and
// writes the report to o.Stdout.
func Run(o Options) (Result, error) {
	var res Result
	begin := time.Now()
	o.Stdout = &lockedWriter{w: o.Stdout}
	env := environ()
	if o.Server != "" {
		port, stop, err := startServer(o, env)
		if err != nil {
			return res, err
		}
		defer stop()
		env["PORT"] = strconv.Itoa(port)
		fmt.Fprintf(o.Stdout, "server %s on port %d\n", filepath.Base(o.Server), port)
	}
	for _, f := range o.Files {
		runFile(o, env, f, &res)
	}
	n := res.Passed + res.Failed
	verdict := "ok"
	if !res.OK() {
		verdict = "FAIL"
	}
	summary := fmt.Sprintf("%s: %d passed, %d failed", verdict, res.Passed, res.Failed)
	if len(res.Broken) > 0 {
		summary += fmt.Sprintf(", %d file(s) did not run", len(res.Broken))
	}
	fmt.Fprintf(o.Stdout, "\n%s (%d %s in %d %s, %s)\n", summary, n, plural(n, "test", "tests"),
		len(o.Files), plural(len(o.Files), "file", "files"), time.Since(begin).Round(time.Millisecond))
	return res, nil
}

// lockedWriter keeps the report's lines whole among the scripts' output.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func environ() map[string]string {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return env
}

// startServer runs the server script with PORT=0 (a free port) and
// returns the port its first server listens on.
func startServer(o Options, env map[string]string) (int, func(), error) {
	senv := make(map[string]string, len(env)+1)
	for k, v := range env {
		senv[k] = v
	}
	senv["PORT"] = "0"
	h, err := imscript.New(imscript.Config{
		Script: o.Server, Workers: o.Workers, Env: senv,
		Logger: o.Logger, Stdout: o.Stdout, Stderr: o.Stderr,
	})
	if err != nil {
		return 0, nil, fmt.Errorf("server %s: %w", o.Server, err)
	}
	errc := make(chan error, 1)
	go func() { errc <- h.Run(context.Background()) }()
	select {
	case <-h.Started():
	case err := <-errc:
		if err == nil {
			err = errors.New("it stopped before it was listening")
		}
		return 0, nil, fmt.Errorf("server %s: %w", o.Server, err)
	case <-time.After(startTimeout):
		h.Shutdown()
		return 0, nil, fmt.Errorf("server %s: not started within %s", o.Server, startTimeout)
	}
	stop := func() {
		h.Shutdown()
		select {
		case <-errc:
		case <-time.After(15 * time.Second):
		}
	}
	srvs := h.Servers()
	if len(srvs) == 0 {
		stop()
		return 0, nil, fmt.Errorf("server %s declares no server (imscript.server{...})", o.Server)
	}
	return srvs[0].Port(), stop, nil
}

// quietTests drops the host's own report of a failed test (the runner
// reports it) and passes every other record on.
type quietTests struct{ slog.Handler }

func (q quietTests) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "handler error" {
		test := false
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "handler" && a.Value.String() == "test" {
				test = true
				return false
			}
			return true
		})
		if test {
			return nil
		}
	}
	return q.Handler.Handle(ctx, r)
}

func (q quietTests) WithAttrs(as []slog.Attr) slog.Handler {
	return quietTests{q.Handler.WithAttrs(as)}
}
func (q quietTests) WithGroup(n string) slog.Handler { return quietTests{q.Handler.WithGroup(n)} }

// outcome is one test's end.
type outcome struct {
	name string
	err  error
	took time.Duration
}

// runFile runs the tests of one file on a host of its own (one worker).
func runFile(o Options, env map[string]string, file string, res *Result) {
	rel := file
	if wd, err := os.Getwd(); err == nil {
		if r, err := filepath.Rel(wd, file); err == nil && !strings.HasPrefix(r, "..") {
			rel = r
		}
	}
	fmt.Fprintf(o.Stdout, "\n%s\n", rel)
	broken := func(why string) {
		fmt.Fprintf(o.Stdout, "  FAIL %s\n", indent(why, "       "))
		res.Broken = append(res.Broken, rel)
	}
	reg := &registry{}
	logger := o.Logger
	if logger == nil {
		logger = slog.Default()
	}
	h, err := imscript.New(imscript.Config{
		Script: file, Workers: 1, Env: env,
		Logger: slog.New(quietTests{logger.Handler()}), Stdout: o.Stdout, Stderr: o.Stderr,
	})
	if err != nil {
		broken(err.Error())
		return
	}
	h.RegisterModule(Name, reg.module)
	errc := make(chan error, 1)
	go func() { errc <- h.Run(context.Background()) }()
	select {
	case <-h.Started():
	case err := <-errc:
		if err == nil {
			err = errors.New("it stopped while loading")
		}
		broken(err.Error())
		return
	}
	defer func() {
		h.Exit(0)
		<-errc
	}()
	reg.mu.Lock()
	tests, inst := reg.tests, reg.inst
	reg.mu.Unlock()
	if len(tests) == 0 {
		broken("no tests: declare them with imscript.test.it(name, fn)")
		return
	}
	results := make(chan outcome, len(tests))
	inst.Post(func() { reg.runTest(inst, tests, 0, o.Timeout, results) })
	for i := 0; i < len(tests); i++ {
		var oc outcome
		select {
		case oc = <-results:
		case err := <-errc:
			// The script stopped the host (imscript.exit) before the end.
			errc <- err
			for ; i < len(tests); i++ {
				fmt.Fprintf(o.Stdout, "  FAIL %s\n       not run: the script stopped the host first\n", tests[i].name)
				res.Failed++
			}
			return
		}
		if oc.err == nil {
			fmt.Fprintf(o.Stdout, "  PASS %s (%s)\n", oc.name, ms(oc.took))
			res.Passed++
			continue
		}
		fmt.Fprintf(o.Stdout, "  FAIL %s (%s)\n       %s\n", oc.name, ms(oc.took), indent(describe(oc.err), "       "))
		res.Failed++
	}
}

func ms(d time.Duration) string {
	return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
}

// runTest runs tests[i] on the instance's worker, then the next one: when
// its function returns (Lua, after any suspension), when its promise
// settles (JS), or when the timeout passes, whichever comes first.
func (r *registry) runTest(inst script.Instance, tests []testCase, i int, timeout time.Duration, results chan<- outcome) {
	if i == len(tests) {
		return
	}
	r.timedOut = ""
	t := tests[i]
	t0 := time.Now()
	finished := false // read and written on the worker only
	var timer *time.Timer
	finish := func(err error) {
		if finished {
			return
		}
		finished = true
		if timer != nil {
			timer.Stop()
		}
		results <- outcome{name: t.name, err: err, took: time.Since(t0)}
		inst.Post(func() { r.runTest(inst, tests, i+1, timeout, results) })
	}
	if timeout > 0 {
		timer = time.AfterFunc(timeout, func() {
			inst.Post(func() { finish(fmt.Errorf("timed out after %s", timeout)) })
		})
	}
	v, err := inst.CallErr("test", t.fn)
	if p, ok := v.(script.Pending); ok && err == nil {
		p.Then(func(_ script.Value, err error) { finish(err) })
		return
	}
	finish(err)
}

// describe is a failed test's error as the report shows it: the message
// with its file:line, then the script's frames.
func describe(err error) string {
	lines := strings.Split(strings.TrimRight(err.Error(), "\n"), "\n")
	first := lines[0]
	// An assertion is raised as a usage error, which JS throws as a
	// TypeError: say what it is.
	first = strings.Replace(first, "TypeError: "+assertPrefix, assertPrefix, 1)
	first = strings.Replace(first, "unhandled promise rejection: ", "", 1)
	first = strings.TrimPrefix(first, "GoError: ") // a rejection made by the host
	if !locRE.MatchString(first) {
		// A rejected promise's message has no place; its stack's first
		// script frame has.
		for _, l := range lines[1:] {
			if m := frameRE.FindStringSubmatch(strings.TrimSpace(l)); m != nil {
				first = m[1] + ": " + first
				break
			}
		}
	}
	out := []string{first}
	for _, l := range lines[1:] {
		s := strings.TrimSpace(l)
		if s == "" || strings.HasPrefix(s, "[G]:") || s == "stack traceback:" {
			continue
		}
		out = append(out, "  "+s)
	}
	return strings.Join(out, "\n")
}

var (
	locRE   = regexp.MustCompile(`^[^\s:]+:\d+(:\d+)?: `)
	frameRE = regexp.MustCompile(`^at (?:.*\()?([^\s()]+:\d+(?::\d+)?)\)?$`)
)

func indent(s, pad string) string {
	return strings.ReplaceAll(s, "\n", "\n"+pad)
}
