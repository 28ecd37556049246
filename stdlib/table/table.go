// Package table is imscript.table and imscript.atomic: typed tables and
// int64 counters shared by every worker and task worker of a host, kept
// across reloads. A table's rows live in a concurrent hash map
// (xsync.Map) whose lookups take no lock and write nothing shared, and
// each row has its own lock; inserts and deletes lock one bucket of the
// map. Workers touching different keys never wait for each other, and no
// operation locks the whole table.
package table

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/puzpuzpuz/xsync/v4"

	"github.com/imscript/imscript/script"
)

// cell holds one column of one row: a number's bits, or a string column's
// value boxed once when it is written (so reading it allocates nothing);
// nil stands for "".
type cell struct {
	n uint64
	v any
}

// str is a string column's value.
func (c cell) str() string {
	s, _ := c.v.(string)
	return s
}

// row is one row: its lock and its cells, one per column. A row removed
// from the table is marked dead under its lock, so an operation that found
// it just before looks the key up again.
type row struct {
	// key holds the bytes of a key of up to 32 bytes, and the map's key
	// string points into it: a lookup that compares the key has already
	// brought the row's first cache line in.
	key   [32]byte
	mu    sync.Mutex
	dead  bool
	cells []cell
	// inline holds the cells of a row of up to 4 columns, so that the
	// row is one allocation, its lines next to each other.
	inline [4]cell
}

// newRow makes a zeroed row of n cells for key, and returns the table's
// own copy of the key (a script's string may share memory with a bigger
// one, a network read): in the row when it fits.
func newRow(key string, n int) (*row, string) {
	r := &row{}
	if n <= len(r.inline) {
		r.cells = r.inline[:n:n]
	} else {
		r.cells = make([]cell, n)
	}
	if len(key) > len(r.key) {
		return r, strings.Clone(key)
	}
	copy(r.key[:], key)
	return r, unsafe.String(&r.key[0], len(key))
}

// Table is a typed, sharded hash table safe for concurrent use.
type Table struct {
	name    string
	cols    []Column
	names   []string       // the columns' names, in order
	byName  map[string]int // used when there are many columns
	size    int
	maxSize atomic.Int64
	count   atomic.Int64
	warned  atomic.Bool // the table was reported full

	rows *xsync.Map[string, *row]
}

// FullError is returned when a new row would take a table past its
// max_size.
type FullError struct {
	Table   string
	MaxSize int64
}

func (e *FullError) Error() string {
	return fmt.Sprintf("table %s is full: %d rows is its max_size", e.Table, e.MaxSize)
}

// FieldError is returned for a row value that does not fit its column (a
// wrong type, a string over the column's size).
type FieldError struct{ Msg string }

func (e *FieldError) Error() string { return e.Msg }

func fieldErrorf(format string, args ...any) error {
	return &FieldError{Msg: fmt.Sprintf(format, args...)}
}

// New creates a table with the given columns (see Column), room for size
// rows up front and a limit of maxSize rows.
func New(name string, cols []Column, size, maxSize int) *Table {
	if size < 1 {
		size = 1
	}
	if maxSize < size {
		maxSize = size
	}
	t := &Table{
		name:  name,
		cols:  append([]Column(nil), cols...),
		names: make([]string, len(cols)),
		size:  size,
		rows:  xsync.NewMap[string, *row](xsync.WithPresize(size)),
	}
	for i, c := range cols {
		t.names[i] = c.Name
	}
	if len(cols) > 8 {
		t.byName = make(map[string]int, len(cols))
		for i, c := range cols {
			t.byName[c.Name] = i
		}
	}
	t.maxSize.Store(int64(maxSize))
	return t
}

// Name is the table's name.
func (t *Table) Name() string { return t.name }

// Columns are the table's columns, in the order given to New (a script's
// are sorted by name).
func (t *Table) Columns() []Column { return append([]Column(nil), t.cols...) }

// Size is the number of rows the table was declared for.
func (t *Table) Size() int { return t.size }

// MaxSize is the most rows the table holds.
func (t *Table) MaxSize() int { return int(t.maxSize.Load()) }

// SetMaxSize changes the row limit. Rows already there stay, even past it.
func (t *Table) SetMaxSize(n int) {
	t.maxSize.Store(int64(n))
	t.warned.Store(false)
}

// Count is the number of rows.
func (t *Table) Count() int { return int(t.count.Load()) }

