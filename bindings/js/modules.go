package js

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/dop251/goja/parser"
	"github.com/evanw/esbuild/pkg/api"
	"github.com/go-sourcemap/sourcemap"
	"github.com/imscript/imscript/bindings/js/internal/goja"
	nodeerrors "github.com/imscript/imscript/bindings/js/internal/gojanode/errors"
)

// The module loader: CommonJS files run in Node's wrapper function (so a
// top-level return works and each file has its own require, module,
// exports, __filename and __dirname); ES modules (.mjs, a .js under a
// package.json with "type": "module", or a .js that uses import/export)
// are turned into that form by esbuild, with a source map so stacks name
// the file's own lines. Resolution is Node's: relative files with .js,
// .mjs, .cjs or .json added, folders with package.json "main" or index.js,
// and packages in node_modules folders with package.json "exports"
// (subpaths, patterns, conditions) or "main". A program compiles each file
// once for all its VMs; a reload is a new program, so files are read anew.

// wrapHead and wrapTail make a file a function, as Node does. An ES
// module's has no __filename or __dirname (it may declare its own) and
// gets import.meta instead (esbuild renames a require, module or exports
// the module declares).
const (
	wrapHead    = "(function (exports, require, module, __filename, __dirname) {"
	wrapHeadESM = "(function (exports, require, module, __imscript_meta) {"
	wrapHeadTLA = "(async function (exports, require, module, __imscript_meta) {"
	wrapTail    = "\n})"
)

// source is one file compiled for a program (shared by its VMs).
type source struct {
	prog *goja.Program // the wrapper function, for .js/.mjs/.cjs
	json string        // the text, for .json
	esm  bool
	// tla: the module awaits at its top level; its wrapper is an async
	// function, whose promise settles when the module has run.
	tla bool
	err error

	// An ES module's code as compiled (with its source map) and the
	// names its import statements require, for the variant that awaits
	// the imported modules that await at their top level (asyncVariant).
	code    string
	imports []string
	remap   func(line, col int) (int, int)

	mu       sync.Mutex
	variants map[string]*goja.Program // by the names it awaits
}

// loader is a program's compiled files and what it learned of package.json
// files.
type loader struct {
	mu    sync.Mutex
	files map[string]*source
	pkgs  map[string]*pkgJSON // by folder; nil when it has none
	waits map[string][]string // asyncImports, by module
}

// pkgJSON is what the loader reads of a package.json.
type pkgJSON struct {
	Name    string          `json:"name"`
	Main    string          `json:"main"`
	Type    string          `json:"type"`
	Exports json.RawMessage `json:"exports"`
}

func newLoader() *loader {
	return &loader{files: map[string]*source{}, pkgs: map[string]*pkgJSON{}, waits: map[string][]string{}}
}

// pkg returns the package.json of folder dir, or nil.
func (l *loader) pkg(dir string) *pkgJSON {
	l.mu.Lock()
	p, ok := l.pkgs[dir]
	l.mu.Unlock()
	if ok {
		return p
	}
	b, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err == nil {
		p = &pkgJSON{}
		if json.Unmarshal(b, p) != nil {
			p = &pkgJSON{}
		}
	}
	l.mu.Lock()
	l.pkgs[dir] = p
	l.mu.Unlock()
	return p
}

// typeModule says whether the nearest package.json above file says
// "type": "module".
func (l *loader) typeModule(file string) bool {
	for dir := filepath.Dir(file); ; {
		if p := l.pkg(dir); p != nil {
			return p.Type == "module"
		}
		parent := filepath.Dir(dir)
		if parent == dir || filepath.Base(dir) == "node_modules" {
			return false
		}
		dir = parent
	}
}

// source compiles path once (read errors and syntax errors included).
func (l *loader) source(path string) *source {
	l.mu.Lock()
	s, ok := l.files[path]
	l.mu.Unlock()
	if ok {
		return s
	}
	s = l.compileFile(path)
	l.mu.Lock()
	if prev, ok := l.files[path]; ok {
		s = prev
	} else {
		l.files[path] = s
	}
	l.mu.Unlock()
	return s
}

