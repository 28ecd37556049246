// Package apitypes generates editor types from the API description that
// the host, its modules and the bindings carry (script.API, script.Type's
// Sigs, Fields and Events): TypeScript declarations (imscript.d.ts),
// LuaLS annotations (imscript.lua) and a luacheck configuration
// (.luacheckrc). It is what `imscript types` runs.
package apitypes

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/imscript/imscript/script"
)

// Spec is everything the generator describes.
type Spec struct {
	Version string
	// Core is the imscript module's own members (imscript.server, ...).
	Core *script.API
	// Modules appear as imscript.<Name> and require("<Name>").
	Modules []script.Module
	// JSGlobals are TypeScript declarations of the globals the JavaScript
	// binding adds (console, timers, Buffer, ...), copied as they are.
	JSGlobals string
	// JSBuiltins are the Node core modules that JavaScript's require()
	// serves instead of the imscript module of that name, with the
	// JSGlobals type of each ("crypto": "NodeCrypto").
	JSBuiltins map[string]string
	// LuaLS are LuaLS annotations of what the Lua binding adds to Lua 5.1's
	// standard library; LuaStd the same fields for luacheck (table name →
	// field names).
	LuaLS  string
	LuaStd map[string][]string
}

// Files are the generated files by name.
type Files map[string]string

// Names of the generated files.
const (
	TSFile         = "imscript.d.ts"
	LuaFile        = "imscript.lua"
	LuacheckrcFile = ".luacheckrc"
)

// model is a checked Spec, its notation parsed.
type model struct {
	spec    Spec
	types   []*script.Type // every object type, by class name
	records []script.Record
	known   map[string]bool // class and record names
	parsed  map[string]*typ
	params  map[string][]param
	rets    map[string]retList
	errs    []error
}

type retList struct {
	types []*typ
	async bool
}

// Check reports every function, property or event the spec leaves
// undescribed and every description that does not parse or names an
// unknown type.
func (s Spec) Check() error {
	_, err := build(s)
	return err
}

// Generate checks the spec and renders the files.
func (s Spec) Generate() (Files, error) {
	m, err := build(s)
	if err != nil {
		return nil, err
	}
	return Files{TSFile: m.typescript(), LuaFile: m.luals(), LuacheckrcFile: m.luacheckrc()}, nil
}

// Write generates the files into dir (made if missing) and returns their
// paths.
func (s Spec) Write(dir string) ([]string, error) {
	files, err := s.Generate()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("types: %w", err)
	}
	var out []string
	for _, name := range []string{TSFile, LuaFile, LuacheckrcFile} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(files[name]), 0o644); err != nil {
			return nil, fmt.Errorf("types: %w", err)
		}
		out = append(out, p)
	}
	return out, nil
}

func (m *model) errorf(format string, args ...any) {
	m.errs = append(m.errs, fmt.Errorf(format, args...))
}

func build(s Spec) (*model, error) {
	m := &model{spec: s, known: map[string]bool{}, parsed: map[string]*typ{},
		params: map[string][]param{}, rets: map[string]retList{}}
	if s.Core == nil {
		return nil, errors.New("types: no description of the imscript module")
	}
	apis := []*script.API{s.Core}
	for _, mod := range s.Modules {
		if mod.API == nil {
			m.errorf("module %s: no API description", mod.Name)
			continue
		}
		apis = append(apis, mod.API)
	}
	seen := map[*script.Type]bool{}
	for _, a := range apis {
		for _, t := range a.Types {
			if !seen[t] {
				seen[t] = true
				m.types = append(m.types, t)
			}
		}
		m.records = append(m.records, a.Records...)
	}
	sort.Slice(m.types, func(i, j int) bool { return m.types[i].Class() < m.types[j].Class() })
	sort.Slice(m.records, func(i, j int) bool { return m.records[i].Name < m.records[j].Name })
	for _, t := range m.types {
		if m.known[t.Class()] {
			m.errorf("type %s: class name %s used twice", t.Name, t.Class())
		}
		m.known[t.Class()] = true
	}
	for _, r := range m.records {
		if m.known[r.Name] {
			m.errorf("record %s: name used twice", r.Name)
		}
		m.known[r.Name] = true
	}
	for _, name := range []string{"Imscript"} {
		m.known[name] = true
	}

	m.checkAPI("imscript", s.Core)
	for _, mod := range s.Modules {
		if mod.API != nil {
			m.checkAPI("imscript."+mod.Name, mod.API)
		}
	}
	for _, t := range m.types {
		m.checkType(t)
	}
	for _, r := range m.records {
		for name, f := range r.Fields {
			m.typeOf(r.Name+"."+name, f.Type)
		}
	}
	if len(m.errs) > 0 {
		return nil, fmt.Errorf("types: the API description is incomplete or wrong:\n%w", errors.Join(m.errs...))
	}
	return m, nil
}