// Column returns the index of the named column.
func (t *Table) Column(name string) (int, bool) {
	if t.byName != nil {
		i, ok := t.byName[name]
		return i, ok
	}
	for i := range t.cols {
		if t.cols[i].Name == name {
			return i, true
		}
	}
	return 0, false
}

// reserve counts a new row, or says the table is full.
func (t *Table) reserve() error {
	if t.count.Add(1) > t.maxSize.Load() {
		t.count.Add(-1)
		return &FullError{Table: t.name, MaxSize: t.maxSize.Load()}
	}
	return nil
}

// lockRow finds the row under key and locks it; with create, a missing
// row is added (zeroed), else it returns nil. The caller unlocks.
func (t *Table) lockRow(key string, create bool) (*row, error) {
	for {
		r, ok := t.rows.Load(key)
		if !ok {
			if !create {
				return nil, nil
			}
			var err error
			nr, own := newRow(key, len(t.cols))
			r, _ = t.rows.LoadOrCompute(own, func() (*row, bool) {
				if err = t.reserve(); err != nil {
					return nil, true
				}
				return nr, false
			})
			if err != nil {
				return nil, err // LoadOrCompute cancels only with err set
			}
		}
		r.mu.Lock()
		if !r.dead {
			return r, nil
		}
		r.mu.Unlock()
	}
}

// IncrInt adds by to int column col of the row under key, creating the row
// (zeroed) when it is missing, and returns the new value. Overflow wraps.
func (t *Table) IncrInt(key string, col int, by int64) (int64, error) {
	r, err := t.lockRow(key, true)
	if err != nil {
		return 0, err
	}
	n := int64(r.cells[col].n) + by
	r.cells[col].n = uint64(n)
	r.mu.Unlock()
	return n, nil
}

// IncrFloat adds by to float column col of the row under key, creating the
// row when it is missing, and returns the new value.
func (t *Table) IncrFloat(key string, col int, by float64) (float64, error) {
	r, err := t.lockRow(key, true)
	if err != nil {
		return 0, err
	}
	f := math.Float64frombits(r.cells[col].n) + by
	r.cells[col].n = math.Float64bits(f)
	r.mu.Unlock()
	return f, nil
}

// update is one column's new value in a Set.
type update struct {
	col int
	n   uint64
	s   string
}

// Set writes the given columns of the row under key, creating the row when
// it is missing; columns not given keep their values (0 and "" in a new
// row). Keys that are not columns are ignored (as Swoole does); a nil value
// leaves its column alone. Every value is checked before anything is
// written: an error (*FieldError, *FullError) changes nothing.
func (t *Table) Set(key string, row script.Map) error {
	vals := make([]script.Value, len(t.cols))
	for i := range t.cols {
		vals[i] = row[t.cols[i].Name]
	}
	return t.SetValues(key, vals)
}

// SetValues is Set with the values in column order (nil: not given).
func (t *Table) SetValues(key string, vals []script.Value) error {
	var buf [8]update
	ups := buf[:0]
	for i, v := range vals {
		if v == nil {
			continue
		}
		u, err := t.convert(i, v)
		if err != nil {
			return err
		}
		ups = append(ups, u)
	}
	return t.write(key, ups)
}

// write applies checked updates to the row under key, creating it when
// it is missing.
func (t *Table) write(key string, ups []update) error {
	r, err := t.lockRow(key, true)
	if err != nil {
		return err
	}
	for _, u := range ups {
		c := &r.cells[u.col]
		if t.cols[u.col].Kind != String {
			c.n = u.n
		} else if old, ok := c.v.(string); !ok || old != u.s {
			// A script string may share memory with a bigger one (a
			// network read): the table keeps a copy of its own. An
			// unchanged value is not copied again.
			c.v = strings.Clone(u.s)
		}
	}
	r.mu.Unlock()
	return nil
}