func (l *loader) compileFile(path string) *source {
	b, err := os.ReadFile(path)
	if err != nil {
		return &source{err: fmt.Errorf("read script: %w", err)}
	}
	src := string(b)
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		return &source{json: strings.TrimPrefix(src, "\uFEFF")}
	case ".mjs":
		return compileESM(path, src)
	case ".cjs":
		return compileCommonJS(path, src, nil)
	}
	if l.typeModule(path) {
		return compileESM(path, src)
	}
	// As Node does for a .js with no "type": a file that is not a valid
	// script but uses module syntax is a module.
	if s := compileCJS(path, src); s.err == nil || !esmSyntax.MatchString(src) {
		return compileCommonJS(path, src, s)
	}
	return compileESM(path, src) // its errors, esbuild's, are the precise ones
}

// compileCommonJS compiles a CommonJS file (s, when already done). One
// that goja cannot parse goes through esbuild, which makes import() a
// promise of require() and lowers what goja lacks (async generators, for
// await); if that does not help, goja's error stands.
func compileCommonJS(path, src string, s *source) *source {
	if s == nil {
		s = compileCJS(path, src)
	}
	if s.err != nil {
		if m := transform(path, src, false); m.err == nil || m.tla {
			// Awaiting at the top level makes it a module, as in Node.
			return m
		}
	}
	return s
}

// esmSyntax finds what only an ES module has: an import or export
// statement, or import.meta.
var esmSyntax = regexp.MustCompile(`(?m)^[ \t]*(import[ \t]*[\w{*'"]|export[ \t]+[\w{*]|export[ \t]*\{)|\bimport\.meta\b`)

// stripHashbang turns a #! first line into a comment, keeping the lines.
func stripHashbang(src string) string {
	if strings.HasPrefix(src, "#!") {
		return "//" + src[2:]
	}
	return src
}

func compileCJS(path, src string) *source {
	prog, err := compileWrapped(path, wrapHead, stripHashbang(src), false, true, nil)
	return &source{prog: prog, err: err}
}

// compileESM turns an ES module into a CommonJS one (esbuild) and
// compiles that, strict, with the source map that points at the module.
func compileESM(path, src string) *source { return transform(path, src, true) }

// transform compiles what esbuild makes of an ES module (esm) or of a
// CommonJS file.
func transform(path, src string, esm bool) *source {
	// Named .js for esbuild: for a .mjs it would take a default import of
	// an ES module for its whole namespace (Node's rule for CommonJS
	// files, which __esModule tells apart here).
	name := strings.TrimSuffix(path, filepath.Ext(path)) + ".js"
	opts := api.TransformOptions{
		Format:     api.FormatCommonJS,
		Platform:   api.PlatformNode,
		Target:     api.ESNext,
		Charset:    api.CharsetUTF8,
		Sourcefile: name,
		Sourcemap:  api.SourceMapExternal,
		// import() becomes a promise of require(): goja has no import(),
		// nor async generators and for await, which esbuild lowers.
		Supported: map[string]bool{"dynamic-import": false, "async-generator": false, "for-await": false},
		Define:    map[string]string{"import.meta": "__imscript_meta"},
		LogLevel:  api.LogLevelSilent,
	}
	src = stripHashbang(src)
	r := api.Transform(src, opts)
	// Top-level await: esbuild refuses it in CommonJS output, so each one
	// it finds is hidden from it (tlaHide) and put back in its output
	// (tlaShow); the module's wrapper is then an async function.
	var tla string
	for len(r.Errors) > 0 && tlaError(r.Errors[0]) {
		if tla == "" {
			esm, tla = true, tlaMark(src)
		}
		var ok bool
		if src, ok = tlaHide(src, r.Errors[0].Location, tla); !ok {
			loc := r.Errors[0].Location
			return &source{tla: true, err: fmt.Errorf("%s:%d:%d: syntax error: a top-level for await is not supported: put the loop in an async function and await it",
				displayName(path), loc.Line, loc.Column+1)}
		}
		r = api.Transform(src, opts)
	}
	if len(r.Errors) > 0 {
		e := r.Errors[0]
		msg := e.Text
		if e.Location != nil {
			return &source{err: fmt.Errorf("%s:%d:%d: syntax error: %s", displayName(path), e.Location.Line, e.Location.Column+1, msg)}
		}
		return &source{err: fmt.Errorf("%s: syntax error: %s", displayName(path), msg)}
	}
	code := string(r.Code)
	if tla != "" {
		code = tlaShow(code, tla)
	}
	// import() waits for a module that awaits at its top level.
	code = dynImportRE.ReplaceAllString(code, "Promise.resolve().then(() => require.__imscript_ready($1)).then((m) => __toESM(m$2))")
	// The map, naming the file itself, inline: goja reads it for stacks.
	var sm map[string]any
	var remap func(line, col int) (int, int)
	if json.Unmarshal(r.Map, &sm) == nil {
		sm["sources"] = []string{path}
		if b, err := json.Marshal(sm); err == nil {
			code += "//# sourceMappingURL=data:application/json;base64," + base64.StdEncoding.EncodeToString(b) + "\n"
			// A syntax esbuild knows and goja does not: said at the
			// module's own line.
			if c, err := sourcemap.Parse("", b); err == nil {
				remap = func(line, col int) (int, int) {
					if _, _, l, c, ok := c.Source(line, col-1); ok {
						return l, c + 1
					}
					return line, col
				}
			}
		}
	}
	if !esm {
		prog, err := compileWrapped(path, wrapHead, code, false, false, remap)
		return &source{prog: prog, err: err}
	}
	head := wrapHeadESM
	if tla != "" {
		head = wrapHeadTLA
	}
	prog, err := compileWrapped(path, head, code, true, false, remap)
	out := &source{prog: prog, esm: true, tla: tla != "", err: err, code: code, remap: remap}
	for _, m := range importRE.FindAllStringSubmatch(code, -1) {
		if name, err := strconv.Unquote(m[1]); err == nil && !slices.Contains(out.imports, name) {
			out.imports = append(out.imports, name)
		}
	}
	return out
}

