package apitypes

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/imscript/imscript/script"
)

// LuaLS annotations (a ---@meta file) and the luacheck globals. Classes
// are named imscript.<Class>, so they cannot clash with a script's own.

var luaReserved = map[string]bool{
	"and": true, "break": true, "do": true, "else": true, "elseif": true, "end": true,
	"false": true, "for": true, "function": true, "if": true, "in": true, "local": true,
	"nil": true, "not": true, "or": true, "repeat": true, "return": true, "then": true,
	"true": true, "until": true, "while": true,
}

func luaName(n string) string {
	if luaReserved[n] {
		return n + "_"
	}
	return n
}

func luaType(t *typ) string {
	switch t.kind {
	case kName:
		switch t.name {
		case "any", "nil", "boolean", "integer", "number", "string", "table", "function", "false", "true":
			return t.name
		case "bytes":
			return "string"
		}
		return "imscript." + t.name
	case kLit:
		return t.name
	case kList:
		return luaGroup(luaType(t.elems[0])) + "[]"
	case kOpt:
		e := luaType(t.elems[0])
		if e == "nil" || e == "any" {
			return e
		}
		return luaGroup(e) + "?"
	case kUnion:
		var parts []string
		for _, e := range t.elems {
			p := luaType(e)
			if e.kind == kFunc {
				p = "(" + p + ")"
			}
			if !slices.Contains(parts, p) { // string|bytes: both strings
				parts = append(parts, p)
			}
		}
		return strings.Join(parts, "|")
	case kRecord:
		parts := make([]string, len(t.params))
		for i, f := range t.params {
			opt := ""
			if f.opt {
				opt = "?"
			}
			parts[i] = f.name + opt + ": " + luaType(f.t)
		}
		return "{ " + strings.Join(parts, ", ") + " }"
	case kMap:
		return "table<string, " + luaType(t.elems[0]) + ">"
	case kFunc:
		s := "fun(" + luaParams(t.params) + ")"
		if len(t.rets) > 0 {
			s += ": " + luaType(t.rets[0])
		}
		return s
	}
	return "any"
}

// luaGroup parenthesizes a union or a function type before a suffix.
func luaGroup(e string) string {
	if strings.Contains(e, "|") || strings.HasPrefix(e, "fun(") {
		return "(" + e + ")"
	}
	return e
}

func luaParams(ps []param) string {
	parts := make([]string, len(ps))
	for i, q := range ps {
		switch {
		case q.vararg:
			parts[i] = "...: " + luaType(q.t)
		case q.opt:
			parts[i] = luaName(q.name) + "?: " + luaType(q.t)
		default:
			parts[i] = luaName(q.name) + ": " + luaType(q.t)
		}
	}
	return strings.Join(parts, ", ")
}

// luaSig is a function's parameters and results as Lua sees them: an
// async function also takes a trailing callback and returns its result or
// nil and the error.
func (m *model) luaSig(s script.Sig) (ps []param, rets []string) {
	ps = m.params[s.Args]
	r := m.rets[s.Returns]
	for _, t := range r.types {
		rets = append(rets, luaType(t))
	}
	if r.async {
		res := "any"
		if len(r.types) > 0 {
			res = luaType(&typ{kind: kOpt, elems: []*typ{r.types[0]}})
		}
		rets = []string{res, "string?"}
		if len(ps) == 0 || !ps[len(ps)-1].vararg {
			cb := &typ{kind: kFunc, params: []param{
				{name: "result", t: &typ{kind: kName, name: "any"}},
				{name: "err", t: &typ{kind: kOpt, elems: []*typ{{kind: kName, name: "string"}}}},
			}}
			if len(r.types) > 0 {
				cb.params[0].t = &typ{kind: kOpt, elems: []*typ{r.types[0]}}
			}
			ps = append(append([]param(nil), ps...), param{name: "callback", opt: true, t: cb})
		}
	}
	return ps, rets
}

func luaDoc(b *strings.Builder, doc string) {
	if doc != "" {
		fmt.Fprintf(b, "---%s\n", oneLine(doc))
	}
}

