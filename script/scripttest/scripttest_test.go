package scripttest_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/imscript/imscript/script"
	"github.com/imscript/imscript/script/scripttest"
)

// greet is a module function under test: greet(name [, cb]) answers at
// once, or asynchronously with a callback / Promise when async is set.
func greet(c script.Call) {
	name := c.Str(0, "name")
	if name == "" {
		c.Fail("no name")
		return
	}
	c.ReturnStr("hello " + name)
}

func TestStartRunsBothLanguages(t *testing.T) {
	mod := script.Module{Name: "greeter", Build: func(script.Instance) script.Value {
		return script.Map{"greet": script.Function(greet)}
	}}
	srcs := map[string]string{
		"lua": `print(imscript.greeter.greet("lua"))` + "\n" + `print(require("greeter").greet("again"))`,
		"js":  `console.log(imscript.greeter.greet("js")); console.log(require("greeter").greet("again"))`,
	}
	for _, lang := range scripttest.Langs {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			out, _ := scripttest.Run(t, scripttest.Options{Lang: lang, Src: srcs[lang], Modules: []script.Module{mod}}, "again")
			if want := "hello " + lang + "\nhello again\n"; out != want {
				t.Fatalf("stdout %q, want %q", out, want)
			}
		})
	}
}

func TestTryRunReturnsTheLoadError(t *testing.T) {
	h := scripttest.New(t, scripttest.Options{Lang: "lua", Src: "local x = \n"})
	if err := h.TryRun(); err == nil || !strings.Contains(err.Error(), "main.lua") {
		t.Fatalf("TryRun = %v, want a syntax error naming main.lua", err)
	}
}

func TestInvokeWithTheFakeInstance(t *testing.T) {
	inst := scripttest.NewInstance(t)
	if r := inst.Invoke(greet, nil, "ann"); r.Value() != "hello ann" || r.Failed != "" {
		t.Fatalf("greet(ann) = %+v", r)
	}
	if r := inst.Invoke(greet, nil, ""); r.Failed != "no name" {
		t.Fatalf("greet('') failed with %q, want no name", r.Failed)
	}
	if r := inst.Invoke(greet, nil, script.Map{}); !strings.Contains(r.Usage, "bad argument #1 (name): string expected, got table") {
		t.Fatalf("greet({}) usage %q", r.Usage)
	}
}

func TestFakeInstanceAsyncOwnAndClose(t *testing.T) {
	inst := scripttest.NewInstance(t)
	later := func(c script.Call) {
		settle := c.Async(0)
		go settle(nil, errors.New("late"))
	}
	var got []script.Value
	cb := inst.Func(func(args ...script.Value) script.Value { got = args; return nil })
	r := inst.Invoke(later, nil, cb)
	if _, err := r.Await(time.Second); err == nil || err.Error() != "late" {
		t.Fatalf("Await = %v", err)
	}
	if !inst.Next(time.Second) || len(got) != 3 || got[1] != "late" || got[2] != nil {
		t.Fatalf("the callback got %v", got)
	}
	closed := 0
	release := inst.Own(script.CloserFunc(func() { closed++ }))
	inst.Own(script.CloserFunc(func() { closed += 10 }))
	release()
	if inst.Owned() != 1 {
		t.Fatalf("owned %d after a release, want 1", inst.Owned())
	}
	inst.Close()
	if closed != 10 || inst.Context().Err() == nil {
		t.Fatalf("close ran %d (want only the unreleased one) and the context is %v", closed, inst.Context().Err())
	}
}