// dynImportRE finds what esbuild makes of an import().
var dynImportRE = regexp.MustCompile(`Promise\.resolve\(\)\.then\(\(\) => __toESM\(require\(("(?:[^"\\\n]|\\.)*")\)(, 1)?\)\)`)

// importRE finds what esbuild makes of an import statement: a top-level
// "var import_x = require(NAME);", "var ns = __toESM(require(NAME));" or
// "__reExport(x_exports, require(NAME), module.exports);".
var importRE = regexp.MustCompile(`(?m)^(?:var [\w$]+ = (?:__toESM\()?|__reExport\([\w$]+, )require\(("(?:[^"\\\n]|\\.)*")\)`)

// asyncVariant is the module compiled as an async function that awaits,
// where it imports them, the modules named in wait (which await at their
// top level, or import one that does): its import statements' requires
// become awaits of require.__imscript_ready.
func (s *source) asyncVariant(path string, wait []string) (*goja.Program, error) {
	key := strings.Join(wait, "\x00")
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.variants[key]; ok {
		return p, nil
	}
	code := importRE.ReplaceAllStringFunc(s.code, func(m string) string {
		q := importRE.FindStringSubmatch(m)[1]
		name, _ := strconv.Unquote(q)
		if !slices.Contains(wait, name) {
			return m
		}
		return strings.Replace(m, "require("+q+")", "(await require.__imscript_ready("+q+"))", 1)
	})
	prog, err := compileWrapped(path, wrapHeadTLA, code, true, false, s.remap)
	if err != nil {
		return nil, err
	}
	if s.variants == nil {
		s.variants = map[string]*goja.Program{}
	}
	s.variants[key] = prog
	return prog, nil
}

// tlaError says whether esbuild refused a top-level await.
func tlaError(m api.Message) bool {
	return m.Location != nil && strings.HasPrefix(m.Text, "Top-level await is currently not supported")
}

// tlaMark is the stand-in for a top-level await: a three-letter name the
// module does not use, so that "NAME/ " in the source and "NAME / " in
// esbuild's output are as long as "await" and "await " (lines and columns
// stay where they were, for the source map).
func tlaMark(src string) string {
	for _, m := range []string{"_$a", "_$b", "_$c", "$_a", "$_b", "$_c", "$$a", "$$b"} {
		if !strings.Contains(src, m) {
			return m
		}
	}
	return "$$$"
}

// tlaHide replaces the await at loc (esbuild's 1-based line, 0-based byte
// column) with "MARK/ ": "await x" becomes "MARK/  x", a division esbuild
// prints as "MARK / x" whatever x is (await binds tighter than any binary
// operator but **, which may not follow it). A for await is refused.
func tlaHide(src string, loc *api.Location, mark string) (string, bool) {
	start := 0
	for range loc.Line - 1 {
		i := strings.IndexByte(src[start:], '\n')
		if i < 0 {
			return src, false
		}
		start += i + 1
	}
	at := start + loc.Column
	if at+5 > len(src) || src[at:at+5] != "await" {
		return src, false
	}
	if before := strings.TrimRight(src[start:at], " \t"); strings.HasSuffix(before, "for") {
		return src, false
	}
	return src[:at] + mark + "/ " + src[at+5:], true
}

