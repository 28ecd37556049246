package apitypes

import (
	"fmt"
	"strings"

	"github.com/imscript/imscript/script"
)

// TypeScript declarations. Everything lives in the namespace imscript
// (types only), beside the global value imscript.

// in says whether a type is what the script passes (an argument) rather
// than what it gets (a result, a handler's parameter).
type polarity bool

const (
	in  polarity = true
	out polarity = false
)

var tsReserved = map[string]bool{
	"new": true, "default": true, "function": true, "class": true, "delete": true, "in": true,
	"var": true, "const": true, "return": true, "this": true, "with": true, "enum": true,
}

func tsName(n string) string {
	if tsReserved[n] {
		return n + "_"
	}
	return n
}

func tsType(t *typ, pol polarity) string {
	switch t.kind {
	case kName:
		switch t.name {
		case "any", "boolean", "string", "number", "false", "true":
			return t.name
		case "integer":
			return "number"
		case "nil":
			if pol == in {
				return "null | undefined"
			}
			return "null"
		case "bytes":
			if pol == in {
				return "Uint8Array"
			}
			return "Buffer"
		case "table":
			return "{ [key: string]: any }"
		case "function":
			return "(...args: any[]) => any"
		}
		return t.name
	case kLit:
		return t.name
	case kList:
		e := tsType(t.elems[0], pol)
		if strings.ContainsAny(e, "|&=") {
			e = "(" + e + ")"
		}
		return e + "[]"
	case kOpt:
		return tsType(t.elems[0], pol) + " | " + tsType(&typ{kind: kName, name: "nil"}, pol)
	case kUnion:
		parts := make([]string, len(t.elems))
		for i, e := range t.elems {
			parts[i] = tsType(e, pol)
			if e.kind == kFunc {
				parts[i] = "(" + parts[i] + ")"
			}
		}
		return strings.Join(parts, " | ")
	case kRecord:
		var b strings.Builder
		b.WriteString("{ ")
		for _, f := range t.params {
			opt := ""
			if f.opt {
				opt = "?"
			}
			fmt.Fprintf(&b, "%s%s: %s; ", f.name, opt, tsType(f.t, pol))
		}
		b.WriteString("}")
		return b.String()
	case kMap:
		return "{ [key: string]: " + tsType(t.elems[0], pol) + " }"
	case kFunc:
		ret := "void"
		if len(t.rets) > 0 {
			ret = tsType(t.rets[0], !pol)
		}
		return "(" + tsParams(t.params, !pol) + ") => " + ret
	}
	return "any"
}

func tsParams(ps []param, pol polarity) string {
	parts := make([]string, len(ps))
	for i, q := range ps {
		switch {
		case q.vararg:
			e := tsType(q.t, pol)
			if strings.ContainsAny(e, "|&=") {
				e = "(" + e + ")"
			}
			parts[i] = "...args: " + e + "[]"
		case q.opt:
			parts[i] = tsName(q.name) + "?: " + tsType(q.t, pol)
		default:
			parts[i] = tsName(q.name) + ": " + tsType(q.t, pol)
		}
	}
	return strings.Join(parts, ", ")
}

func (m *model) tsReturn(s string) string {
	r := m.rets[s]
	if len(r.types) == 0 {
		if r.async {
			return "Promise<void>"
		}
		return "void"
	}
	t := tsType(r.types[0], out)
	if r.async {
		if t == "null" {
			t = "void"
		}
		return "Promise<" + t + ">"
	}
	return t
}

func tsDoc(b *strings.Builder, indent, doc string) {
	if doc != "" {
		fmt.Fprintf(b, "%s/** %s */\n", indent, oneLine(doc))
	}
}

func (m *model) tsFunc(b *strings.Builder, indent, name string, s script.Sig) {
	tsDoc(b, indent, s.Doc)
	fmt.Fprintf(b, "%s%s(%s): %s;\n", indent, name, tsParams(m.params[s.Args], in), m.tsReturn(s.Returns))
}

func (m *model) tsField(b *strings.Builder, indent, name string, f script.Field, readonly bool) {
	tsDoc(b, indent, f.Doc)
	ro := ""
	if readonly {
		ro = "readonly "
	}
	opt := ""
	if n, ok := strings.CutSuffix(name, "?"); ok {
		name, opt = n, "?"
	}
	fmt.Fprintf(b, "%s%s%s%s: %s;\n", indent, ro, name, opt, tsType(m.parsed[f.Type], out))
}

func (m *model) tsAPI(b *strings.Builder, class string, a *script.API, mods []script.Module) {
	tsDoc(b, "  ", a.Doc)
	fmt.Fprintf(b, "  interface %s {\n", class)
	if a.Call != nil {
		tsDoc(b, "    ", a.Call.Doc)
		fmt.Fprintf(b, "    (%s): %s;\n", tsParams(m.params[a.Call.Args], in), m.tsReturn(a.Call.Returns))
	}
	for _, name := range sortedKeys(a.Funcs) {
		f := a.Funcs[name]
		m.tsFunc(b, "    ", name, script.Sig{Args: f.Args, Returns: f.Returns, Doc: f.Doc})
	}
	for _, name := range sortedKeys(a.Fields) {
		m.tsField(b, "    ", name, a.Fields[name], true)
	}
	for _, mod := range mods {
		doc := ""
		if mod.API != nil {
			doc = mod.API.Doc
		}
		tsDoc(b, "    ", doc)
		fmt.Fprintf(b, "    readonly %s: %s;\n", mod.Name, moduleClass(mod.Name))
	}
	b.WriteString("  }\n\n")
}

