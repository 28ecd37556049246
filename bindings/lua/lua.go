// Package lua exposes the imscript host API to Lua 5.1 scripts through
// gopher-lua. It marshals neutral host values once, generically: no host
// method is written here.
package lua

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	lua "github.com/imscript/imscript/bindings/lua/internal/gopherlua"
	"github.com/yuin/gopher-lua/parse"

	"github.com/imscript/imscript/script"
)

// Language is the Lua script.Language.
type Language struct{}

// New returns the Lua language.
func New() *Language { return &Language{} }

// Name implements script.Language.
func (*Language) Name() string { return "lua" }

// Extensions implements script.Language.
func (*Language) Extensions() []string { return []string{".lua"} }

// program is a compiled main chunk plus the modules it required, compiled
// once and shared by the VMs of one version.
type program struct {
	path  string
	name  string
	proto *lua.FunctionProto

	mu      sync.Mutex
	modules map[string]*lua.FunctionProto
}

func (p *program) Path() string { return p.path }

// Compile implements script.Language.
func (*Language) Compile(path string) (script.Program, error) {
	proto, name, err := compileFile(path)
	if err != nil {
		return nil, err
	}
	return &program{path: path, name: name, proto: proto, modules: map[string]*lua.FunctionProto{}}, nil
}

// displayName is the path scripts' errors show: relative to the working
// folder when that is shorter.
func displayName(path string) string {
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, path); err == nil && !strings.HasPrefix(rel, "..") {
			return rel
		}
	}
	return path
}

func compileFile(path string) (*lua.FunctionProto, string, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("read script: %w", err)
	}
	name := displayName(path)
	proto, err := compileSource(string(src), name)
	return proto, name, err
}