// tlaShow puts the awaits back in esbuild's output.
func tlaShow(code, mark string) string { return strings.ReplaceAll(code, mark+" / ", "await ") }

// compileWrapped compiles src in Node's wrapper function. Syntax errors
// carry file:line:column of the file itself.
func compileWrapped(path, head, src string, strict, noMaps bool, remap func(line, col int) (int, int)) (*goja.Program, error) {
	var opts []parser.Option
	if noMaps {
		opts = append(opts, parser.WithDisableSourceMaps)
	}
	// parser.ParseFile, not goja.Parse: goja.Parse flattens the parser's
	// ErrorList into a message and loses the line.
	ast, err := parser.ParseFile(nil, path, head+src+wrapTail, 0, opts...)
	if err != nil {
		var el parser.ErrorList
		if errors.As(err, &el) && len(el) > 0 {
			e := el[0]
			line, col := e.Position.Line, e.Position.Column
			if line == 1 {
				col = max(1, col-len(head))
			}
			if n := strings.Count(src, "\n") + 1; line > n { // the error is at the tail
				line, col = n, len(src)-strings.LastIndex(src, "\n")
			}
			if remap != nil {
				line, col = remap(line, col)
			}
			return nil, fmt.Errorf("%s:%d:%d: syntax error: %s", displayName(path), line, col, e.Message)
		}
		return nil, fmt.Errorf("%s: %w", displayName(path), err)
	}
	prog, err := goja.CompileAST(ast, strict)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", displayName(path), err)
	}
	return prog, nil
}

// moduleNotFound is Node's error for a name that resolves to nothing.
func (v *vm) moduleNotFound(name, from string) *goja.Object {
	return nodeerrors.NewError(v.rt, nil, "MODULE_NOT_FOUND", "Cannot find module '%s' imported from %s", name, from)
}

// moduleCache is require.cache: the modules of the files this VM ran, by
// path; a file deleted from it runs again when required next, as in Node.
func (v *vm) moduleCache() *goja.Object {
	if v.files == nil {
		v.files = v.rt.NewObject()
	}
	return v.files
}

// makeRequire is the require function of the files in dir (esm: of an ES
// module there, which resolves package "exports" with the "import"
// condition).
func (v *vm) makeRequire(dir string, esm bool) *goja.Object {
	rt := v.rt
	req := rt.ToValue(func(fc goja.FunctionCall) goja.Value {
		name := fc.Argument(0)
		if name.ExportType() != typeString {
			panic(nodeerrors.NewTypeError(rt, nodeerrors.ErrCodeInvalidArgType, `The "id" argument must be of type string`))
		}
		return v.requireFrom(dir, name.String(), esm)
	}).(*goja.Object)
	// require.__imscript_ready(name): a promise of require(name) once the module has
	// run to its end (one that awaits at its top level may still be
	// waiting): what an import of such a module awaits (asyncVariant).
	_ = req.Set("__imscript_ready", func(fc goja.FunctionCall) goja.Value {
		name := fc.Argument(0).String()
		v.allowAsync = true
		exp := v.requireFrom(dir, name, esm)
		v.allowAsync = false
		p, resolve, _ := rt.NewPromise()
		done := rt.ToValue(p)
		var wait *goja.Object
		if !v.isBuiltin(name) {
			if path, err := v.resolveFile(dir, name, esm); err == nil {
				wait = v.ready[path]
			}
		}
		if wait == nil {
			_ = resolve(exp)
			return done
		}
		then, _ := goja.AssertFunction(wait.Get("then"))
		ret, err := then(wait, rt.ToValue(func(goja.FunctionCall) goja.Value { return exp }))
		if err != nil {
			panic(err)
		}
		return ret
	})
	_ = req.Set("cache", v.moduleCache())
	if m, ok := v.moduleCache().Get(v.inst.Program().Path()).(*goja.Object); ok {
		_ = req.Set("main", m)
	}
	_ = req.Set("resolve", func(fc goja.FunctionCall) goja.Value {
		name := fc.Argument(0).String()
		if v.isBuiltin(name) {
			return rt.ToValue(name)
		}
		p, err := v.resolveFile(dir, name, esm)
		if err != nil {
			panic(v.resolveError(name, dir, err))
		}
		return rt.ToValue(p)
	})
	return req
}

// coreModules are the goja_nodejs core modules, served by its registry.
var coreModules = map[string]bool{"buffer": true}

