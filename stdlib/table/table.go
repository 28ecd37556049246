// Package table is imscript.table and imscript.atomic: typed tables and
// int64 counters shared by every worker and task worker of a host, kept
// across reloads. A table is a hash of rows split into shards, each with
// its own lock, so workers touching different keys rarely wait for each
// other and no operation locks the whole table.
package table

import (
	"fmt"
	"hash/maphash"
	"math"
	"math/bits"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/imscript/imscript/host"
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

// shard is one lock and the rows whose keys hash to it (the map is made
// with the first row), padded so two shards' locks never share a cache
// line.
type shard struct {
	mu   sync.Mutex
	rows map[string][]cell
	_    [112]byte
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

	seed   maphash.Seed
	mask   uint64
	shards []shard
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

// shardCount is how many shards a table of size rows gets: plenty per CPU,
// so two workers rarely want the same lock, and more for big tables (about
// one per 8 rows), so workers busy with different rows seldom share one.
func shardCount(size int) int {
	n := max(64, 16*runtime.GOMAXPROCS(0), size/8)
	return 1 << bits.Len(uint(min(n, 4096)-1))
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
	n := shardCount(size)
	t := &Table{
		name:   name,
		cols:   append([]Column(nil), cols...),
		names:  make([]string, len(cols)),
		size:   size,
		seed:   maphash.MakeSeed(),
		mask:   uint64(n - 1),
		shards: make([]shard, n),
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

func (t *Table) shard(key string) *shard {
	return &t.shards[maphash.String(t.seed, key)&t.mask]
}

// reserve counts a new row, or says the table is full.
func (t *Table) reserve() error {
	if t.count.Add(1) > t.maxSize.Load() {
		t.count.Add(-1)
		return &FullError{Table: t.name, MaxSize: t.maxSize.Load()}
	}
	return nil
}

// newRow adds an empty row under key to s, whose lock is held.
func (t *Table) newRow(s *shard, key string) ([]cell, error) {
	if err := t.reserve(); err != nil {
		return nil, err
	}
	if s.rows == nil {
		s.rows = make(map[string][]cell)
	}
	r := make([]cell, len(t.cols))
	// The key may share memory with a bigger script string (a network
	// read): keep a copy of its own.
	s.rows[strings.Clone(key)] = r
	return r, nil
}

// IncrInt adds by to int column col of the row under key, creating the row
// (zeroed) when it is missing, and returns the new value. Overflow wraps.
func (t *Table) IncrInt(key string, col int, by int64) (int64, error) {
	s := t.shard(key)
	s.mu.Lock()
	r, ok := s.rows[key]
	if !ok {
		var err error
		if r, err = t.newRow(s, key); err != nil {
			s.mu.Unlock()
			return 0, err
		}
	}
	n := int64(r[col].n) + by
	r[col].n = uint64(n)
	s.mu.Unlock()
	return n, nil
}

// IncrFloat adds by to float column col of the row under key, creating the
// row when it is missing, and returns the new value.
func (t *Table) IncrFloat(key string, col int, by float64) (float64, error) {
	s := t.shard(key)
	s.mu.Lock()
	r, ok := s.rows[key]
	if !ok {
		var err error
		if r, err = t.newRow(s, key); err != nil {
			s.mu.Unlock()
			return 0, err
		}
	}
	f := math.Float64frombits(r[col].n) + by
	r[col].n = math.Float64bits(f)
	s.mu.Unlock()
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
func (t *Table) Set(key string, row host.Map) error {
	vals := make([]host.Value, len(t.cols))
	for i := range t.cols {
		vals[i] = row[t.cols[i].Name]
	}
	return t.SetValues(key, vals)
}

// SetValues is Set with the values in column order (nil: not given).
func (t *Table) SetValues(key string, vals []host.Value) error {
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
	s := t.shard(key)
	s.mu.Lock()
	r, ok := s.rows[key]
	if !ok {
		var err error
		if r, err = t.newRow(s, key); err != nil {
			s.mu.Unlock()
			return err
		}
	}
	for _, u := range ups {
		if t.cols[u.col].Kind != String {
			r[u.col].n = u.n
		} else if old, ok := r[u.col].v.(string); !ok || old != u.s {
			// A script string may share memory with a bigger one (a
			// network read): the table keeps a copy of its own. An
			// unchanged value is not copied again.
			r[u.col].v = strings.Clone(u.s)
		}
	}
	s.mu.Unlock()
	return nil
}

// convert checks a script value for column i.
func (t *Table) convert(i int, v host.Value) (update, error) {
	col := &t.cols[i]
	switch col.Kind {
	case Int:
		n, ok := wholeNumber(v)
		if !ok {
			if _, isNum := v.(float64); isNum {
				return update{}, fieldErrorf("table %s: column %s is int, got %v (not a whole number)", t.name, col.Name, v)
			}
			return update{}, fieldErrorf("table %s: column %s is int, got %s", t.name, col.Name, host.TypeName(v))
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
		return update{}, fieldErrorf("table %s: column %s is float, got %s", t.name, col.Name, host.TypeName(v))
	default:
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case []byte:
			// Only read before Set returns; copied when stored.
			s = unsafe.String(unsafe.SliceData(x), len(x))
		default:
			return update{}, fieldErrorf("table %s: column %s is string, got %s", t.name, col.Name, host.TypeName(v))
		}
		if len(s) > col.Size {
			return update{}, fieldErrorf("table %s: column %s holds at most %d bytes, got %d", t.name, col.Name, col.Size, len(s))
		}
		return update{col: i, s: s}, nil
	}
}

// value renders column i of a cell as a script value.
func (t *Table) value(i int, c cell) host.Value {
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
func (t *Table) rowMap(r []cell) host.Map {
	m := make(host.Map, len(t.cols))
	for i, c := range r {
		m[t.cols[i].Name] = t.value(i, c)
	}
	return m
}

// Get returns the row under key, or nil when there is none.
func (t *Table) Get(key string) host.Map {
	vals := make([]host.Value, len(t.cols))
	if !t.GetValues(key, vals) {
		return nil
	}
	m := make(host.Map, len(t.cols))
	for i, v := range vals {
		m[t.cols[i].Name] = v
	}
	return m
}

// GetValues reads the row under key into vals, in column order, and says
// whether there was one.
func (t *Table) GetValues(key string, vals []host.Value) bool {
	var buf [8]cell
	s := t.shard(key)
	s.mu.Lock()
	r, ok := s.rows[key]
	if !ok {
		s.mu.Unlock()
		return false
	}
	cp := append(buf[:0], r...)
	s.mu.Unlock()
	for i, c := range cp {
		vals[i] = t.value(i, c)
	}
	return true
}

// getCell reads column col of the row under key; ok is false when there
// is no such row.
func (t *Table) getCell(key string, col int) (c cell, ok bool) {
	s := t.shard(key)
	s.mu.Lock()
	r, ok := s.rows[key]
	if ok {
		c = r[col]
	}
	s.mu.Unlock()
	return c, ok
}

// GetField returns column col of the row under key, or nil when there is
// no such row.
func (t *Table) GetField(key string, col int) host.Value {
	c, ok := t.getCell(key, col)
	if !ok {
		return nil
	}
	return t.value(col, c)
}

// Exists says whether a row is stored under key.
func (t *Table) Exists(key string) bool {
	s := t.shard(key)
	s.mu.Lock()
	_, ok := s.rows[key]
	s.mu.Unlock()
	return ok
}

// Del removes the row under key and says whether there was one.
func (t *Table) Del(key string) bool {
	s := t.shard(key)
	s.mu.Lock()
	_, ok := s.rows[key]
	if ok {
		delete(s.rows, key)
		t.count.Add(-1)
	}
	s.mu.Unlock()
	return ok
}

// Clear removes every row.
func (t *Table) Clear() {
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		t.count.Add(-int64(len(s.rows)))
		clear(s.rows)
		s.mu.Unlock()
	}
}

// Iter starts an iteration over the rows, one shard at a time: each shard
// is copied under its lock, so a row is seen whole, and rows added or
// removed meanwhile may or may not be seen. Order is unspecified.
func (t *Table) Iter() func() (key string, row host.Map, ok bool) {
	next := 0
	var keys []string
	var cells []cell
	i := 0
	w := len(t.cols)
	return func() (string, host.Map, bool) {
		for i >= len(keys) {
			if next >= len(t.shards) {
				return "", nil, false
			}
			s := &t.shards[next]
			next++
			keys, cells, i = keys[:0], cells[:0], 0
			s.mu.Lock()
			for k, r := range s.rows {
				keys = append(keys, k)
				cells = append(cells, r...)
			}
			s.mu.Unlock()
		}
		k, r := keys[i], cells[i*w:(i+1)*w]
		i++
		return k, t.rowMap(r), true
	}
}