func (m *model) tsObject(b *strings.Builder, t *script.Type) {
	tsDoc(b, "  ", t.Doc)
	fmt.Fprintf(b, "  interface %s {\n", t.Class())
	for _, name := range sortedKeys(t.Fields) {
		_, prop := t.Props[name]
		m.tsField(b, "    ", name, t.Fields[name], prop)
	}
	for _, name := range sortedKeys(t.Sigs) {
		s := t.Sigs[name]
		if name == "on" && len(t.Events) > 0 {
			for _, e := range t.Events {
				tsDoc(b, "    ", e.Doc)
				handler := "(" + tsParams(m.params[e.Args], out) + ") => " + m.tsHandlerReturn(e.Returns)
				fmt.Fprintf(b, "    on(event: %q, handler: %s): %s;\n", e.Name, handler, m.tsReturn(s.Returns))
			}
			continue
		}
		m.tsFunc(b, "    ", tsName(name), s)
	}
	if t.Iter != nil {
		b.WriteString("    /** Iterates over the entries: for (const [key, value] of obj) */\n")
		b.WriteString("    [Symbol.iterator](): Iterator<[any, any]>;\n")
	}
	b.WriteString("  }\n\n")
}

func (m *model) tsHandlerReturn(s string) string {
	r := m.rets[s]
	if len(r.types) == 0 {
		return "void"
	}
	return tsType(r.types[0], in)
}

func (m *model) typescript() string {
	var b strings.Builder
	fmt.Fprintf(&b, "// imscript %s: TypeScript declarations of the script API, generated by\n", m.spec.Version)
	b.WriteString("// `imscript types`; do not edit. In a jsconfig.json: \"include\": [\"imscript.d.ts\", \"*.js\"].\n\n")
	b.WriteString("/** The imscript module: servers, clients, timers and the standard modules. */\n")
	b.WriteString("declare const imscript: imscript.Imscript;\n\n")
	b.WriteString("declare namespace imscript {\n")
	m.tsAPI(&b, "Imscript", m.spec.Core, m.spec.Modules)
	for _, mod := range m.spec.Modules {
		m.tsAPI(&b, moduleClass(mod.Name), mod.API, nil)
	}
	for _, t := range m.types {
		m.tsObject(&b, t)
	}
	for _, r := range m.records {
		tsDoc(&b, "  ", r.Doc)
		fmt.Fprintf(&b, "  interface %s {\n", r.Name)
		for _, name := range sortedKeys(r.Fields) {
			m.tsField(&b, "    ", name, r.Fields[name], false)
		}
		b.WriteString("  }\n\n")
	}
	b.WriteString("}\n\n")
	b.WriteString("/** The imscript module, and each standard module by its name. */\n")
	b.WriteString("declare function require(name: \"imscript\"): imscript.Imscript;\n")
	for _, mod := range m.spec.Modules {
		if node, ok := m.spec.JSBuiltins[mod.Name]; ok {
			fmt.Fprintf(&b, "declare function require(name: %q | %q): %s & imscript.%s;\n", mod.Name, "node:"+mod.Name, node, moduleClass(mod.Name))
			continue
		}
		fmt.Fprintf(&b, "declare function require(name: %q): imscript.%s;\n", mod.Name, moduleClass(mod.Name))
	}
	// Node's core modules that are not imscript modules (events, path, ...).
	isMod := map[string]bool{}
	for _, mod := range m.spec.Modules {
		isMod[mod.Name] = true
	}
	for _, name := range sortedKeys(m.spec.JSBuiltins) {
		if !isMod[name] && m.spec.JSBuiltins[name] != "" {
			fmt.Fprintf(&b, "declare function require(name: %q | %q): %s;\n", name, "node:"+name, m.spec.JSBuiltins[name])
		}
	}
	// The same as modules, for import and for TypeScript's own reading
	// of require() in a checked .js file.
	b.WriteString("\n/** The modules by name, for import and require. */\n")
	ambient := func(name, typ string) {
		fmt.Fprintf(&b, "declare module %q { const m: %s; export = m; }\n", name, typ)
	}
	ambient("imscript", "imscript.Imscript")
	for _, mod := range m.spec.Modules {
		typ := "imscript." + moduleClass(mod.Name)
		if node, ok := m.spec.JSBuiltins[mod.Name]; ok {
			typ = node + " & " + typ
			ambient("node:"+mod.Name, typ)
		}
		ambient(mod.Name, typ)
	}
	for _, name := range sortedKeys(m.spec.JSBuiltins) {
		if !isMod[name] && m.spec.JSBuiltins[name] != "" {
			ambient(name, m.spec.JSBuiltins[name])
			ambient("node:"+name, m.spec.JSBuiltins[name])
		}
	}
	b.WriteString("\n")
	b.WriteString(m.spec.JSGlobals)
	return b.String()
}