// isBuiltin says whether name is a module require() serves without a file.
func (v *vm) isBuiltin(name string) bool {
	base := strings.TrimPrefix(name, "node:")
	if _, ok := v.mods[name]; ok {
		return true
	}
	if nodeBuiltins[base] != nil || coreModules[base] {
		return true
	}
	if strings.HasPrefix(name, "node:") {
		return false
	}
	_, ok := v.inst.Module(name)
	return ok
}

// requireFrom serves require(name) from a file in dir: registered modules
// ("imscript", "json", ...), Node's core modules (with or without
// "node:"), then files.
func (v *vm) requireFrom(dir, name string, esm bool) goja.Value {
	if mod, ok := v.mods[name]; ok {
		return mod
	}
	if mod := v.builtin(name); mod != nil {
		return mod
	}
	base := strings.TrimPrefix(name, "node:")
	if coreModules[base] {
		ret, err := v.req.Require(base)
		if err != nil {
			panic(v.rt.NewGoError(fmt.Errorf("require %q: %w", name, err)))
		}
		v.mods[base], v.mods["node:"+base] = ret, ret
		return ret
	}
	if strings.HasPrefix(name, "node:") {
		panic(v.notBuiltin(name))
	}
	if mod, ok := v.inst.Module(name); ok {
		v.mods[name] = v.toJS(mod, 0)
		return v.mods[name]
	}
	path, err := v.resolveFile(dir, name, esm)
	if errors.Is(err, fs.ErrNotExist) && nodeOnly[name] {
		panic(v.notBuiltin(name))
	}
	if err != nil {
		panic(v.resolveError(name, dir, err))
	}
	return v.load(path)
}

// nodeOnly are Node's core modules that imscript does not have (nor a
// registered module of the name): require("os") says so, unless a package
// of that name is installed.
var nodeOnly = map[string]bool{
	"assert": true, "async_hooks": true, "child_process": true, "cluster": true,
	"constants": true, "dgram": true, "domain": true, "fs": true, "http": true, "http2": true,
	"https": true, "inspector": true, "net": true, "os": true, "perf_hooks": true, "punycode": true,
	"querystring": true, "readline": true, "repl": true, "stream": true, "string_decoder": true,
	"sys": true, "tls": true, "trace_events": true, "tty": true, "v8": true, "vm": true,
	"wasi": true, "worker_threads": true, "zlib": true, "dns": true, "sqlite": true, "test": true,
}

func (v *vm) notBuiltin(name string) *goja.Object {
	return nodeerrors.NewError(v.rt, nil, "ERR_UNKNOWN_BUILTIN_MODULE",
		"No such built-in module: %s: imscript's JavaScript is not Node (docs/javascript.md lists what there is; imscript.fs, imscript.http, imscript.process, ... do that work)", name)
}

func (v *vm) resolveError(name, dir string, err error) *goja.Object {
	if errors.Is(err, fs.ErrNotExist) {
		return v.moduleNotFound(name, displayName(dir))
	}
	var pe *pkgError
	if errors.As(err, &pe) {
		return nodeerrors.NewError(v.rt, nil, pe.code, "%s", pe.msg)
	}
	return v.rt.NewGoError(fmt.Errorf("require %q: %w", name, err))
}

