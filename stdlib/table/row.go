package table

import (
	"math"

	"github.com/imscript/imscript/script"
)

// The row fast path (script.RowCall): set reads the row's columns from the
// script's table / object one by one, get writes them into a new one or
// into the one the script passed, with no Map and no Value per column.

// SetCells is SetValues with the values as cells (CellAbsent: not given).
func (t *Table) SetCells(key string, cells []script.Cell) error {
	var buf [8]update
	ups := buf[:0]
	for i := range cells {
		cl := &cells[i]
		var u update
		var err error
		switch cl.Kind {
		case script.CellAbsent:
			continue
		case script.CellValue:
			if cl.Val == nil {
				continue
			}
			u, err = t.convert(i, cl.Val)
		default:
			u, err = t.convertCell(i, cl)
		}
		if err != nil {
			return err
		}
		ups = append(ups, u)
	}
	return t.write(key, ups)
}

// convertCell is convert for a number or string cell.
func (t *Table) convertCell(i int, cl *script.Cell) (update, error) {
	col := &t.cols[i]
	switch col.Kind {
	case Int:
		switch cl.Kind {
		case script.CellInt:
			return update{col: i, n: uint64(cl.Int)}, nil
		case script.CellNumber:
			f := cl.Num
			if f != math.Trunc(f) || f >= 1<<63 || f < -(1<<63) {
				return update{}, fieldErrorf("table %s: column %s is int, got %v (not a whole number)", t.name, col.Name, f)
			}
			return update{col: i, n: uint64(int64(f))}, nil
		}
	case Float:
		switch cl.Kind {
		case script.CellInt:
			return update{col: i, n: math.Float64bits(float64(cl.Int))}, nil
		case script.CellNumber:
			return update{col: i, n: math.Float64bits(cl.Num)}, nil
		}
	default:
		if cl.Kind == script.CellString {
			if len(cl.Str) > col.Size {
				return update{}, fieldErrorf("table %s: column %s holds at most %d bytes, got %d", t.name, col.Name, col.Size, len(cl.Str))
			}
			return update{col: i, s: cl.Str}, nil
		}
	}
	got := "number"
	if cl.Kind == script.CellString {
		got = "string"
	}
	return update{}, fieldErrorf("table %s: column %s is %s, got %s", t.name, col.Name, col.Kind, got)
}

// GetCells reads the row under key into cells, in column order, and says
// whether there was one. String cells hold the table's own copy (safe to
// keep).
func (t *Table) GetCells(key string, cells []script.Cell) bool {
	r, _ := t.lockRow(key, false)
	if r == nil {
		return false
	}
	for i, c := range r.cells {
		switch t.cols[i].Kind {
		case Int:
			cells[i] = script.Cell{Kind: script.CellInt, Int: int64(c.n)}
		case Float:
			cells[i] = script.Cell{Kind: script.CellNumber, Num: math.Float64frombits(c.n)}
		default:
			cells[i] = script.Cell{Kind: script.CellString, Str: c.str()}
		}
	}
	r.mu.Unlock()
	return true
}

// setRow is set(key, row) through the row fast path.
func setRow(c script.Call, rc script.RowCall, t *Table, k string) {
	cells := rc.Cells(len(t.cols))
	rc.ReadRow(1, "row", t.names, cells)
	if err := t.SetCells(k, cells); err != nil {
		fail(c, t, err)
		return
	}
	c.ReturnBool(true)
}

// getRow is get(key) and get(key, into) through the row fast path; into
// is -1 for a new table / object.
func getRow(c script.Call, rc script.RowCall, t *Table, k string, into int) {
	cells := rc.Cells(len(t.cols))
	if !t.GetCells(k, cells) {
		c.Return(nil)
		return
	}
	rc.ReturnRow(into, t.names, cells)
}
