// Package json is imscript.json: encode and decode JSON from scripts in
// both languages, over neutral host values.
package json

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/imscript/imscript/script"
)

// EmptyArray is imscript.json.empty_array: it encodes as [] (an empty Lua
// table encodes as {}).
var EmptyArray = &script.Object{Type: &script.Type{Name: "json.empty_array"}}

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
func Marshal(v script.Value) ([]byte, error) {
	plain, err := toPlain(v, 0)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(plain); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

func toPlain(v script.Value, depth int) (any, error) {
	if depth > 100 {
		return nil, fmt.Errorf("value nested deeper than 100 levels")
	}
	switch x := v.(type) {
	case nil, bool, string, int64:
		return x, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("cannot encode %v", x)
		}
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return int64(x), nil
		}
		return x, nil
	case []byte:
		if utf8.Valid(x) {
			return string(x), nil
		}
		return string(bytes.ToValidUTF8(x, []byte("\uFFFD"))), nil
	case script.List:
		out := make([]any, len(x))
		for i, e := range x {
			p, err := toPlain(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = p
		}
		return out, nil
	case *script.Object:
		if x == EmptyArray {
			return []any{}, nil
		}
	case script.Map:
		out := make(map[string]any, len(x))
		for k, e := range x {
			p, err := toPlain(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = p
		}
		return out, nil
	}
	return nil, fmt.Errorf("cannot encode a %s", script.TypeName(v))
}

// Unmarshal decodes JSON into neutral values (numbers are float64).
func Unmarshal(b []byte) (script.Value, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data after JSON value")
	}
	return fromPlain(v), nil
}

func fromPlain(v any) script.Value {
	switch x := v.(type) {
	case []any:
		l := make(script.List, len(x))
		for i, e := range x {
			l[i] = fromPlain(e)
		}
		return l
	case map[string]any:
		m := make(script.Map, len(x))
		for k, e := range x {
			m[k] = fromPlain(e)
		}
		return m
	}
	return v
}
