package process

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"

	"github.com/imscript/imscript/script"
)

const (
	// readChunk is the most one stdout/stderr event carries.
	readChunk = 64 << 10
	// maxChunksInFlight bounds the output read from a process and not yet
	// handled by its script (per process, both streams): past it the
	// reader stops reading and the child blocks on a full pipe.
	maxChunksInFlight = 16
	// maxStdinQueued bounds the bytes written with write() and not yet
	// taken by the process.
	maxStdinQueued = 4 << 20
)

const (
	evStdout = iota
	evStderr
	evExit
	numEvents
)

var eventNames = [numEvents]string{"stdout", "stderr", "exit"}

// proc is one child OS process started by imscript.process.exec.
type proc struct {
	inst    script.Instance
	release func() // Own: the instance kills the process when it closes first
	cmd     *exec.Cmd
	pid     int
	in      *stdinPipe

	credit     chan struct{} // one token per chunk in flight to the script
	dead       chan struct{} // closed when the instance closes
	deadOnce   sync.Once
	readers    sync.WaitGroup
	waitedMu   sync.Mutex
	waited     bool // reaped
	handlers   [numEvents]script.Callback
	exitPosted bool // the worker only: exit delivered
}

var procType = &script.Type{
	Name:      "process",
	Doc:       "A program started with imscript.process.exec.",
	Transient: true,
	Props: map[string]func(o *script.Object) script.Value{
		"pid": func(o *script.Object) script.Value { return int64(o.Data.(*proc).pid) },
	},
	Fields: map[string]script.Field{"pid": {Type: "integer", Doc: "Its process id."}},
	Events: []script.Event{
		{Name: "stdout", Args: "data: bytes", Doc: "Output on stdout."},
		{Name: "stderr", Args: "data: bytes", Doc: "Output on stderr."},
		{Name: "exit", Args: "code: integer?, signal: string?", Doc: "It ended (after all its output)."},
	},
}

func init() {
	procType.Define(map[string]script.Method{
		"write":      {Fn: procWrite, Args: "data: string|bytes", Returns: "boolean, string?", Doc: "Writes to its stdin."},
		"closeStdin": {Fn: procCloseStdin, Returns: "boolean, string?", Doc: "Closes its stdin."},
		"on":         {Fn: procOn, Args: "event: string, handler: function", Doc: "Sets the handler of an event."},
		"kill":       {Fn: procKill, Args: "signal?: string|integer", Returns: "boolean, string?", Doc: "Sends a signal (SIGTERM unless told)."},
	})
}

// execOptions are the options exec takes.
var execOptions = map[string]bool{"cmd": true, "args": true, "env": true, "cwd": true}

func apiExec(c script.Call) {
	opts := c.Table(0, "options")
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !execOptions[k] {
			script.Usagef("imscript.process.exec: unknown option %q (cmd, args, env, cwd)", k)
		}
	}
	name, ok := opts["cmd"].(string)
	if !ok || name == "" {
		script.Usagef("imscript.process.exec: cmd must be a non-empty string, got %s", script.TypeName(opts["cmd"]))
	}
	args := optStrings(opts["args"])
	inst := c.Instance()
	dir := inst.ScriptDir()
	if v, present := opts["cwd"]; present && v != nil {
		cwd, ok := v.(string)
		if !ok {
			script.Usagef("imscript.process.exec: cwd must be a string, got %s", script.TypeName(v))
		}
		if !filepath.IsAbs(cwd) {
			cwd = filepath.Join(dir, cwd)
		}
		dir = cwd
	}
	env := environment(inst, opts["env"])
	p, err := start(inst, name, args, env, dir)
	if err != nil {
		script.Usagef("imscript.process.exec: %v", err)
	}
	c.Return(&script.Object{Type: procType, Data: p})
}

func optStrings(v script.Value) []string {
	switch x := v.(type) {
	case nil:
		return nil
	case script.List:
		out := make([]string, len(x))
		for i, e := range x {
			s, ok := scalarString(e)
			if !ok {
				script.Usagef("imscript.process.exec: args[%d] must be a string or a number, got %s", i+1, script.TypeName(e))
			}
			out[i] = s
		}
		return out
	case script.Map:
		if len(x) == 0 { // an empty Lua table
			return nil
		}
	}
	script.Usagef("imscript.process.exec: args must be a list of strings, got %s", script.TypeName(v))
	return nil
}

