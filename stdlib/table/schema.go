package table

import (
	"fmt"
	"sort"
	"strings"

	"github.com/imscript/imscript/script"
)

// Kind is a column's type.
type Kind uint8

// Column kinds.
const (
	Int    Kind = iota + 1 // int64
	Float                  // float64
	String                 // bytes, at most Column.Size of them
)

func (k Kind) String() string {
	switch k {
	case Int:
		return "int"
	case Float:
		return "float"
	case String:
		return "string"
	}
	return "?"
}

// DefaultStringSize is how many bytes a string column declared without a
// size holds.
const DefaultStringSize = 64 << 10

// Limits on declarations.
const (
	maxColumns = 256
	// MaxKeyLen is the longest key, in bytes.
	MaxKeyLen = 1024
)

// Column is one typed column of a table.
type Column struct {
	Name string
	Kind Kind
	// Size is the most bytes a String column holds (0 for numbers).
	Size int
}

func (c Column) String() string {
	if c.Kind == String {
		return fmt.Sprintf("%s=%s(%d)", c.Name, c.Kind, c.Size)
	}
	return c.Name + "=" + c.Kind.String()
}

// parseColumns reads the columns option: a map from column name to its
// type, written "int", "float", "string", { "string", 64 } (Swoole's
// shape) or { type = "string", size = 64 }. Columns come back sorted by
// name.
func parseColumns(v script.Value) ([]Column, error) {
	m, ok := v.(script.Map)
	if !ok {
		if l, isList := v.(script.List); isList && len(l) == 0 {
			m = script.Map{} // an empty Lua table
		} else {
			return nil, fmt.Errorf("columns must be a table of name = type, got %s", script.TypeName(v))
		}
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("columns is empty: give at least one column, e.g. { count = \"int\" }")
	}
	if len(m) > maxColumns {
		return nil, fmt.Errorf("%d columns; at most %d", len(m), maxColumns)
	}
	cols := make([]Column, 0, len(m))
	for name, spec := range m {
		if name == "" {
			return nil, fmt.Errorf("a column name is empty")
		}
		c, err := parseColumn(name, spec)
		if err != nil {
			return nil, err
		}
		cols = append(cols, c)
	}
	sort.Slice(cols, func(i, j int) bool { return cols[i].Name < cols[j].Name })
	return cols, nil
}

func parseColumn(name string, spec script.Value) (Column, error) {
	var typ script.Value
	var size script.Value
	switch s := spec.(type) {
	case string:
		typ = s
	case script.List:
		if len(s) == 0 || len(s) > 2 {
			return Column{}, fmt.Errorf("column %s: want \"type\" or { \"type\", size }", name)
		}
		typ = s[0]
		if len(s) == 2 {
			size = s[1]
		}
	case script.Map:
		for k := range s {
			if k != "type" && k != "size" {
				return Column{}, fmt.Errorf("column %s: unknown field %q (want type, size)", name, k)
			}
		}
		typ, size = s["type"], s["size"]
	default:
		return Column{}, fmt.Errorf("column %s: want \"int\", \"float\" or \"string\", got %s", name, script.TypeName(spec))
	}
	ts, ok := typ.(string)
	if !ok {
		return Column{}, fmt.Errorf("column %s: the type must be a string, got %s", name, script.TypeName(typ))
	}
	c := Column{Name: name}
	switch strings.ToLower(ts) {
	case "int", "integer":
		c.Kind = Int
	case "float", "double", "number":
		c.Kind = Float
	case "string":
		c.Kind = String
		c.Size = DefaultStringSize
	default:
		return Column{}, fmt.Errorf("column %s: unknown type %q (want int, float or string)", name, ts)
	}
	if size != nil {
		n, ok := wholeNumber(size)
		if !ok || n < 1 || n > 1<<30 {
			return Column{}, fmt.Errorf("column %s: size must be a whole number from 1 to %d", name, 1<<30)
		}
		if c.Kind == String {
			c.Size = int(n)
		}
		// Numbers are always 8 bytes; Swoole's { "int", 4 } is accepted.
	}
	return c, nil
}

// wholeNumber reads an integral number.
func wholeNumber(v script.Value) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int:
		return int64(x), true
	case float64:
		if x != float64(int64(x)) || x >= 1<<63 || x < -(1<<63) {
			return 0, false
		}
		return int64(x), true
	}
	return 0, false
}

func sameColumns(a, b []Column) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func describeColumns(cols []Column) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = c.String()
	}
	return "{ " + strings.Join(parts, ", ") + " }"
}