func (m *model) checkAPI(what string, a *script.API) {
	if a.Call != nil {
		m.checkSig(what, script.Sig{Args: a.Call.Args, Returns: a.Call.Returns, Doc: a.Call.Doc})
	}
	for name, f := range a.Funcs {
		// f.Fn may be nil: a module that makes its functions per
		// instance describes them here and builds them in Module.
		m.checkSig(what+"."+name, script.Sig{Args: f.Args, Returns: f.Returns, Doc: f.Doc})
	}
	for name, f := range a.Fields {
		m.typeOf(what+"."+name, f.Type)
	}
}

func (m *model) checkType(t *script.Type) {
	what := t.Class()
	for name := range t.Methods {
		sig, ok := t.Sigs[name]
		if !ok {
			m.errorf("%s:%s: method without a description (define it with Type.Define)", what, name)
			continue
		}
		m.checkSig(what+":"+name, sig)
	}
	for name := range t.Sigs {
		if _, ok := t.Methods[name]; !ok {
			m.errorf("%s:%s: described but not a method", what, name)
		}
	}
	for name := range t.Props {
		if _, ok := t.Fields[name]; !ok {
			m.errorf("%s.%s: property without a description (Type.Fields)", what, name)
		}
	}
	for name, f := range t.Fields {
		m.typeOf(what+"."+name, f.Type)
	}
	if len(t.Events) > 0 {
		if _, ok := t.Methods["on"]; !ok {
			m.errorf("%s: events described but no on method", what)
		}
	}
	for _, e := range t.Events {
		m.checkSig(what+"@"+e.Name, script.Sig{Args: e.Args, Returns: e.Returns, Doc: e.Doc})
	}
}

func (m *model) checkSig(what string, s script.Sig) {
	if s.Doc == "" {
		m.errorf("%s: no doc", what)
	}
	ps, err := parseParams(s.Args)
	if err != nil {
		m.errorf("%s: args: %v", what, err)
	}
	for i, q := range ps {
		m.resolve(what, q.t)
		if q.vararg && i != len(ps)-1 {
			m.errorf("%s: ... must come last", what)
		}
	}
	m.params[s.Args] = ps
	rets, async, err := parseReturns(s.Returns)
	if err != nil {
		m.errorf("%s: returns: %v", what, err)
	}
	for _, r := range rets {
		m.resolve(what, r)
	}
	m.rets[s.Returns] = retList{rets, async}
}

func (m *model) typeOf(what, s string) *typ {
	if t, ok := m.parsed[s]; ok {
		return t
	}
	if s == "" {
		m.errorf("%s: no type", what)
		return nil
	}
	t, err := parseType(s)
	if err != nil {
		m.errorf("%s: %v", what, err)
		return nil
	}
	m.resolve(what, t)
	m.parsed[s] = t
	return t
}

func (m *model) resolve(what string, t *typ) {
	t.names(func(n string) {
		if !primitives[n] && !m.known[n] {
			m.errorf("%s: unknown type %s", what, n)
		}
	})
}

// moduleClass is the class of module name's exports.
func moduleClass(name string) string {
	return (&script.Type{Name: name}).Class() + "Module"
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// oneLine makes a doc safe for a one-line comment.
func oneLine(s string) string {
	s = strings.ReplaceAll(s, "*/", "* /")
	return strings.Join(strings.Fields(s), " ")
}
