package host

// The imscript module's own members (imscript.server, tick, after, ...);
// registered modules are added beside them (Instance.Exports).

import (
	"math"
	"path/filepath"
	"time"

	"github.com/imscript/imscript/script"
)

// coreFuncs are the imscript module's own functions.
var coreFuncs = map[string]script.Method{
	"server":   {Fn: apiServer, Args: "settings: ServerSettings", Returns: "Server", Doc: "Declares a server; it listens once the script has loaded."},
	"client":   {Fn: apiClient, Args: "settings: ClientSettings", Returns: "Client", Doc: "Makes a tcp or udp client."},
	"tick":     {Fn: func(c script.Call) { apiTimer(c, "tick", true) }, Args: "ms: number, fn: fun(id: integer)", Returns: "integer", Doc: "Calls fn every ms milliseconds; returns the timer id."},
	"after":    {Fn: func(c script.Call) { apiTimer(c, "after", false) }, Args: "ms: number, fn: fun(id: integer)", Returns: "integer", Doc: "Calls fn once after ms milliseconds; returns the timer id."},
	"clear":    {Fn: apiClear, Args: "id: integer", Returns: "boolean", Doc: "Cancels a timer."},
	"shutdown": {Fn: func(c script.Call) { instOf(c).host.Shutdown(); c.ReturnBool(true) }, Returns: "boolean", Doc: "Stops the host (as SIGTERM)."},
	"now":      {Fn: func(c script.Call) { c.ReturnFloat(float64(time.Now().UnixMicro()) / 1000) }, Returns: "number", Doc: "The time in milliseconds since 1970 (with fractions)."},
	"exit":     {Fn: apiExit, Args: "code?: integer", Returns: "boolean", Doc: "Stops the host (as shutdown) and ends the process with code (0-125, default 0); in a spawned script, ends that script."},
	"sleep":    {Fn: apiSleep, Args: "seconds: number", Returns: "async nil", Doc: "Waits (a Lua handler suspends; JS gets a Promise)."},
}

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
	m := script.Funcs(coreFuncs)
	m["env"] = env
	m["args"] = args
	m["worker_id"] = int64(inst.worker.id)
	// The main script's path and folder, for paths beside the script
	// (document_root, data files) wherever imscript was started.
	m["script"] = h.cfg.Script
	m["script_dir"] = inst.ScriptDir()
	m["data_dir"] = dataDir(h.cfg.DataDir)
	m["version"] = Version
	return m
}

// API describes the imscript module's own members and the objects they
// hand out, for editors (`imscript types`).
func API() *script.API {
	return &script.API{
		Doc:   "The imscript module: servers, clients, timers and the standard modules.",
		Funcs: coreFuncs,
		Fields: map[string]script.Field{
			"env":        {Type: "{[string]: string}", Doc: "The environment."},
			"args":       {Type: "string[]", Doc: "The arguments after -- on the command line."},
			"worker_id":  {Type: "integer", Doc: "The worker running this VM (negative in a spawned script)."},
			"script":     {Type: "string", Doc: "The main script's path."},
			"script_dir": {Type: "string", Doc: "The main script's folder."},
			"data_dir?":  {Type: "string", Doc: "The --data folder (absolute), or nil."},
			"version":    {Type: "string", Doc: "The imscript version."},
		},
		Types:   []*script.Type{serverType, clientType, requestType, responseType, frameType},
		Records: apiRecords,
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
