package host

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"unicode/utf8"

	"github.com/imscript/imscript/script"
)

// JSON for req:json() and res:json(), with imscript.json's mapping
// (stdlib/json, which the host may not import): numbers are floats, null
// is nil, an integral float below 1e15 encodes as an integer, bytes encode
// as a string, an empty table as {} and imscript.json.empty_array as [].

const jsonContentType = "application/json; charset=utf-8"

// jsonMaxDepth is how deep a value may nest: as deep as one may cross into
// a VM.
const jsonMaxDepth = 100

// decodeJSONBody decodes a request body: exactly one JSON value,
// whitespace around it allowed.
func decodeJSONBody(b []byte) (script.Value, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	var v any
	if err := dec.Decode(&v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty body")
		}
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data after the JSON value")
	}
	return jsonToValue(v, 0)
}

func jsonToValue(v any, depth int) (script.Value, error) {
	if depth > jsonMaxDepth {
		return nil, fmt.Errorf("nested deeper than %d levels", jsonMaxDepth)
	}
	switch x := v.(type) {
	case []any:
		l := make(script.List, len(x))
		for i, e := range x {
			ev, err := jsonToValue(e, depth+1)
			if err != nil {
				return nil, err
			}
			l[i] = ev
		}
		return l, nil
	case map[string]any:
		m := make(script.Map, len(x))
		for k, e := range x {
			ev, err := jsonToValue(e, depth+1)
			if err != nil {
				return nil, err
			}
			m[k] = ev
		}
		return m, nil
	}
	return v, nil // nil, bool, float64, string
}

// encodeJSON encodes a script value for res:json().
func encodeJSON(v script.Value) ([]byte, error) {
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

func jsonPlain(v script.Value, depth int) (any, error) {
	if depth > jsonMaxDepth {
		return nil, fmt.Errorf("value nested deeper than %d levels", jsonMaxDepth)
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
	case script.List:
		out := make([]any, len(x))
		for i, e := range x {
			p, err := jsonPlain(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = p
		}
		return out, nil
	case script.Map:
		out := make(map[string]any, len(x))
		for k, e := range x {
			p, err := jsonPlain(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = p
		}
		return out, nil
	case *script.Object:
		switch {
		case x == script.Null:
			return nil, nil
		case x.Type != nil && x.Type.Name == "json.empty_array": // imscript.json.empty_array
			return []any{}, nil
		}
	}
	return nil, fmt.Errorf("cannot encode a %s", script.TypeName(v))
}
