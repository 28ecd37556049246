package script

// Type describes a kind of host object exposed to scripts: its methods and
// read-only properties. Bindings build one metatable / prototype per Type.
type Type struct {
	Name    string
	Methods map[string]Function
	// Props are read-only fields computed on access (srv.port, p.pid).
	Props map[string]func(o *Object) Value
	// Transient objects (an HTTP response) are not kept in the bindings'
	// identity tables: each crossing makes a new script value, and the
	// value is collected with the script's last reference.
	Transient bool
	// Iter, when set, makes the objects iterable: Lua gets a pairs()
	// method (`for k, v in obj:pairs() do`), JS objects are iterable
	// (`for (const [k, v] of obj)`). Iter starts one iteration; each call
	// of next yields the next entry, and ok = false once there are no more.
	// next is called on the script's worker only.
	Iter func(o *Object) (next func() (key, value Value, ok bool))

	// The description for editors (api.go): a one-line Doc, the Sig of
	// each method (Define sets Methods and Sigs together), the type of
	// each field (every Prop, and the fields of a plain table), and the
	// events its on(name, handler) takes.
	Doc    string
	Sigs   map[string]Sig
	Fields map[string]Field
	Events []Event
}

// Object is a host object handed to scripts. Each binding maps one *Object to
// one script value per VM, so identity is kept (the srv given to a handler is
// the srv the script declared).
type Object struct {
	Type *Type
	Data any
}

// Callback is a script function bound to the instance (VM) that created it.
// It may only be invoked on that instance's worker, through Instance.Call.
type Callback interface {
	// Instance is the script instance that owns the function.
	Instance() Instance
}

// Null is the value of a SQL NULL, a JSON null or a nil Redis reply where a
// key must stay in its table: Lua sees one userdata per VM (imscript.sql.null,
// printed "null"), JS sees null.
var Null = &Object{Type: &Type{Name: "null"}}
