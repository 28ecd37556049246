package script

// The description of the API for editors: argument names and types, return
// types and a one-line doc per function, written beside the function (a
// Method), from which `imscript types` generates TypeScript declarations and
// LuaLS annotations (internal/apitypes).
//
// Types are written in one small notation for both languages:
//
//	any nil boolean false true integer number string bytes table function
//	Server                          a host object type (Type.Class()) or a Record
//	T[]  T?  A|B  "text"            a list, T or nil, a union, a string literal
//	{host: string, port?: integer}  a record (port may be absent)
//	{[string]: T}                   a map
//	fun(srv: Server, fd: integer): any   a function
//
// bytes is binary data: a Lua string, a JS Buffer (where the script passes
// it, a string or a Uint8Array). Args is a parameter list ("fd: integer,
// code?: integer, ...: any"); Returns is a list of types, all of them Lua's
// results and the first one JS's result ("integer, integer"); "" returns
// nothing. "async T" is a call made through Call.Async: JS gets a
// Promise<T>; Lua gets T (the handler suspends) or nil and the error, or
// passes a trailing callback fn(result, err).

// Method is a Function with its description. Type.Define and Funcs take
// them, so the description sits beside the function it describes.
type Method struct {
	Fn      Function
	Args    string // "fd: integer, data: string|bytes"
	Returns string // "boolean, string?"
	Doc     string // one line
}

// Sig is a Method without its function.
type Sig struct {
	Args, Returns, Doc string
}

// Field describes a property of an object, a member of a module or a
// field of a record: its type in the notation above and a one-line doc.
type Field struct {
	Type string
	Doc  string
}

// Event describes an event of an object's on(name, handler): the
// handler's parameters (Args) and what it returns.
type Event struct {
	Name    string
	Args    string
	Returns string
	Doc     string
}

// Record is a named table shape (a settings table, a result), for
// arguments and results that the notation would spell out too long.
type Record struct {
	Name   string
	Doc    string
	Fields map[string]Field // a name ending in "?" is optional
}

// API describes a module (or the imscript module's own members) for
// editors.
type API struct {
	Doc string
	// Call, when set, describes a module that is a function itself
	// (imscript.limit(name, opts)); Call.Fn is left nil.
	Call *Method
	// Funcs are the module's functions (Funcs(api.Funcs) builds them).
	Funcs map[string]Method
	// Fields are its other members.
	Fields map[string]Field
	// Types are the object types its functions hand out; Records the
	// named table shapes its descriptions use.
	Types   []*Type
	Records []Record
}

// Funcs returns a map holding the functions of ms, for a module's exports.
func Funcs(ms map[string]Method) Map {
	m := make(Map, len(ms))
	for name, d := range ms {
		m[name] = d.Fn
	}
	return m
}

// Define sets the type's methods and their descriptions from ms.
func (t *Type) Define(ms map[string]Method) {
	t.Methods = make(map[string]Function, len(ms))
	t.Sigs = make(map[string]Sig, len(ms))
	for name, d := range ms {
		t.Methods[name] = d.Fn
		t.Sigs[name] = Sig{Args: d.Args, Returns: d.Returns, Doc: d.Doc}
	}
}

// Class is the type's name in editor declarations: Name in CamelCase
// ("sql.db" → "SqlDb", "http_request" → "HttpRequest").
func (t *Type) Class() string {
	out := make([]byte, 0, len(t.Name))
	up := true
	for i := 0; i < len(t.Name); i++ {
		ch := t.Name[i]
		if ch == '.' || ch == '_' {
			up = true
			continue
		}
		if up && ch >= 'a' && ch <= 'z' {
			ch -= 'a' - 'A'
		}
		up = false
		out = append(out, ch)
	}
	return string(out)
}
