package js

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

// run loads main.js (plus files) on workers JS VMs with the standard
// modules and the test module, waits for stdout to hold until (or only
// for the load when until is ""), stops, and returns stdout and the log.
func run(t *testing.T, workers int, src, until string, files map[string]string) (stdout, logs string) {
	t.Helper()
	if files == nil {
		files = map[string]string{}
	}
	files["main.js"] = src
	dir := writeFiles(t, files)
	var out, lg syncBuffer
	h, err := host.New(host.Config{
		Script:    filepath.Join(dir, "main.js"),
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
			case "bytes":
				c.Return([]byte("abc"))
			case "int":
				c.Return(7)
			case "big":
				c.Return(float64(1 << 53))
			case "half":
				c.Return(2.5)
			case "gofunc":
				c.Return(host.Function(func(c host.Call) { c.ReturnStr("from go " + c.Str(0, "x")) }))
			case "struct":
				c.Return(struct{}{})
			}
		}),
		"none":  host.Function(func(c host.Call) {}),
		"fail":  host.Function(func(c host.Call) { c.Fail("nope") }),
		"nargs": host.Function(func(c host.Call) { c.ReturnInt(int64(c.NArgs())) }),
		"opt": host.Function(func(c host.Call) {
			c.ReturnStr(describe(host.List{c.OptInt(0, "n", 5), c.OptFloat(1, "f", 1.5), c.OptBool(2, "b", true),
				c.OptStr(3, "s", "def"), c.OptTable(4, "t") == nil}))
		}),
		"int":      host.Function(func(c host.Call) { c.ReturnInt(c.Int(0, "n")) }),
		"str":      host.Function(func(c host.Call) { c.ReturnStr(c.Str(0, "s")) }),
		"table":    host.Function(func(c host.Call) { c.ReturnStr(describe(c.Table(0, "opts"))) }),
		"iterable": host.Function(newIterable), // iter_test.go
		"record":   host.Function(record),      // iter_test.go
		"bytes":    host.Function(func(c host.Call) { c.ReturnStr(strconv.Quote(string(c.Bytes(0, "data")))) }),
		// keep holds on to a value; kept returns what Go holds now.
		"keep": host.Function(func(c host.Call) { c.Instance().SetValue("kept", c.Arg(0)) }),
		"kept": host.Function(func(c host.Call) { c.ReturnStr(describe(c.Instance().Value("kept"))) }),
		// apply calls a script function through the VM and describes the result.
		"apply": host.Function(func(c host.Call) {
			v, err := c.Instance().VM().Call(c.Func(0, "fn"), c.Arg(1))
			if err != nil {
				c.ReturnStr("error: " + err.Error())
				return
			}
			c.ReturnStr(describe(v))
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