func scalarString(v script.Value) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case []byte:
		return string(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// environment is imscript.env (the host's environment as the script sees
// it) with the exec's env table added.
func environment(inst script.Instance, extra script.Value) []string {
	merged := map[string]string{}
	if base, ok := inst.Exports()["env"].(script.Map); ok {
		for k, v := range base {
			if s, ok := v.(string); ok {
				merged[k] = s
			}
		}
	}
	switch x := extra.(type) {
	case nil:
	case script.Map:
		for k, v := range x {
			s, ok := scalarString(v)
			if !ok {
				script.Usagef("imscript.process.exec: env.%s must be a string or a number, got %s", k, script.TypeName(v))
			}
			merged[k] = s
		}
	case script.List:
		if len(x) > 0 {
			script.Usagef("imscript.process.exec: env must be a table of names to values, got a list")
		}
	default:
		script.Usagef("imscript.process.exec: env must be a table of names to values, got %s", script.TypeName(extra))
	}
	keys := make([]string, 0, len(merged))
	for k := range merged {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k + "=" + merged[k]
	}
	return out
}

// start runs the process with pipes on its stdin, stdout and stderr.
func start(inst script.Instance, name string, args, env []string, dir string) (*proc, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = env
	newProcessGroup(cmd)
	var files []*os.File
	closeAll := func() {
		for _, f := range files {
			_ = f.Close()
		}
	}
	pipe := func() (r, w *os.File, err error) {
		r, w, err = os.Pipe()
		if err == nil {
			files = append(files, r, w)
		}
		return r, w, err
	}
	inR, inW, err1 := pipe()
	outR, outW, err2 := pipe()
	errR, errW, err3 := pipe()
	if err := errors.Join(err1, err2, err3); err != nil {
		closeAll()
		return nil, fmt.Errorf("pipes: %w", err)
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errW
	if err := cmd.Start(); err != nil {
		closeAll()
		if _, statErr := os.Stat(dir); statErr != nil {
			return nil, fmt.Errorf("%s: cwd %s: %w", name, dir, statErr)
		}
		return nil, err
	}
	// The child has its ends; ours are the others.
	_ = inR.Close()
	_ = outW.Close()
	_ = errW.Close()
	p := &proc{
		inst:   inst,
		cmd:    cmd,
		pid:    cmd.Process.Pid,
		in:     newStdinPipe(inW),
		credit: make(chan struct{}, maxChunksInFlight),
		dead:   make(chan struct{}),
	}
	p.release = inst.Own(script.CloserFunc(p.shutdown))
	p.readers.Add(2)
	go p.pump(outR, evStdout)
	go p.pump(errR, evStderr)
	go p.in.loop()
	go p.reap()
	return p, nil
}

// pump reads one of the process's output pipes in chunks and queues each
// chunk to the script, at most maxChunksInFlight at a time.
func (p *proc) pump(r *os.File, ev int) {
	defer p.readers.Done()
	defer r.Close()
	buf := make([]byte, readChunk)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			chunk := append([]byte(nil), buf[:n]...)
			select {
			case p.credit <- struct{}{}:
				p.inst.Post(func() {
					<-p.credit
					p.fire(ev, chunk)
				})
			case <-p.dead: // the script is gone: drain and drop
			}
		}
		if err != nil {
			return
		}
	}
}

// reap waits for the process to exit (no zombie) and for its output to be
// read, then queues the exit event after the last output.
func (p *proc) reap() {
	_ = p.cmd.Wait() // the status is in ProcessState
	p.waitedMu.Lock()
	p.waited = true
	p.waitedMu.Unlock()
	p.in.abort()
	p.readers.Wait()
	code, sig := exitStatus(p.cmd.ProcessState)
	p.inst.Post(func() {
		p.exitPosted = true
		p.release()
		p.fire(evExit, code, sig)
	})
}

// exitStatus is the exit event's arguments: (code, nil) when the process
// exited, (nil, "SIGNAME") when a signal ended it.
func exitStatus(ps *os.ProcessState) (code, sig script.Value) {
	if ps == nil {
		return int64(-1), nil
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return nil, signalName(ws.Signal())
	}
	return int64(ps.ExitCode()), nil
}

func (p *proc) fire(ev int, args ...script.Value) {
	if fn := p.handlers[ev]; fn != nil {
		p.inst.Call("process "+eventNames[ev], fn, args...)
	}
}

// shutdown runs when the instance closes: drop further events, close stdin
// and kill the process and its process group.
func (p *proc) shutdown() {
	p.deadOnce.Do(func() { close(p.dead) })
	p.in.abort()
	p.waitedMu.Lock()
	defer p.waitedMu.Unlock()
	if !p.waited {
		_ = p.cmd.Process.Kill()
		killGroup(p.pid)
	}
}

