package script

// Language is one script language (Lua, JS). Bindings implement it.
type Language interface {
	// Name is the language's short name ("lua", "js").
	Name() string
	// Extensions lists the file extensions it runs (".lua").
	Extensions() []string
	// Compile reads and compiles the main script. Errors carry file:line.
	Compile(path string) (Program, error)
	// NewVM creates a fresh VM for inst with the imscript module installed.
	NewVM(inst Instance) (VM, error)
}

// Program is a compiled script, shared by the VMs of one version.
type Program interface {
	// Path is the main script's path.
	Path() string
}

// VM is one script virtual machine, owned by one worker goroutine.
type VM interface {
	// Run executes the program's main chunk (declaring servers, handlers).
	Run(p Program) error
	// Call invokes a script function owned by this VM with neutral
	// arguments and returns its first result. Errors carry file:line.
	Call(fn Callback, args ...Value) (Value, error)
	// Interrupt stops the running script code as soon as possible. It is
	// the only method that may be called from another goroutine.
	Interrupt(reason string)
	// ClearInterrupt re-arms the VM after an interrupted call.
	ClearInterrupt()
	// Close releases the VM.
	Close()
}

// PendingRunner is a VM whose main chunk may go on after Run returns: a
// JS ES module that awaits at its top level. RunPending is Run that
// returns, while the main chunk still waits, a Pending that settles when
// it has ended (with its error, if it threw after an await). The host
// serves the version, and counts its start or reload done, only then.
type PendingRunner interface {
	RunPending(p Program) (Pending, error)
}

// Pending is what VM.Call returns when the function returned a promise
// that has not settled yet (a JS async function waiting on an await). The
// host may ask how it ends; if it does not, a rejection is reported as an
// unhandled one when it happens.
type Pending interface {
	// Then calls fn on the worker once the promise settles: with its
	// value, or with its error (carrying the script's stack).
	Then(fn func(Value, error))
}