// convert checks a script value for column i.
func (t *Table) convert(i int, v script.Value) (update, error) {
	col := &t.cols[i]
	switch col.Kind {
	case Int:
		n, ok := wholeNumber(v)
		if !ok {
			if _, isNum := v.(float64); isNum {
				return update{}, fieldErrorf("table %s: column %s is int, got %v (not a whole number)", t.name, col.Name, v)
			}
			return update{}, fieldErrorf("table %s: column %s is int, got %s", t.name, col.Name, script.TypeName(v))
		}
		return update{col: i, n: uint64(n)}, nil
	case Float:
		switch x := v.(type) {
		case float64:
			return update{col: i, n: math.Float64bits(x)}, nil
		case int64:
			return update{col: i, n: math.Float64bits(float64(x))}, nil
		case int:
			return update{col: i, n: math.Float64bits(float64(x))}, nil
		}
		return update{}, fieldErrorf("table %s: column %s is float, got %s", t.name, col.Name, script.TypeName(v))
	default:
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case []byte:
			// Only read before Set returns; copied when stored.
			s = unsafe.String(unsafe.SliceData(x), len(x))
		default:
			return update{}, fieldErrorf("table %s: column %s is string, got %s", t.name, col.Name, script.TypeName(v))
		}
		if len(s) > col.Size {
			return update{}, fieldErrorf("table %s: column %s holds at most %d bytes, got %d", t.name, col.Name, col.Size, len(s))
		}
		return update{col: i, s: s}, nil
	}
}

// value renders column i of a cell as a script value.
func (t *Table) value(i int, c cell) script.Value {
	switch t.cols[i].Kind {
	case Int:
		return int64(c.n)
	case Float:
		return math.Float64frombits(c.n)
	}
	if c.v == nil {
		return ""
	}
	return c.v
}

// rowMap renders a row as a map from column name to value.
func (t *Table) rowMap(r []cell) script.Map {
	m := make(script.Map, len(t.cols))
	for i, c := range r {
		m[t.cols[i].Name] = t.value(i, c)
	}
	return m
}

// Get returns the row under key, or nil when there is none.
func (t *Table) Get(key string) script.Map {
	vals := make([]script.Value, len(t.cols))
	if !t.GetValues(key, vals) {
		return nil
	}
	m := make(script.Map, len(t.cols))
	for i, v := range vals {
		m[t.cols[i].Name] = v
	}
	return m
}

// GetValues reads the row under key into vals, in column order, and says
// whether there was one.
func (t *Table) GetValues(key string, vals []script.Value) bool {
	var buf [8]cell
	r, _ := t.lockRow(key, false)
	if r == nil {
		return false
	}
	cp := append(buf[:0], r.cells...)
	r.mu.Unlock()
	for i, c := range cp {
		vals[i] = t.value(i, c)
	}
	return true
}

// getCell reads column col of the row under key; ok is false when there
// is no such row.
func (t *Table) getCell(key string, col int) (c cell, ok bool) {
	r, _ := t.lockRow(key, false)
	if r == nil {
		return cell{}, false
	}
	c = r.cells[col]
	r.mu.Unlock()
	return c, true
}

// GetField returns column col of the row under key, or nil when there is
// no such row.
func (t *Table) GetField(key string, col int) script.Value {
	c, ok := t.getCell(key, col)
	if !ok {
		return nil
	}
	return t.value(col, c)
}

// Exists says whether a row is stored under key.
func (t *Table) Exists(key string) bool {
	_, ok := t.rows.Load(key)
	return ok
}

// Del removes the row under key and says whether there was one.
func (t *Table) Del(key string) bool {
	r, ok := t.rows.LoadAndDelete(key)
	if !ok {
		return false
	}
	r.mu.Lock()
	r.dead = true
	r.mu.Unlock()
	t.count.Add(-1)
	return true
}

// Clear removes every row.
func (t *Table) Clear() {
	for k := range t.rows.All() {
		t.Del(k)
	}
}

// Iter starts an iteration over the rows: the keys are listed first, and
// each row is copied under its lock when it is reached, so a row is seen
// whole, and rows added or removed meanwhile may or may not be seen.
// Order is unspecified.
func (t *Table) Iter() func() (key string, row script.Map, ok bool) {
	type entry struct {
		key string
		r   *row
	}
	var rows []entry
	for k, r := range t.rows.All() {
		rows = append(rows, entry{k, r})
	}
	var buf []cell
	return func() (string, script.Map, bool) {
		for len(rows) > 0 {
			e := rows[0]
			rows = rows[1:]
			e.r.mu.Lock()
			dead := e.r.dead
			buf = append(buf[:0], e.r.cells...)
			e.r.mu.Unlock()
			if !dead {
				return e.key, t.rowMap(buf), true
			}
		}
		return "", nil, false
	}
}
