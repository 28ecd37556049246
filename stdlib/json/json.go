// Package json is imscript.json: encode and decode JSON from scripts in
// both languages, over neutral host values.
package json

import (
	"github.com/imscript/imscript/script"
)

// EmptyArray is imscript.json.empty_array: it encodes as [] (an empty Lua
// table encodes as {}).
var EmptyArray = script.JSONEmptyArray

// Module builds imscript.json for one instance.
func Module(script.Instance) script.Value {
	m := script.Funcs(API.Funcs)
	m["empty_array"] = EmptyArray
	return m
}

// API describes imscript.json for editors.
var API = &script.API{
	Doc: "JSON encoding and decoding.",
	Funcs: map[string]script.Method{
		"encode": {Fn: encode, Args: "value: any", Returns: "string", Doc: "Encodes a value as JSON."},
		"decode": {Fn: decode, Args: "text: string|bytes", Returns: "any, string?", Doc: "Decodes JSON; false (and why) when it is not JSON."},
	},
	Fields: map[string]script.Field{
		"empty_array": {Type: "table", Doc: "Encodes as [] (an empty Lua table encodes as {})."},
	},
}

func encode(c script.Call) {
	v := c.Arg(0)
	b, err := Marshal(v)
	if err != nil {
		script.Usagef("json.encode: %v", err)
	}
	c.ReturnStr(string(b))
}

func decode(c script.Call) {
	s := c.Bytes(0, "text")
	v, err := Unmarshal(s)
	if err != nil {
		c.Fail("json.decode: " + err.Error())
		return
	}
	c.Return(v)
}

// Marshal encodes a neutral value. Binary data is encoded as a string
// (invalid UTF-8 replaced); functions and objects are errors.
func Marshal(v script.Value) ([]byte, error) { return script.MarshalJSON(v) }

// Unmarshal decodes JSON into neutral values (numbers are float64).
func Unmarshal(b []byte) (script.Value, error) {
	return script.UnmarshalJSON(b)
}
