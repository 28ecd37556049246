package fs_test

import (
	"errors"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/imscript/imscript/script"
	"github.com/imscript/imscript/script/scripttest"
	imfs "github.com/imscript/imscript/stdlib/fs"
)

// The module on a fake instance: no host, no VM.

func fn(inst script.Instance, name string) script.Function {
	return imfs.Module(inst).(script.Map)[name].(script.Function)
}

func TestInvoke(t *testing.T) {
	inst := scripttest.NewInstance(t)
	if v, err := inst.Invoke(fn(inst, "write"), nil, "f.txt", []byte{0xff, 0}).Await(scripttest.WaitLimit); v != true || err != nil {
		t.Fatalf("write = %v, %v", v, err)
	}
	if b, err := os.ReadFile(filepath.Join(inst.Dir, "f.txt")); err != nil || string(b) != "\xff\x00" {
		t.Fatalf("the file in ScriptDir: %q, %v", b, err)
	}
	var got []script.Value
	cb := inst.Func(func(args ...script.Value) script.Value { got = args; return nil })
	r := inst.Invoke(fn(inst, "read"), nil, "f.txt", cb)
	if v, err := r.Await(scripttest.WaitLimit); string(v.([]byte)) != "\xff\x00" || err != nil {
		t.Errorf("read = %v, %v", v, err)
	}
	if !inst.Next(scripttest.WaitLimit) || len(got) != 1 {
		t.Errorf("the callback got %v", got)
	}
	v, err := inst.Invoke(fn(inst, "stat"), nil, filepath.Join(inst.Dir, "f.txt")).Await(scripttest.WaitLimit)
	if m, ok := v.(script.Map); err != nil || !ok || m["size"] != int64(2) || m["is_dir"] != false {
		t.Errorf("stat of an absolute path = %v, %v", v, err)
	}
	_, err = inst.Invoke(fn(inst, "list"), nil, "nope").Await(scripttest.WaitLimit)
	if script.ErrorCode(err) != "ENOENT" || err.Error() != "fs.list nope: no such file or directory" {
		t.Errorf("list nope: %v [%v]", err, script.ErrorCode(err))
	}
	if r := inst.Invoke(fn(inst, "write"), nil, script.Map{}, "x"); !strings.Contains(r.Usage, "(path)") {
		t.Errorf("write({}): usage %q", r.Usage)
	}
	inst.Close()
	_, err = inst.Invoke(fn(inst, "read"), nil, "f.txt").Await(scripttest.WaitLimit)
	if script.ErrorCode(err) != "CANCELLED" {
		t.Errorf("a call after the instance closed: %v [%v]", err, script.ErrorCode(err))
	}
}

// TestFailureCodes: the errno's name is the code; io/fs's kinds name the
// errors that carry no errno.
func TestFailureCodes(t *testing.T) {
	for _, c := range []struct {
		err  error
		code script.Value
		msg  string
	}{
		{&iofs.PathError{Op: "open", Path: "/x/y", Err: syscall.EACCES}, "EACCES", "fs.read y: permission denied"},
		{&iofs.PathError{Op: "open", Path: "/x/y", Err: syscall.ENOSPC}, "ENOSPC", "fs.read y: no space left on device"},
		{&iofs.PathError{Op: "open", Path: "/x/y", Err: syscall.EROFS}, "EROFS", "fs.read y: read-only file system"},
		{iofs.ErrPermission, "EACCES", "fs.read y: permission denied"},
		{errors.New("odd"), nil, "fs.read y: odd"},
	} {
		err := imfs.Failure("fs.read", "y", c.err)
		if script.ErrorCode(err) != c.code || err.Error() != c.msg {
			t.Errorf("%v: %q [%v], want %q [%v]", c.err, err, script.ErrorCode(err), c.msg, c.code)
		}
	}
}

// TestPermission: a folder the process may not write to (not as root,
// who may write anywhere).
func TestPermission(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root may write anywhere: EACCES is covered by TestFailureCodes")
	}
	inst := scripttest.NewInstance(t)
	dir := filepath.Join(inst.Dir, "ro")
	if err := os.Mkdir(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	_, err := inst.Invoke(fn(inst, "write"), nil, "ro/x", "y").Await(scripttest.WaitLimit)
	if script.ErrorCode(err) != "EACCES" {
		t.Errorf("write into a read-only folder: %v [%v]", err, script.ErrorCode(err))
	}
}

// TestSuspendingLua: inside a handler, a call without a callback suspends
// it and returns the result, or nil, the message and the code.
func TestSuspendingLua(t *testing.T) {
	out, _ := scripttest.Run(t, scripttest.Options{Lang: "lua", Src: `print("sleep " .. type(imscript.sleep))`}, "sleep ")
	if !strings.Contains(out, "sleep function") {
		t.Skip("suspending Lua handlers not in this build yet")
	}
	h := scripttest.Start(t, scripttest.Options{Lang: "lua", Src: `
local fs = imscript.fs
imscript.after(1, function()
  print("write " .. tostring(fs.write("a.txt", "hi")))
  print("read " .. fs.read("a.txt"))
  print("stat " .. fs.stat("a.txt").size .. " " .. tostring(fs.stat("nope")))
  local v, err, code = fs.read("nope")
  print("missing " .. tostring(v) .. " " .. err .. " [" .. code .. "]")
  print("list " .. table.concat(fs.list("."), ","))
  print("done")
end)
`})
	h.Expect("done", "write true\nread hi\nstat 2 nil\nmissing nil fs.read nope: no such file or directory [ENOENT]\nlist a.txt,main.lua\ndone\n")
}
