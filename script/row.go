package script

// Rows: a fast path for records of typed fields (a shared table's row),
// read from and written to a script's table / object field by field,
// without a Map and without boxing each number and string in a Value.
// The bindings' Calls implement RowCall; a module uses it when the Call
// has it (script/scripttest's fake does not) and falls back to Fields /
// ReturnFields otherwise.

// CellKind says what a Cell holds.
type CellKind uint8

// Cell kinds.
const (
	CellAbsent CellKind = iota // nil / undefined: the field is not given
	CellNumber                 // Num (every Lua number; a JS number)
	CellInt                    // Int (written by a module: a whole number)
	CellString                 // Str
	CellValue                  // Val: anything else, as Call.Arg would convert it
)

// Cell is one field of a row.
type Cell struct {
	Kind CellKind
	Num  float64
	Int  int64
	// Str, read from a script, may share memory with the VM's string: it
	// is valid during the call only and must be copied to be kept.
	Str string
	Val Value
}

// RowCall is the row fast path of a Call.
type RowCall interface {
	// IsTable says whether argument i is a plain table (Lua) / object
	// (JS: not a function, an array or a host object).
	IsTable(i int) bool
	// Cells returns n cells of a buffer the VM keeps for this use: valid
	// until the next call of Cells on the same VM (so not across a call
	// back into the script).
	Cells(n int) []Cell
	// ReadRow reads the fields names[j] of the table / object argument i
	// into cells[j]. A value that is not a number or a string comes as
	// CellValue, converted as Call.Fields converts it.
	ReadRow(i int, name string, names []string, cells []Cell)
	// ReturnRow returns a table / object with the fields names[j] =
	// cells[j] (CellAbsent ones left out). With into >= 0 it writes them
	// into the table / object that is argument into (raw sets in Lua;
	// other fields stay) and returns that one; else it makes a new one.
	ReturnRow(into int, names []string, cells []Cell)
}
