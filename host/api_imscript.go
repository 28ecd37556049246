package host

// The imscript module's own members (imscript.server, tick, after, ...);
// registered modules are added beside them (Instance.Exports).

import (
	"math"
	"path/filepath"
	"time"

	"github.com/imscript/imscript/script"
)

// coreExports builds the imscript module's own members for one instance.
func coreExports(inst *instance) script.Map {
	h := inst.host
	env := script.Map{}
	for k, v := range h.env {
		env[k] = v
	}
	args := script.List{}
	for _, a := range h.cfg.Args {
		args = append(args, a)
	}
	return script.Map{
		"server":    script.Function(apiServer),
		"client":    script.Function(apiClient),
		"tick":      script.Function(func(c script.Call) { apiTimer(c, "tick", true) }),
		"after":     script.Function(func(c script.Call) { apiTimer(c, "after", false) }),
		"clear":     script.Function(apiClear),
		"shutdown":  script.Function(func(c script.Call) { instOf(c).host.Shutdown(); c.ReturnBool(true) }),
		"exit":      script.Function(apiExit),
		"now":       script.Function(func(c script.Call) { c.ReturnFloat(float64(time.Now().UnixMicro()) / 1000) }),
		"sleep":     script.Function(apiSleep),
		"env":       env,
		"args":      args,
		"worker_id": int64(inst.worker.id),
		// The main script's path and folder, for paths beside the script
		// (document_root, data files) wherever imscript was started.
		"script":     h.cfg.Script,
		"script_dir": inst.ScriptDir(),
		"data_dir":   dataDir(h.cfg.DataDir),
		"version":    Version,
	}
}

// Version is the imscript version (script.Version).
const Version = script.Version

func apiServer(c script.Call) {
	m := c.Table(0, "settings")
	st, err := parseSettings(m)
	if err != nil {
		script.Usagef("imscript.server: %v", err)
	}
	s := instOf(c).declareServer(st)
	c.Return(s.obj)
}

func apiTimer(c script.Call, name string, repeat bool) {
	ms := c.Float(0, "ms")
	fn := c.Func(1, "fn")
	if repeat && ms <= 0 {
		script.Usagef("imscript.%s: ms must be positive", name)
	}
	c.ReturnInt(instOf(c).AddTimer(script.Millis(ms), repeat, fn, nil))
}

// apiSleep is imscript.sleep(seconds [, fn]): a Lua handler suspends for
// that long, JS gets a Promise, and with fn the callback runs after it.
func apiSleep(c script.Call) {
	sec := c.Float(0, "seconds")
	if sec < 0 || math.IsNaN(sec) || math.IsInf(sec, 0) {
		script.Usagef("imscript.sleep: seconds must be a number >= 0, got %v", sec)
	}
	settle := c.Async(1)
	time.AfterFunc(script.Seconds(sec), func() { settle(nil, nil) })
}

// apiExit is imscript.exit([code]): the host stops gracefully, as with
// imscript.shutdown(), and `imscript run` then exits with code (default 0).
// The handler that calls it runs on to its end. In a spawned script it
// ends that script, as imscript.process.exit(code).
func apiExit(c script.Call) {
	f := c.OptFloat(0, "code", 0)
	if f != math.Trunc(f) || f < 0 || f > 125 {
		script.Usagef("imscript.exit: code must be a whole number from 0 to 125, got %v", f)
	}
	if p := c.Instance().Parent(); p != nil {
		p.Exit(int64(f))
		c.ReturnBool(true)
		return
	}
	instOf(c).host.Exit(int(f))
	c.ReturnBool(true)
}

func apiClear(c script.Call) {
	c.ReturnBool(instOf(c).ClearTimer(c.Int(0, "id")))
}

// dataDir is imscript.data_dir: the absolute --data folder, or nil.
func dataDir(dir string) script.Value {
	if dir == "" {
		return nil
	}
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}