// luaFunc writes a function declaration: owner.name (sep ".") or
// owner:name (sep ":").
func (m *model) luaFunc(b *strings.Builder, owner, sep, name string, s script.Sig, overloads []string) {
	luaDoc(b, s.Doc)
	ps, rets := m.luaSig(s)
	names := make([]string, len(ps))
	for i, q := range ps {
		if q.vararg {
			fmt.Fprintf(b, "---@param ... %s\n", luaType(q.t))
			names[i] = "..."
			continue
		}
		opt := ""
		if q.opt {
			opt = "?"
		}
		fmt.Fprintf(b, "---@param %s%s %s\n", luaName(q.name), opt, luaType(q.t))
		names[i] = luaName(q.name)
	}
	for _, r := range rets {
		fmt.Fprintf(b, "---@return %s\n", r)
	}
	for _, o := range overloads {
		fmt.Fprintf(b, "---@overload %s\n", o)
	}
	fmt.Fprintf(b, "function %s%s%s(%s) end\n\n", owner, sep, name, strings.Join(names, ", "))
}

func (m *model) luaField(b *strings.Builder, name string, f script.Field) {
	opt := ""
	if n, ok := strings.CutSuffix(name, "?"); ok {
		name, opt = n, "?"
	}
	fmt.Fprintf(b, "---@field %s%s %s %s\n", name, opt, luaType(m.parsed[f.Type]), oneLine(f.Doc))
}

func (m *model) luaAPI(b *strings.Builder, local, class string, a *script.API, mods []script.Module) {
	luaDoc(b, a.Doc)
	fmt.Fprintf(b, "---@class imscript.%s\n", class)
	if a.Call != nil {
		ps, rets := m.luaSig(script.Sig{Args: a.Call.Args, Returns: a.Call.Returns})
		o := "fun(" + luaParams(ps) + ")"
		if len(rets) > 0 {
			o += ": " + strings.Join(rets, ", ")
		}
		fmt.Fprintf(b, "---@overload %s\n", o)
	}
	for _, name := range sortedKeys(a.Fields) {
		m.luaField(b, name, a.Fields[name])
	}
	for _, mod := range mods {
		doc := ""
		if mod.API != nil {
			doc = mod.API.Doc
		}
		fmt.Fprintf(b, "---@field %s imscript.%s %s\n", mod.Name, moduleClass(mod.Name), oneLine(doc))
	}
	if local == "imscript" {
		b.WriteString("imscript = {}\n\n")
	} else {
		fmt.Fprintf(b, "local %s = {}\n\n", local)
	}
	for _, name := range sortedKeys(a.Funcs) {
		f := a.Funcs[name]
		m.luaFunc(b, local, ".", name, script.Sig{Args: f.Args, Returns: f.Returns, Doc: f.Doc}, nil)
	}
}

func (m *model) luaObject(b *strings.Builder, t *script.Type) {
	class := t.Class()
	luaDoc(b, t.Doc)
	fmt.Fprintf(b, "---@class imscript.%s\n", class)
	for _, name := range sortedKeys(t.Fields) {
		m.luaField(b, name, t.Fields[name])
	}
	fmt.Fprintf(b, "local %s = {}\n\n", class)
	for _, name := range sortedKeys(t.Sigs) {
		s := t.Sigs[name]
		var overloads []string
		if name == "on" && len(t.Events) > 0 {
			var names []string
			for _, e := range t.Events {
				names = append(names, fmt.Sprintf("%q", e.Name))
				h := "fun(" + luaParams(m.params[e.Args]) + ")"
				overloads = append(overloads, fmt.Sprintf("fun(self: imscript.%s, event: %q, handler: %s)", class, e.Name, h))
			}
			s.Args = "event: " + strings.Join(names, "|") + ", handler: function"
			if _, ok := m.params[s.Args]; !ok {
				m.params[s.Args], _ = parseParams(s.Args)
			}
		}
		m.luaFunc(b, class, ":", luaName(name), s, overloads)
	}
	if t.Iter != nil && t.Sigs["pairs"] == (script.Sig{}) {
		b.WriteString("---Iterates over the entries: for key, value in obj:pairs() do ... end\n")
		b.WriteString("---@return fun(): any, any\n")
		fmt.Fprintf(b, "function %s:pairs() end\n\n", class)
	}
}

