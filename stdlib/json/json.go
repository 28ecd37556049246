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
	return script.Map{
		"encode":      script.Function(encode),
		"decode":      script.Function(decode),
		"empty_array": EmptyArray,
	}
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
