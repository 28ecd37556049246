package host

import (
	"errors"
	"io"

	"github.com/imscript/imscript/script"
)

// JSON for req:json() and res:json(), with imscript.json's mapping
// (script/json.go).

const jsonContentType = "application/json; charset=utf-8"

// decodeJSONBody decodes a request body: exactly one JSON value,
// whitespace around it allowed.
func decodeJSONBody(b []byte) (script.Value, error) {
	v, err := script.UnmarshalJSON(b)
	if errors.Is(err, io.EOF) {
		return nil, errors.New("empty body")
	}
	return v, err
}

// encodeJSON encodes a script value for res:json().
func encodeJSON(v script.Value) ([]byte, error) { return script.MarshalJSON(v) }
