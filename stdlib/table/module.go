package table

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"

	"github.com/imscript/imscript/script"
)

// Modules are imscript.table and imscript.atomic.
func Modules() []script.Module {
	return []script.Module{
		{Name: "table", Build: func(inst script.Instance) script.Value {
			return script.Function(shared(inst).declareTable)
		}, API: &script.API{
			Doc: "Tables shared by every worker (rows of typed columns), surviving reloads.",
			Call: &script.Method{Args: "name: string, options?: {size?: integer, max_size?: integer, columns?: {[string]: string|(string|integer)[]}}", Returns: "Table",
				Doc: `Declares a table (columns: "int", "float" or "string" / {"string", maxlen}); an existing name returns the same table.`},
			Types: []*script.Type{tableType},
		}},
		{Name: "atomic", Build: func(inst script.Instance) script.Value {
			return script.Function(shared(inst).declareAtomic)
		}, API: &script.API{
			Doc:   "Integers shared by every worker, surviving reloads.",
			Call:  &script.Method{Args: "name: string, initial?: integer", Returns: "Atomic", Doc: "Declares an atomic integer; an existing name returns it unchanged."},
			Types: []*script.Type{atomicType},
		}},
	}
}

// Sharer is where a host keeps state shared by its workers: a host or any
// of its script instances.
type Sharer interface {
	Shared(key string, init func() any) any
}

// Defaults for imscript.table options.
const (
	DefaultSize = 1024
	// MaxSizeFactor × size is max_size when it is not given.
	MaxSizeFactor = 16
)

// registry holds a host's tables and atomics by name. It lives in
// Host.Shared, so every worker sees the same one and reloads keep it.
type registry struct {
	mu      sync.Mutex
	tables  map[string]*script.Object
	atomics map[string]*script.Object
}

const sharedKey = "imscript/stdlib/table"

func shared(h Sharer) *registry {
	return h.Shared(sharedKey, func() any {
		return &registry{
			tables:  map[string]*script.Object{},
			atomics: map[string]*script.Object{},
		}
	}).(*registry)
}

// Lookup returns the table h's scripts declared under name, or nil.
func Lookup(h Sharer, name string) *Table {
	r := shared(h)
	r.mu.Lock()
	defer r.mu.Unlock()
	if o := r.tables[name]; o != nil {
		return o.Data.(*Table)
	}
	return nil
}

// LookupAtomic returns the atomic h's scripts declared under name, or nil.
func LookupAtomic(h Sharer, name string) *Atomic {
	r := shared(h)
	r.mu.Lock()
	defer r.mu.Unlock()
	if o := r.atomics[name]; o != nil {
		return o.Data.(*Atomic)
	}
	return nil
}

func init() {
	tableType.Define(map[string]script.Method{
		"set":    {Fn: tableSet, Args: "key: string|integer, row: table", Returns: "boolean, string?", Doc: "Stores a row (missing columns are zero)."},
		"get":    {Fn: tableGet, Args: "key: string|integer, field?: string|table", Returns: "any", Doc: "The row (a new table, or written into the table given), or one field of it; nil when missing."},
		"incr":   {Fn: func(c script.Call) { tableIncr(c, "incr", 1) }, Args: "key: string|integer, field: string, by?: number", Returns: "number|false, string?", Doc: "Adds to a number column; returns the new value."},
		"decr":   {Fn: func(c script.Call) { tableIncr(c, "decr", -1) }, Args: "key: string|integer, field: string, by?: number", Returns: "number|false, string?", Doc: "Subtracts from a number column; returns the new value."},
		"del":    {Fn: func(c script.Call) { c.ReturnBool(self(c).Del(key(c))) }, Args: "key: string|integer", Returns: "boolean", Doc: "Deletes a row; false when there was none."},
		"exists": {Fn: func(c script.Call) { c.ReturnBool(self(c).Exists(key(c))) }, Args: "key: string|integer", Returns: "boolean", Doc: "Whether the row exists."},
		"count":  {Fn: func(c script.Call) { c.ReturnInt(self(c).count.Load()) }, Returns: "integer", Doc: "The number of rows."},
		"clear":  {Fn: func(c script.Call) { self(c).Clear() }, Doc: "Deletes every row."},
	})
}

// declareTable is imscript.table(name [, options]).
func (r *registry) declareTable(c script.Call) {
	name := c.Str(0, "name")
	if name == "" {
		script.Usagef("imscript.table: the name is empty")
	}
	opts := c.OptTable(1, "options")
	r.mu.Lock()
	defer r.mu.Unlock()
	o := r.tables[name]
	if opts == nil {
		if o == nil {
			script.Usagef("imscript.table: no table %q; declare it with its columns first", name)
		}
		c.Return(o)
		return
	}
	var cols []Column
	size, maxSize := int64(DefaultSize), int64(0)
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := opts[k]
		var err error
		switch k {
		case "columns":
			cols, err = parseColumns(v)
		case "size":
			size, err = positive(k, v)
		case "max_size":
			maxSize, err = positive(k, v)
		default:
			err = fmt.Errorf("unknown option %q (want columns, size, max_size)", k)
		}
		if err != nil {
			script.Usagef("imscript.table %s: %v", name, err)
		}
	}
	if cols == nil {
		script.Usagef("imscript.table %s: no columns given, e.g. { columns = { count = \"int\" } }", name)
	}
	if maxSize != 0 && maxSize < size {
		script.Usagef("imscript.table %s: max_size %d is below size %d", name, maxSize, size)
	}
	if o != nil {
		t := o.Data.(*Table)
		if !sameColumns(t.cols, cols) {
			script.Usagef("imscript.table %s: already declared with other columns: %s, not %s",
				name, describeColumns(t.cols), describeColumns(cols))
		}
		if maxSize != 0 && int(maxSize) != t.MaxSize() {
			t.SetMaxSize(int(maxSize))
		}
		c.Return(o)
		return
	}
	if maxSize == 0 {
		maxSize = size * MaxSizeFactor
	}
	t := New(name, cols, int(size), int(maxSize))
	o = &script.Object{Type: tableType, Data: t}
	r.tables[name] = o
	c.Return(o)
}

