package lua

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imscript/imscript/host"
	"github.com/imscript/imscript/stdlib"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// writeFiles writes files into a fresh folder and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// run loads main.lua (plus files) on workers Lua VMs with the standard
// modules and the test module, waits for stdout to hold until (or only
// for the load when until is ""), stops, and returns stdout and the log.
func run(t *testing.T, workers int, src, until string, files map[string]string) (stdout, logs string) {
	t.Helper()
	if files == nil {
		files = map[string]string{}
	}
	files["main.lua"] = src
	dir := writeFiles(t, files)
	var out, lg syncBuffer
	h, err := host.New(host.Config{
		Script:    filepath.Join(dir, "main.lua"),
		Languages: []host.Language{New()},
		Workers:   workers,
		Env:       map[string]string{},
		Logger:    slog.New(slog.NewTextHandler(&lg, nil)),
		Stdout:    &out,
		Stderr:    io.Discard,
	})
	if err != nil {
		t.Fatal(err)
	}
	stdlib.Register(h)
	h.RegisterModule("t", testModule)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- h.Run(ctx) }()
	select {
	case <-h.Started():
	case err := <-errc:
		t.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the host did not start")
	}
	deadline := time.Now().Add(10 * time.Second)
	for until != "" && !strings.Contains(out.String(), until) {
		if time.Now().After(deadline) {
			t.Fatalf("stdout never held %q:\n%s\nlog:\n%s", until, out.String(), lg.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	return out.String(), lg.String()
}

// testModule is imscript.t / require("t").
func testModule(inst *host.Instance) host.Value {
	return host.Map{
		"describe": host.Function(func(c host.Call) { c.ReturnStr(describe(c.Arg(0))) }),
		"give": host.Function(func(c host.Call) {
			switch c.Str(0, "what") {
			case "ints":
				c.Return([]int64{3, 1, 2})
			case "int":
				c.Return(7)
			case "gofunc":
				c.Return(host.Function(func(c host.Call) { c.ReturnStr("from go " + c.Str(0, "x")) }))
			case "struct":
				c.Return(struct{}{})
			case "deep":
				var v host.Value = "bottom"
				for i := 0; i < 150; i++ {
					v = host.List{v}
				}
				c.Return(v)
			}
		}),
		"none":  host.Function(func(c host.Call) {}),
		"three": host.Function(func(c host.Call) { c.Return(int64(1), nil, "three") }),
		"nargs": host.Function(func(c host.Call) { c.ReturnInt(int64(c.NArgs())) }),
		"fail":  host.Function(func(c host.Call) { c.Fail("nope") }),
		"opt": host.Function(func(c host.Call) {
			c.Return(c.OptInt(0, "n", 5), c.OptFloat(1, "f", 1.5), c.OptBool(2, "b", true), c.OptStr(3, "s", "def"), c.OptTable(4, "t") == nil)
		}),
		"table":    host.Function(func(c host.Call) { c.ReturnStr(describe(c.Table(0, "opts"))) }),
		"iterable": host.Function(newIterable), // iter_test.go
		"record":   host.Function(record),      // iter_test.go
		"bytes":    host.Function(func(c host.Call) { c.ReturnStr(strconv.Quote(string(c.Bytes(0, "data")))) }),
		"worker":   host.Function(func(c host.Call) { c.ReturnInt(int64(c.Instance().WorkerID())) }),
		// protos counts the required modules compiled for this version.
		"protos": host.Function(func(c host.Call) {
			p := c.Instance().Program().(*program)
			p.mu.Lock()
			defer p.mu.Unlock()
			c.ReturnInt(int64(len(p.modules)))
		}),
	}
}

func describe(v host.Value) string {
	switch x := v.(type) {
	case nil:
		return "nil"
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int64:
		return strconv.FormatInt(x, 10)
	case string:
		return strconv.Quote(x)
	case []byte:
		return "bytes" + strconv.Quote(string(x))
	case host.List:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = describe(e)
		}
		return "[" + strings.Join(parts, ",") + "]"
	case host.Map:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + "=" + describe(x[k])
		}
		return "{" + strings.Join(parts, ",") + "}"
	case *host.Object:
		return "object:" + x.Type.Name
	case host.Callback:
		return "function"
	}
	return "?"
}
