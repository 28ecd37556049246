// Package fs is imscript.fs: files and folders from scripts, each call on
// a goroutine of its own settling through Call.Async, so that a slow disk
// never holds up a worker. Relative paths resolve against the script's
// folder, and failures carry the errno's name (ENOENT, EACCES, ...).
package fs

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/imscript/imscript/script"
	"github.com/imscript/imscript/stdlib/internal/opts"
)

// Module builds imscript.fs for one instance.
func Module(script.Instance) script.Value { return script.Funcs(API.Funcs) }

// API describes imscript.fs for editors.
var API = &script.API{
	Doc: "Files, relative to the script's folder, off the worker.",
	Funcs: map[string]script.Method{
		"read":   {Fn: read, Args: `path: string, options?: {encoding?: "utf8"|"utf-8"}`, Returns: "async bytes|string", Doc: "The file's content (a string with encoding utf8)."},
		"write":  {Fn: write, Args: "path: string, data: string|bytes", Returns: "async boolean", Doc: "Creates or truncates the file with data."},
		"append": {Fn: appendFile, Args: "path: string, data: string|bytes", Returns: "async boolean", Doc: "Appends data to the file (made if missing)."},
		"stat":   {Fn: stat, Args: "path: string", Returns: "async {size: integer, mtime: number, is_dir: boolean}?", Doc: "What is at path, or nil when nothing is."},
		"list":   {Fn: list, Args: "dir: string", Returns: "async string[]", Doc: "The names in a folder."},
		"remove": {Fn: remove, Args: "path: string, options?: {recursive?: boolean}", Returns: "async boolean", Doc: "Removes a file (a folder's content too with recursive)."},
		"mkdir":  {Fn: mkdir, Args: "path: string", Returns: "async boolean", Doc: "Makes a folder and its parents."},
	},
}

// call is one fs call: its arguments without a trailing callback, the
// callback's index for Call.Async, and the resolved path.
type call struct {
	c     script.Call
	what  string // "fs.read"
	given string // the path as the script wrote it, for messages
	path  string
	n     int // arguments before the callback
	cb    int
}

func start(c script.Call, what string) *call {
	n := c.NArgs()
	cb := n
	if n > 0 {
		if _, ok := c.Arg(n - 1).(script.Callback); ok {
			n, cb = n-1, n-1
		}
	}
	if n < 1 {
		script.Usagef("%s: bad argument #1 (path): string expected, got no value", what)
	}
	given := c.Str(0, "path")
	if given == "" {
		script.Usagef("%s: bad argument #1 (path): the path is empty", what)
	}
	p := given
	if !filepath.IsAbs(p) {
		p = filepath.Join(c.Instance().ScriptDir(), p)
	}
	return &call{c: c, what: what, given: given, path: p, n: n, cb: cb}
}

// options reads the options table at argument i (absent: empty).
func (fc *call) options(i int, allowed ...string) *opts.Reader {
	var m script.Map
	if i < fc.n {
		m = fc.c.OptTable(i, "options")
	}
	return opts.New(fc.what, m, allowed...)
}

// run settles the call with fn's result, computed off the worker.
func (fc *call) run(fn func() (script.Value, error)) {
	settle := fc.c.Async(fc.cb)
	ctx := fc.c.Instance().Context()
	script.Go(func() {
		if ctx.Err() != nil {
			settle(nil, &script.CodedError{Msg: fc.what + ": cancelled: the script version has ended", Code: "CANCELLED"})
			return
		}
		v, err := fn()
		if err != nil {
			settle(nil, fc.failure(err))
			return
		}
		settle(v, nil)
	})
}

// failure words err as "fs.read data/x.txt: no such file or directory"
// with the errno's name as the code.
func (fc *call) failure(err error) error {
	msg := err.Error()
	var pe *iofs.PathError
	if errors.As(err, &pe) {
		msg = pe.Err.Error()
	}
	var code script.Value
	var errno syscall.Errno
	if errors.As(err, &errno) && errnoName(errno) != "" {
		code = errnoName(errno)
	} else if errors.Is(err, iofs.ErrNotExist) {
		code = "ENOENT"
	} else if errors.Is(err, iofs.ErrExist) {
		code = "EEXIST"
	} else if errors.Is(err, iofs.ErrPermission) {
		code = "EACCES"
	}
	return &script.CodedError{Msg: fmt.Sprintf("%s %s: %s", fc.what, fc.given, msg), Code: code, Err: err}
}