func positive(name string, v script.Value) (int64, error) {
	n, ok := wholeNumber(v)
	if !ok || n < 1 || n > math.MaxInt32 {
		return 0, fmt.Errorf("%s must be a whole number from 1 to %d, got %v", name, math.MaxInt32, v)
	}
	return n, nil
}

var tableType = &script.Type{
	Name: "table",
	Doc:  "A table shared by every worker: rows by key.",
	Iter: func(o *script.Object) func() (script.Value, script.Value, bool) {
		next := o.Data.(*Table).Iter()
		return func() (script.Value, script.Value, bool) {
			k, row, ok := next()
			if !ok {
				return nil, nil, false
			}
			return k, row, true
		}
	},
}

func self(c script.Call) *Table { return c.Self().Data.(*Table) }

// key reads argument 0, the row key.
func key(c script.Call) string {
	k := c.Str(0, "key")
	if len(k) > MaxKeyLen || k == "" {
		script.Usagef("table key must be 1 to %d bytes, got %d", MaxKeyLen, len(k))
	}
	return k
}

// column reads argument i, a column name.
func column(c script.Call, t *Table, i int) int {
	name := c.Str(i, "field")
	col, ok := t.Column(name)
	if !ok {
		script.Usagef("table %s has no column %q (columns: %s)", t.name, name, describeColumns(t.cols))
	}
	return col
}

// fail reports a full table as a routine failure (false, and the reason in
// Lua), logged once per table (again after its max_size changed). Other
// errors are misuse.
func fail(c script.Call, t *Table, err error) {
	var fe *FullError
	if errors.As(err, &fe) {
		if !t.warned.Swap(true) {
			c.Instance().Logger().Warn("table full", "table", t.name, "max_size", fe.MaxSize)
		}
		c.Fail(err.Error())
		return
	}
	script.Usagef("%v", err)
}

func tableSet(c script.Call) {
	t := self(c)
	k := key(c)
	if rc, ok := c.(script.RowCall); ok {
		setRow(c, rc, t, k)
		return
	}
	vals := make([]script.Value, len(t.cols))
	c.Fields(1, "row", t.names, vals)
	if err := t.SetValues(k, vals); err != nil {
		fail(c, t, err)
		return
	}
	c.ReturnBool(true)
}

func tableGet(c script.Call) {
	t := self(c)
	k := key(c)
	rc, fast := c.(script.RowCall)
	if fast && rc.IsTable(1) {
		getRow(c, rc, t, k, 1)
		return
	}
	if c.OptStr(1, "field", "") == "" {
		if fast {
			getRow(c, rc, t, k, -1)
			return
		}
		vals := make([]script.Value, len(t.cols))
		if t.GetValues(k, vals) {
			c.ReturnFields(t.names, vals)
		} else {
			c.Return(nil)
		}
		return
	}
	col := column(c, t, 1)
	cl, ok := t.getCell(k, col)
	if !ok {
		c.Return(nil)
		return
	}
	switch t.cols[col].Kind {
	case Int:
		c.ReturnInt(int64(cl.n))
	case Float:
		c.ReturnFloat(math.Float64frombits(cl.n))
	default:
		c.ReturnStr(cl.str())
	}
}

func tableIncr(c script.Call, op string, sign int64) {
	t := self(c)
	k := key(c)
	col := column(c, t, 1)
	switch t.cols[col].Kind {
	case Int:
		by := optWhole(c, 2, "by", 1)
		n, err := t.IncrInt(k, col, sign*by)
		if err != nil {
			fail(c, t, err)
			return
		}
		c.ReturnInt(n)
	case Float:
		by := c.OptFloat(2, "by", 1)
		f, err := t.IncrFloat(k, col, float64(sign)*by)
		if err != nil {
			fail(c, t, err)
			return
		}
		c.ReturnFloat(f)
	default:
		script.Usagef("table %s: %s needs an int or float column; %s is a string column", t.name, op, t.cols[col].Name)
	}
}

// whole reads argument i, a whole number.
func whole(c script.Call, i int, name string) int64 {
	f := c.Float(i, name)
	if f != math.Trunc(f) || f >= 1<<63 || f < -(1<<63) {
		script.Usagef("argument %d (%s) must be a whole number, got %v", i+1, name, f)
	}
	return int64(f)
}

// optWhole is whole, or def when the argument is absent or nil.
func optWhole(c script.Call, i int, name string, def int64) int64 {
	if i >= c.NArgs() {
		return def
	}
	f := c.OptFloat(i, name, math.NaN())
	if math.IsNaN(f) {
		return def
	}
	if f != math.Trunc(f) || f >= 1<<63 || f < -(1<<63) {
		script.Usagef("argument %d (%s) must be a whole number, got %v", i+1, name, f)
	}
	return int64(f)
}