func compileSource(src, name string) (*lua.FunctionProto, error) {
	chunk, err := parse.Parse(strings.NewReader(src), name)
	if err != nil {
		var pe *parse.Error
		if errors.As(err, &pe) {
			if d, ok := diagnose(src, name, pe.Pos.Line, pe.Token); ok {
				return nil, fmt.Errorf("%s:%d: syntax error: %s", name, d.line, d.msg)
			}
			if pe.Pos.Line == parse.EOF {
				return nil, fmt.Errorf("%s: syntax error at end of file: %s", name, pe.Message)
			}
			return nil, fmt.Errorf("%s:%d: syntax error near '%s': %s", name, pe.Pos.Line, pe.Token, pe.Message)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	proto, err := lua.Compile(chunk, name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return proto, nil
}

// vm is one Lua state owned by one worker.
type vm struct {
	L    *lua.LState
	inst script.Instance
	prog *program

	objects map[*script.Object]*lua.LUserData
	metas   map[*script.Type]*lua.LTable
	// methodTables are the types' method tables (meta), which ownMeta
	// copies.
	methodTables map[*script.Type]*lua.LTable
	// records are the record types' newest objects (marshal.go).
	records map[*script.Type]*record

	calls []*call
	cells []script.Cell // RowCall.Cells
	depth int

	// ints and strs are the last numbers and short strings boxed
	// (marshal.go).
	ints [boxSlots]intBox
	strs [boxSlots]strBox

	// States that run handlers (suspend.go): the main state, and threads
	// made when a suspended handler holds the main state. cur runs now
	// (nil between handlers); idle are free; mainFree says the main state
	// is not held by a suspended handler.
	cur      *lua.LState
	idle     []*lua.LState
	mainFree bool
	tmpl     *lua.LState // makes the threads: small stacks that grow
	ctx      context.Context

	// frames says which handler runs on a state, for the name of its
	// bottom stack frame ("receive handler (echo.lua:12)"): Call sets it,
	// pcall's traceback names it, only when there is an error to report.
	frames    map[*lua.LState]frame
	mainFrame frame

	ctxMu  sync.Mutex
	cancel context.CancelFunc
	reason string
}

// NewVM implements script.Language.
func (*Language) NewVM(inst script.Instance) (script.VM, error) {
	// The registry (the value stack) starts at gopher-lua's default and may
	// grow to 1M slots, so table.concat / unpack of big tables work.
	L := lua.NewState(lua.Options{RegistrySize: lua.RegistrySize, RegistryMaxSize: 1 << 20, RegistryGrowStep: 1024})
	v := &vm{
		L:            L,
		inst:         inst,
		objects:      map[*script.Object]*lua.LUserData{},
		metas:        map[*script.Type]*lua.LTable{},
		methodTables: map[*script.Type]*lua.LTable{},
		records:      map[*script.Type]*record{},
		frames:       map[*lua.LState]frame{},
		mainFree:     true,
	}
	v.ClearInterrupt()
	exports := v.toLua(inst.Exports(), 0)
	L.SetGlobal("imscript", exports)
	L.SetGlobal("print", L.NewFunction(v.print))
	installStrPack(L) // string.pack/unpack/packsize, table.unpack (strpack.go)
	preload := L.GetField(L.GetField(L.Get(lua.EnvironIndex), "package"), "preload")
	if pt, ok := preload.(*lua.LTable); ok {
		pt.RawSetString("imscript", L.NewFunction(func(L *lua.LState) int {
			L.Push(exports)
			return 1
		}))
		if et, ok := exports.(*lua.LTable); ok {
			et.ForEach(func(k, val lua.LValue) {
				if name := k.String(); name != "imscript" {
					if _, isMod := inst.Module(name); isMod {
						mod := val
						pt.RawSetString(name, L.NewFunction(func(L *lua.LState) int {
							L.Push(mod)
							return 1
						}))
					}
				}
			})
		}
	}
	v.installSearcher()
	return v, nil
}

// installSearcher puts a searcher for modules beside the script first in
// package.loaders (after preload): it compiles each file once per version
// and records it for the reload watcher.
func (v *vm) installSearcher() {
	L := v.L
	pkg, ok := L.GetField(L.Get(lua.EnvironIndex), "package").(*lua.LTable)
	if !ok {
		return
	}
	dir := v.inst.ScriptDir()
	pkg.RawSetString("path", lua.LString(filepath.Join(dir, "?.lua")+";"+filepath.Join(dir, "?", "init.lua")))
	loaders, ok := pkg.RawGetString("loaders").(*lua.LTable)
	if !ok {
		return
	}
	searcher := L.NewFunction(func(L *lua.LState) int {
		name := L.CheckString(1)
		rel := strings.ReplaceAll(name, ".", string(filepath.Separator))
		for _, cand := range []string{filepath.Join(dir, rel+".lua"), filepath.Join(dir, rel, "init.lua")} {
			if _, err := os.Stat(cand); err != nil {
				continue
			}
			proto, err := v.moduleProto(cand)
			if err != nil {
				L.RaiseError("require %q: %v", name, err)
			}
			v.inst.AddDependency(cand)
			L.Push(L.NewFunctionFromProto(proto))
			return 1
		}
		L.Push(lua.LString(fmt.Sprintf("\n\tno file '%s.lua' beside the script", rel)))
		return 1
	})
	// Shift the file loaders right and put ours after preload.
	n := loaders.Len()
	for i := n; i >= 2; i-- {
		loaders.RawSetInt(i+1, loaders.RawGetInt(i))
	}
	loaders.RawSetInt(2, searcher)
}

func (v *vm) moduleProto(path string) (*lua.FunctionProto, error) {
	p, ok := v.inst.Program().(*program)
	if !ok {
		proto, _, err := compileFile(path)
		return proto, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if proto, ok := p.modules[path]; ok {
		return proto, nil
	}
	proto, _, err := compileFile(path)
	if err != nil {
		return nil, err
	}
	p.modules[path] = proto
	return proto, nil
}

func (v *vm) print(L *lua.LState) int {
	var b strings.Builder
	top := L.GetTop()
	for i := 1; i <= top; i++ {
		if i > 1 {
			b.WriteByte('\t')
		}
		b.WriteString(L.ToStringMeta(L.Get(i)).String())
	}
	b.WriteByte('\n')
	_, _ = v.inst.Stdout().Write([]byte(b.String()))
	return 0
}

// Run implements script.VM.
func (v *vm) Run(p script.Program) error {
	lp, ok := p.(*program)
	if !ok {
		return fmt.Errorf("lua: not a Lua program: %s", p.Path())
	}
	v.prog = lp
	fn := v.L.NewFunctionFromProto(lp.proto)
	v.L.Push(fn)
	v.cur = v.L
	defer func() { v.cur = nil }()
	return v.pcall(v.L, 0, 0)
}

// Call implements script.VM: fn runs on a state of its own (the main
// state, or a thread when a suspended handler holds it) or, called back
// from inside a handler, on that handler's state.
func (v *vm) Call(cb script.Callback, args ...script.Value) (script.Value, error) {
	lc, ok := cb.(*callback)
	if !ok || lc.vm != v {
		return nil, errors.New("lua: callback belongs to another VM")
	}
	outer := v.cur
	L := outer
	if L == nil {
		L = v.takeState()
		v.cur = L
		v.setFrame(L, v.frameOf(lc.fn))
	}
	L.Push(lc.fn)
	for _, a := range args {
		L.Push(v.toLua(a, 0))
	}
	err := v.pcall(L, len(args), 1)
	var ret lua.LValue = lua.LNil
	if err == nil {
		ret = L.Get(-1)
		L.Pop(1)
	}
	if outer == nil {
		v.cur = nil
		v.setFrame(L, frame{})
		v.giveState(L)
	}
	if err != nil {
		return nil, err
	}
	if ret == lua.LNil {
		return nil, nil
	}
	return v.fromLua(ret, 0)
}

func (v *vm) pcall(L *lua.LState, nargs, nret int) error {
	err := L.PCall(nargs, nret, nil)
	if err == nil {
		return nil
	}
	var ae *lua.ApiError
	msg := err.Error()
	if errors.As(err, &ae) {
		msg = ae.Object.String()
		if st := traceback(ae.StackTrace, v.frameOn(L).String()); st != "" {
			msg += "\n" + st
		}
	}
	v.ctxMu.Lock()
	reason := v.reason
	v.ctxMu.Unlock()
	if reason != "" {
		msg = reason + ": " + msg
	}
	return errors.New(msg)
}

// Interrupt implements script.VM: it cancels the state's context, which the
// interpreter checks between instructions.
func (v *vm) Interrupt(reason string) {
	v.ctxMu.Lock()
	v.reason = reason
	cancel := v.cancel
	v.ctxMu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// ClearInterrupt implements script.VM.
func (v *vm) ClearInterrupt() {
	ctx, cancel := context.WithCancel(context.Background())
	v.ctxMu.Lock()
	v.cancel = cancel
	v.reason = ""
	v.ctxMu.Unlock()
	v.ctx = ctx
	v.L.SetContext(ctx)
	if v.cur != nil {
		v.cur.SetContext(ctx)
	}
}

// Close implements script.VM.
func (v *vm) Close() {
	v.ctxMu.Lock()
	if v.cancel != nil {
		v.cancel()
	}
	v.ctxMu.Unlock()
	v.L.Close()
}

// frame is the handler a state runs: the function, and what the host
// calls it for (instance.HandlerName). Its name is made only for a
// traceback, so a call costs no string.
type frame struct {
	fn      *lua.LFunction
	handler string
}

// setFrame notes the handler L runs (the zero frame: none). The main
// state's is a field: most handlers run there, and a map write and delete
// per call cost more than the rest of Call's bookkeeping.
func (v *vm) setFrame(L *lua.LState, f frame) {
	switch {
	case L == v.L:
		v.mainFrame = f
	case f.fn == nil:
		delete(v.frames, L)
	default:
		v.frames[L] = f
	}
}

// frameOn is the handler L runs.
func (v *vm) frameOn(L *lua.LState) frame {
	if L == v.L {
		return v.mainFrame
	}
	return v.frames[L]
}

// frameOf is the frame of a handler call of fn, as the host calls it now.
func (v *vm) frameOf(fn *lua.LFunction) frame {
	f := frame{fn: fn}
	if hn, _ := v.inst.(interface{ HandlerName() string }); hn != nil {
		f.handler = hn.HandlerName()
	}
	return f
}

// String is how a stack trace names the handler: after what the host
// calls it for, and where it is defined ("" for no handler).
func (f frame) String() string {
	if f.fn == nil {
		return ""
	}
	where := "?"
	if f.fn.Proto != nil {
		where = fmt.Sprintf("%s:%d", f.fn.Proto.SourceName, f.fn.Proto.LineDefined)
	}
	if f.handler == "" {
		return "function <" + where + ">"
	}
	name := f.handler
	if !strings.Contains(name, "callback") && !strings.Contains(name, "handler") {
		name += " handler"
	}
	return name + " (" + where + ")"
}

// traceback tidies gopher-lua's stack traceback: the bottom frame, which it
// calls the main chunk (or "corountine" on a thread) when Go called the
// function, is named bottom (a handler; kept when bottom is "", the real
// main chunk), a required module's chunk ("function <mod.lua:0>") is a
// main chunk too, and the Go caller's "[G]: ?" line is left out.
func traceback(st, bottom string) string {
	lines := strings.Split(strings.TrimSpace(st), "\n")
	if n := len(lines); n > 0 && strings.TrimSpace(lines[n-1]) == "[G]: ?" {
		lines = lines[:n-1]
	}
	if len(lines) <= 1 {
		return ""
	}
	for i, l := range lines {
		if !strings.HasSuffix(l, " in main chunk") && !strings.HasSuffix(l, " in corountine") && !strings.HasSuffix(l, ":0>") {
			continue
		}
		switch {
		case strings.HasSuffix(l, ":0>"):
			// A required module's chunk.
			lines[i] = l[:strings.LastIndex(l, " in ")] + " in main chunk"
		case i == len(lines)-1 && bottom != "":
			lines[i] = l[:strings.LastIndex(l, " in ")] + " in " + bottom
		case strings.HasSuffix(l, " in corountine"):
			lines[i] = strings.TrimSuffix(l, "corountine") + "coroutine"
		}
	}
	return strings.Join(lines, "\n")
}