// load runs the file at path once per VM and returns its module.exports
// (while it runs, a require cycle gets the exports so far, as in Node).
func (v *vm) load(path string) goja.Value {
	cache := v.moduleCache()
	if m, ok := cache.Get(path).(*goja.Object); ok {
		return m.Get("exports")
	}
	p := v.inst.Program().(*program)
	s := p.ld.source(path)
	v.inst.AddDependency(path)
	rt := v.rt
	if s.err != nil {
		ctor := "Error"
		if strings.Contains(s.err.Error(), ": syntax error: ") {
			ctor = "SyntaxError"
		}
		e, err := rt.New(rt.Get(ctor), rt.ToValue(s.err.Error()))
		if err != nil {
			panic(err)
		}
		panic(e)
	}
	allowAsync := v.allowAsync
	v.allowAsync = false
	var prog *goja.Program
	if s.esm {
		wait := v.asyncImports(path, s, map[string]bool{})
		switch {
		case len(wait) > 0:
			var err error
			if prog, err = s.asyncVariant(path, wait); err != nil {
				e, _ := rt.New(rt.Get("SyntaxError"), rt.ToValue(err.Error()))
				panic(e)
			}
		case s.tla:
			prog = s.prog
		}
		if prog != nil && !allowAsync && path != p.path {
			panic(nodeerrors.NewError(rt, nil, "ERR_REQUIRE_ASYNC_MODULE",
				"%s awaits at its top level (or imports a module that does): import it from an ES module, or with import(), rather than require it", displayName(path)))
		}
	}
	module := rt.NewObject()
	exports := rt.NewObject()
	_ = module.Set("exports", exports)
	_ = module.Set("id", path)
	_ = module.Set("filename", path)
	_ = module.Set("loaded", false)
	_ = cache.Set(path, module)
	if s.prog == nil { // JSON
		val, err := jsonParse(rt, s.json)
		if err != nil {
			_ = cache.Delete(path)
			e, _ := rt.New(rt.Get("SyntaxError"), rt.ToValue(displayName(path)+": "+strings.TrimPrefix(jsError(err).Error(), "SyntaxError: ")))
			panic(e)
		}
		_ = module.Set("exports", val)
		_ = module.Set("loaded", true)
		return val
	}
	if err := v.runModule(s, prog, path, module, exports); err != nil {
		_ = cache.Delete(path)
		var ex *goja.Exception
		if errors.As(err, &ex) {
			panic(ex)
		}
		// The watchdog's interrupt goes on up, uncatchable.
		var ie *goja.InterruptedError
		if errors.As(err, &ie) {
			panic(ie)
		}
		panic(v.rt.NewGoError(err))
	}
	_ = module.Set("loaded", true)
	return module.Get("exports")
}

// runModule calls the file's wrapper function: async, the program
// given, when the module awaits at its top level or awaits its imports
// (its promise is then the module's ready promise).
func (v *vm) runModule(s *source, async *goja.Program, path string, module, exports *goja.Object) error {
	rt := v.rt
	prog := s.prog
	if async != nil {
		prog = async
	}
	fv, err := rt.RunProgram(prog)
	if err != nil {
		return err
	}
	fn, ok := goja.AssertFunction(fv)
	if !ok {
		return fmt.Errorf("%s: not a module", path)
	}
	dir := filepath.Dir(path)
	req := v.makeRequire(dir, s.esm)
	_ = module.Set("require", req)
	if s.esm {
		m := rt.NewObject()
		_ = m.Set("url", "file://"+filepath.ToSlash(path))
		_ = m.Set("filename", path)
		_ = m.Set("dirname", dir)
		_ = m.Set("main", path == v.inst.Program().Path())
		ret, err := fn(exports, exports, req, module, m)
		if async != nil && err == nil {
			pr, _ := ret.(*goja.Object)
			if v.ready == nil {
				v.ready = map[string]*goja.Object{}
			}
			v.ready[path] = pr
			if path == v.inst.Program().Path() {
				v.mainPromise = pr // RunPending waits for it
			}
		}
		return err
	}
	_, err = fn(exports, exports, req, module, rt.ToValue(path), rt.ToValue(dir))
	return err
}

func jsonParse(rt *goja.Runtime, text string) (goja.Value, error) {
	parse, _ := goja.AssertFunction(rt.Get("JSON").ToObject(rt).Get("parse"))
	return parse(goja.Undefined(), rt.ToValue(text))
}

// asyncImports are the names module path (an ES module, s) imports that
// resolve to modules that await at their top level, or import one that
// does, so that it has to await them; a module on the way to it (a cycle)
// is not waited for, as in Node. Known per program.
func (v *vm) asyncImports(path string, s *source, visiting map[string]bool) []string {
	ld := v.inst.Program().(*program).ld
	ld.mu.Lock()
	wait, ok := ld.waits[path]
	ld.mu.Unlock()
	if ok {
		return wait
	}
	visiting[path] = true
	defer delete(visiting, path)
	dir := filepath.Dir(path)
	for _, name := range s.imports {
		if v.isBuiltin(name) {
			continue
		}
		dep, err := v.resolveFile(dir, name, true)
		if err != nil || visiting[dep] {
			continue // a missing one fails when it is required
		}
		ds := ld.source(dep)
		if ds.err != nil || !ds.esm {
			continue
		}
		if ds.tla || len(v.asyncImports(dep, ds, visiting)) > 0 {
			wait = append(wait, name)
		}
	}
	if wait == nil {
		wait = []string{}
	}
	ld.mu.Lock()
	ld.waits[path] = wait
	ld.mu.Unlock()
	return wait
}
