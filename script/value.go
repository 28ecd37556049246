package script

import (
	"errors"
	"fmt"
	"strings"
)

// Value is a language-neutral script value. It holds one of:
// nil, bool, int64, float64, string, []byte (binary data), List, Map,
// *Object, Function (a Go function) or Callback (a script function).
type Value = any

// List is a neutral array (Lua sequence, JS Array).
type List = []Value

// Map is a neutral record (Lua table with string keys, JS object).
type Map = map[string]Value

// Results are several results of an asynchronous call, for Async's
// settle function only: a suspended Lua handler gets each as a value of
// its own (as from Return), a Lua callback gets them as its first
// arguments, a JS Promise resolves with the first.
type Results []Value

// TypeName names a neutral value's type for error messages.
func TypeName(v Value) string {
	switch v.(type) {
	case nil:
		return "nil"
	case bool:
		return "boolean"
	case int64, float64:
		return "number"
	case string:
		return "string"
	case []byte:
		return "bytes"
	case List:
		return "list"
	case Map:
		return "table"
	case *Object:
		return "object"
	case Function, Callback:
		return "function"
	}
	return strings.TrimPrefix(fmt.Sprintf("%T", v), "*")
}

// maxCopyDepth bounds the nesting of a value that crosses VMs.
const maxCopyDepth = 100

// Copy deep-copies a neutral value for another VM (a task, a message to or
// from a spawned script) and estimates its size in bytes. It refuses what
// cannot cross: functions, host objects, values nested deeper than 100
// levels.
func Copy(v Value) (Value, int, error) { return copyValue(v, 0) }

func copyValue(v Value, depth int) (Value, int, error) {
	if depth > maxCopyDepth {
		return nil, 0, errors.New("value nested deeper than 100 levels")
	}
	switch x := v.(type) {
	case nil, bool, int64, float64:
		return x, 16, nil
	case int:
		return int64(x), 16, nil
	case string:
		return x, 16 + len(x), nil
	case []byte:
		return append([]byte{}, x...), 32 + len(x), nil
	case List:
		out := make(List, len(x))
		size := 32
		for i, e := range x {
			cp, n, err := copyValue(e, depth+1)
			if err != nil {
				return nil, 0, err
			}
			out[i] = cp
			size += n
		}
		return out, size, nil
	case Map:
		out := make(Map, len(x))
		size := 64
		for k, e := range x {
			cp, n, err := copyValue(e, depth+1)
			if err != nil {
				return nil, 0, err
			}
			out[k] = cp
			size += n + 16 + len(k)
		}
		return out, size, nil
	}
	name := TypeName(v)
	article := "a"
	if strings.ContainsRune("aeiou", rune(name[0])) {
		article = "an"
	}
	return nil, 0, fmt.Errorf("%s %s cannot cross to another VM (nil, booleans, numbers, strings, bytes, lists and maps only)", article, name)
}