func (m *model) luals() string {
	var b strings.Builder
	b.WriteString("---@meta imscript\n")
	fmt.Fprintf(&b, "-- imscript %s: LuaLS annotations of the script API, generated by\n", m.spec.Version)
	b.WriteString("-- `imscript types`; do not edit. Add this folder to Lua.workspace.library.\n\n")
	for _, mod := range m.spec.Modules {
		m.luaAPI(&b, moduleClass(mod.Name), moduleClass(mod.Name), mod.API, nil)
	}
	for _, t := range m.types {
		m.luaObject(&b, t)
	}
	for _, r := range m.records {
		luaDoc(&b, r.Doc)
		fmt.Fprintf(&b, "---@class imscript.%s\n", r.Name)
		for _, name := range sortedKeys(r.Fields) {
			m.luaField(&b, name, r.Fields[name])
		}
		b.WriteString("\n")
	}
	b.WriteString(m.spec.LuaLS)
	b.WriteString("\n")
	m.luaAPI(&b, "imscript", "Imscript", m.spec.Core, m.spec.Modules)
	b.WriteString("return imscript\n")
	return b.String()
}

// luacheckrc lists the globals for luacheck: imscript with every member
// (so imscript.tcik is an undefined field) and the fields the Lua binding
// adds to the standard library.
func (m *model) luacheckrc() string {
	var b strings.Builder
	fmt.Fprintf(&b, "-- imscript %s: the globals of imscript's Lua for luacheck, generated by\n", m.spec.Version)
	b.WriteString("-- `imscript types`; do not edit.\n")
	b.WriteString("stds.imscript = {\n  read_globals = {\n")
	b.WriteString("    imscript = { fields = {\n")
	m.luacheckAPI(&b, "      ", m.spec.Core, m.spec.Modules)
	b.WriteString("    } },\n")
	for _, lib := range sortedKeys(m.spec.LuaStd) {
		fmt.Fprintf(&b, "    %s = { fields = {", lib)
		for _, f := range m.spec.LuaStd[lib] {
			fmt.Fprintf(&b, " %q,", f)
		}
		b.WriteString(" } },\n")
	}
	b.WriteString("  },\n}\n")
	b.WriteString("std = \"lua51+imscript\"\n")
	b.WriteString("-- Handlers take the arguments the API passes them (srv, fd, ...), used or\n")
	b.WriteString("-- not, and an object's handlers get it as their first argument (srv, cli, ws).\n")
	b.WriteString("unused_args = false\n")
	b.WriteString("ignore = { \"431/srv\", \"431/cli\", \"431/ws\" }\n")
	return b.String()
}

func (m *model) luacheckAPI(b *strings.Builder, indent string, a *script.API, mods []script.Module) {
	type entry struct{ name, def string }
	var es []entry
	for name := range a.Funcs {
		es = append(es, entry{name, "{}"})
	}
	for name := range a.Fields {
		// A value's fields (imscript.env.PORT) are the script's business.
		es = append(es, entry{strings.TrimSuffix(name, "?"), "{ other_fields = true }"})
	}
	for _, mod := range mods {
		var sub strings.Builder
		if mod.API.Call != nil || len(mod.API.Funcs)+len(mod.API.Fields) == 0 {
			es = append(es, entry{mod.Name, "{}"})
			continue
		}
		sub.WriteString("{ fields = {\n")
		m.luacheckAPI(&sub, indent+"  ", mod.API, nil)
		sub.WriteString(indent + "} }")
		es = append(es, entry{mod.Name, sub.String()})
	}
	sort.Slice(es, func(i, j int) bool { return es[i].name < es[j].name })
	for _, e := range es {
		fmt.Fprintf(b, "%s%s = %s,\n", indent, e.name, e.def)
	}
}
