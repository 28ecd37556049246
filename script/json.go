package script

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"unicode/utf8"
)

// JSON with imscript.json's mapping, shared by the module and the host
// (req:json(), res:json(), a table published to a room): numbers decode
// as floats, null as nil; an integral float below 1e15 encodes as an
// integer, binary data as a string (invalid UTF-8 replaced), an empty table
// as {} and JSONEmptyArray as []. Functions and other objects are errors.

// JSONEmptyArray is imscript.json.empty_array: it encodes as [] (an empty
// Lua table encodes as {}).
var JSONEmptyArray = &Object{Type: &Type{Name: "json.empty_array"}}

// JSONMaxDepth is how deep a value may nest: as deep as one may cross into
// a VM.
const JSONMaxDepth = 100

// MarshalJSON encodes a neutral value, without HTML escaping.
func MarshalJSON(v Value) ([]byte, error) {
	plain, err := jsonPlain(v, 0)
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

// UnmarshalJSON decodes exactly one JSON value (whitespace around it
// allowed) into neutral values. Empty input is io.EOF.
func UnmarshalJSON(b []byte) (Value, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data after the JSON value")
	}
	return jsonValue(v, 0)
}

func jsonValue(v any, depth int) (Value, error) {
	if depth > JSONMaxDepth {
		return nil, fmt.Errorf("nested deeper than %d levels", JSONMaxDepth)
	}
	switch x := v.(type) {
	case []any:
		l := make(List, len(x))
		for i, e := range x {
			ev, err := jsonValue(e, depth+1)
			if err != nil {
				return nil, err
			}
			l[i] = ev
		}
		return l, nil
	case map[string]any:
		m := make(Map, len(x))
		for k, e := range x {
			ev, err := jsonValue(e, depth+1)
			if err != nil {
				return nil, err
			}
			m[k] = ev
		}
		return m, nil
	}
	return v, nil // nil, bool, float64, string
}

func jsonPlain(v Value, depth int) (any, error) {
	if depth > JSONMaxDepth {
		return nil, fmt.Errorf("value nested deeper than %d levels", JSONMaxDepth)
	}
	switch x := v.(type) {
	case nil, bool, string, int64:
		return x, nil
	case int:
		return int64(x), nil
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
	case List:
		out := make([]any, len(x))
		for i, e := range x {
			p, err := jsonPlain(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = p
		}
		return out, nil
	case Map:
		out := make(map[string]any, len(x))
		for k, e := range x {
			p, err := jsonPlain(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = p
		}
		return out, nil
	case *Object:
		switch {
		case x == Null:
			return nil, nil
		case x == JSONEmptyArray:
			return []any{}, nil
		}
	}
	return nil, fmt.Errorf("cannot encode a %s", TypeName(v))
}