func procSelf(c script.Call) *proc {
	return script.Receiver[*proc](c, "process method called without its object (use p:method() in Lua)")
}

func procWrite(c script.Call) {
	p := procSelf(c)
	data := c.Bytes(0, "data")
	if p.exitPosted {
		c.Fail("the process has exited")
		return
	}
	if why := p.in.write(data); why != "" {
		c.Fail(why)
		return
	}
	c.ReturnBool(true)
}

func procCloseStdin(c script.Call) {
	p := procSelf(c)
	if !p.in.close() {
		c.Fail("stdin is already closed")
		return
	}
	c.ReturnBool(true)
}

func procOn(c script.Call) {
	p := procSelf(c)
	ev, fn := script.OnArgs(c, "process.on", eventNames[:])
	p.handlers[ev] = fn
}

func procKill(c script.Call) {
	p := procSelf(c)
	sig := syscall.SIGTERM
	if !c.Absent(0) {
		sig = parseSignal(c.Arg(0))
	}
	p.waitedMu.Lock()
	defer p.waitedMu.Unlock()
	if p.waited {
		c.Fail("the process has exited")
		return
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		if errors.Is(err, os.ErrProcessDone) {
			c.Fail("the process has exited")
			return
		}
		c.Fail(err.Error())
		return
	}
	c.ReturnBool(true)
}

func parseSignal(v script.Value) syscall.Signal {
	switch x := v.(type) {
	case int64:
		return checkSignal(x)
	case float64:
		return checkSignal(int64(x))
	case string:
		if s, ok := signalNum(x); ok {
			return s
		}
		script.Usagef("process.kill: unknown signal %q", x)
	default:
		script.Usagef("process.kill: bad argument #1 (signal): a name such as \"SIGTERM\" or a number expected, got %s", script.TypeName(v))
	}
	return 0
}

func checkSignal(n int64) syscall.Signal {
	if n < 0 || n > 64 {
		script.Usagef("process.kill: %d is not a signal number", n)
	}
	return syscall.Signal(n)
}

// stdinPipe feeds write() data to the process from its own goroutine, so a
// process that does not read never blocks the script's worker.
type stdinPipe struct {
	f    *os.File
	wake chan struct{}

	mu      sync.Mutex
	queue   [][]byte
	queued  int
	closing bool  // closeStdin: close once the queue is written
	aborted bool  // the process is gone or the script closed
	err     error // the write that failed
}

func newStdinPipe(f *os.File) *stdinPipe {
	return &stdinPipe{f: f, wake: make(chan struct{}, 1)}
}

func (s *stdinPipe) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// write queues a copy of b; it returns why it could not ("" when queued).
func (s *stdinPipe) write(b []byte) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.aborted:
		return "the process has exited"
	case s.closing:
		return "stdin is closed"
	case s.err != nil:
		return "stdin: " + s.err.Error()
	case s.queued+len(b) > maxStdinQueued:
		return fmt.Sprintf("stdin buffer full (%d bytes waiting for the process to read them)", s.queued)
	}
	if len(b) == 0 {
		return ""
	}
	s.queue = append(s.queue, append([]byte(nil), b...))
	s.queued += len(b)
	s.signal()
	return ""
}

// close closes stdin once what was written has been taken.
func (s *stdinPipe) close() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing || s.aborted {
		return false
	}
	s.closing = true
	s.signal()
	return true
}

// abort closes stdin now, dropping what was not written.
func (s *stdinPipe) abort() {
	s.mu.Lock()
	if s.aborted {
		s.mu.Unlock()
		return
	}
	s.aborted = true
	s.queue, s.queued = nil, 0
	s.mu.Unlock()
	_ = s.f.Close() // also wakes a blocked Write
	s.signal()
}

func (s *stdinPipe) loop() {
	for {
		s.mu.Lock()
		for len(s.queue) == 0 && !s.closing && !s.aborted {
			s.mu.Unlock()
			<-s.wake
			s.mu.Lock()
		}
		if s.aborted {
			s.mu.Unlock()
			return
		}
		batch := s.queue
		s.queue = nil
		if len(batch) == 0 { // closing, and everything is written
			s.mu.Unlock()
			_ = s.f.Close()
			return
		}
		s.mu.Unlock()
		for _, b := range batch {
			_, err := s.f.Write(b)
			s.mu.Lock()
			s.queued -= len(b)
			if err != nil && !s.aborted {
				s.err = err
				s.queue, s.queued = nil, 0
			}
			failed := s.err != nil || s.aborted
			s.mu.Unlock()
			if failed {
				_ = s.f.Close()
				return
			}
		}
	}
}