// data reads argument 1 (a string or bytes) as a copy the goroutine may
// keep.
func (fc *call) data() []byte {
	if fc.n < 2 {
		script.Usagef("%s: bad argument #2 (data): string expected, got no value", fc.what)
	}
	return append([]byte(nil), fc.c.Bytes(1, "data")...)
}

// read is fs.read(path [, {encoding = "utf8"}]): the file's bytes (Lua:
// a string, JS: a Buffer), or with encoding "utf8" a string.
func read(c script.Call) {
	fc := start(c, "fs.read")
	o := fc.options(1, "encoding")
	asText := false
	switch enc := o.Str("encoding", ""); enc {
	case "":
	case "utf8", "utf-8":
		asText = true
	default:
		script.Usagef("fs.read: option encoding: want \"utf8\" (or none, for bytes), got %q", enc)
	}
	fc.run(func() (script.Value, error) {
		b, err := os.ReadFile(fc.path)
		if err != nil {
			return nil, err
		}
		if asText {
			return string(b), nil
		}
		return b, nil
	})
}

// write is fs.write(path, data): creates or truncates the file.
func write(c script.Call) {
	fc := start(c, "fs.write")
	b := fc.data()
	fc.run(func() (script.Value, error) {
		if err := os.WriteFile(fc.path, b, 0o644); err != nil {
			return nil, err
		}
		return true, nil
	})
}

// appendFile is fs.append(path, data): adds to the end, creating the file.
func appendFile(c script.Call) {
	fc := start(c, "fs.append")
	b := fc.data()
	fc.run(func() (script.Value, error) {
		f, err := os.OpenFile(fc.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return nil, err
		}
		_, err = f.Write(b)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, err
		}
		return true, nil
	})
}

// stat is fs.stat(path): {size, mtime (Unix seconds, with fractions),
// is_dir}, or nil when nothing is there (not a failure). It follows
// symbolic links.
func stat(c script.Call) {
	fc := start(c, "fs.stat")
	fc.run(func() (script.Value, error) {
		st, err := os.Stat(fc.path)
		if errors.Is(err, iofs.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return script.Map{
			"size":   st.Size(),
			"mtime":  float64(st.ModTime().UnixNano()) / 1e9,
			"is_dir": st.IsDir(),
		}, nil
	})
}

// list is fs.list(dir): the names in the folder, sorted (bytewise).
func list(c script.Call) {
	fc := start(c, "fs.list")
	fc.run(func() (script.Value, error) {
		ents, err := os.ReadDir(fc.path)
		if err != nil {
			return nil, err
		}
		out := make(script.List, len(ents))
		for i, e := range ents {
			out[i] = e.Name()
		}
		return out, nil
	})
}

// remove is fs.remove(path [, {recursive = true}]): a file or an empty
// folder; with recursive, a folder and everything in it. Removing what is
// not there fails with ENOENT.
func remove(c script.Call) {
	fc := start(c, "fs.remove")
	recursive := fc.options(1, "recursive").Bool("recursive", false)
	fc.run(func() (script.Value, error) {
		if recursive {
			if _, err := os.Lstat(fc.path); err != nil {
				return nil, err
			}
			if err := os.RemoveAll(fc.path); err != nil {
				return nil, err
			}
			return true, nil
		}
		if err := os.Remove(fc.path); err != nil {
			return nil, err
		}
		return true, nil
	})
}

// mkdir is fs.mkdir(path): the folder and its missing parents (mkdir -p);
// a folder already there is fine, a file there fails with EEXIST.
func mkdir(c script.Call) {
	fc := start(c, "fs.mkdir")
	fc.run(func() (script.Value, error) {
		if err := os.MkdirAll(fc.path, 0o755); err != nil {
			if st, serr := os.Stat(fc.path); serr == nil && !st.IsDir() {
				return nil, &iofs.PathError{Op: "mkdir", Path: fc.path, Err: syscall.EEXIST}
			}
			return nil, err
		}
		return true, nil
	})
}
