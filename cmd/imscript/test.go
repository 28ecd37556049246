package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/imscript/imscript/internal/testrun"
)

const testUsage = `usage: imscript test [flags] [DIR | FILE...]

Test runs the project's tests: every *_test.lua, *.test.lua, *_test.js,
*.test.js, *_test.mjs and *.test.mjs file in DIR (default: the current
folder) and in DIR/test. Before the tests it starts the project's server
script (server.lua, server.js or server.mjs in DIR, or --server FILE) on a
free port, given to the tests as
imscript.env.PORT. Each file runs on a host of its own; its tests, declared
with imscript.test.it(name, fn), run in order. Exit status: 0 when every test
passed, 1 when one failed or a file could not run, 2 for a usage error.

flags:
`

func testFlags(out io.Writer, server *string, timeout *time.Duration, workers *int) *flag.FlagSet {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(server, "server", "", "the server script to start before the tests (default: server.lua, server.js or server.mjs in DIR; \"none\": start none)")
	fs.DurationVar(timeout, "timeout", 10*time.Second, "fail a test that runs longer")
	fs.IntVar(workers, "workers", 2, "the server's worker VMs (0: its worker_num, else the number of CPUs)")
	return fs
}

func printTestUsage(w io.Writer) {
	var s string
	var d time.Duration
	var n int
	fmt.Fprint(w, testUsage)
	testFlags(w, &s, &d, &n).PrintDefaults()
}

// testCmd is `imscript test [flags] [DIR | FILE...]`.
func testCmd(args []string, stdout, stderr io.Writer) int {
	var server string
	var timeout time.Duration
	var workers int
	fs := testFlags(stderr, &server, &timeout, &workers)
	fs.Usage = func() {}
	pos, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		printTestUsage(stdout)
		return 0
	}
	if err != nil {
		fmt.Fprint(stderr, "usage: imscript test [flags] [DIR | FILE...]\nRun 'imscript help test' for details.\n")
		return 2
	}
	if timeout <= 0 || workers < 0 {
		fmt.Fprintln(stderr, "imscript test: --timeout must be above 0 and --workers 0 or more")
		return 2
	}
	dir, files, err := testFiles(pos)
	if err != nil {
		fmt.Fprintln(stderr, "imscript test:", err)
		return 2
	}
	if len(files) == 0 {
		fmt.Fprintf(stderr, "imscript test: no test files in %s (want *_test.lua, *.test.lua, *_test.js, *.test.js, *_test.mjs or *.test.mjs, there or in its test/ folder)\n", dir)
		return 1
	}
	switch server {
	case "none":
		server = ""
	case "":
		server, err = findServer(dir)
		if err != nil {
			fmt.Fprintln(stderr, "imscript test:", err)
			return 2
		}
	default:
		if _, err := os.Stat(server); err != nil {
			fmt.Fprintln(stderr, "imscript test: --server:", err)
			return 2
		}
	}
	logger := slog.New(newStackText(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	res, err := testrun.Run(testrun.Options{
		Files: files, Server: server, Workers: workers, Timeout: timeout,
		Stdout: stdout, Stderr: stderr, Logger: logger,
	})
	if err != nil {
		fmt.Fprintln(stderr, "imscript test:", err)
		return 1
	}
	if !res.OK() {
		return 1
	}
	return 0
}

// isTestFile says whether name is a test script's name.
func isTestFile(name string) bool {
	for _, suffix := range []string{"_test.lua", "_test.js", "_test.mjs", ".test.lua", ".test.js", ".test.mjs"} {
		if strings.HasSuffix(name, suffix) && len(name) > len(suffix) {
			return true
		}
	}
	return false
}

// testFiles are the test scripts the arguments name: files as given, a
// folder's test files (and its test/ folder's). dir is the project's
// folder: the one given, or the first file's.
func testFiles(args []string) (dir string, files []string, err error) {
	if len(args) == 0 {
		args = []string{"."}
	}
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return "", nil, err
		}
		if !st.IsDir() {
			if dir == "" {
				dir = filepath.Dir(a)
			}
			abs, err := filepath.Abs(a)
			if err != nil {
				return "", nil, err
			}
			files = append(files, abs)
			continue
		}
		if dir == "" {
			dir = a
		}
		for _, d := range []string{a, filepath.Join(a, "test")} {
			entries, err := os.ReadDir(d)
			if err != nil {
				continue
			}
			var found []string
			for _, e := range entries {
				if !e.IsDir() && isTestFile(e.Name()) {
					abs, err := filepath.Abs(filepath.Join(d, e.Name()))
					if err != nil {
						return "", nil, err
					}
					found = append(found, abs)
				}
			}
			sort.Strings(found)
			files = append(files, found...)
		}
	}
	return dir, files, nil
}

// findServer is the project's server script in dir: server.lua,
// server.js or server.mjs ("" when none is there).
func findServer(dir string) (string, error) {
	var found []string
	for _, name := range []string{"server.lua", "server.js", "server.mjs"} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			found = append(found, p)
		}
	}
	switch len(found) {
	case 0:
		return "", nil
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("%s has %s: say which is the server with --server FILE", dir, strings.Join(names(found), " and "))
}

// names are the base names of paths.
func names(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = filepath.Base(p)
	}
	return out
}
