package host

import (
	"math"
	"time"
)

// coreExports builds the imscript module's own members for one instance.
func coreExports(inst *Instance) Map {
	h := inst.host
	env := Map{}
	for k, v := range h.env {
		env[k] = v
	}
	args := List{}
	for _, a := range h.cfg.Args {
		args = append(args, a)
	}
	return Map{
		"server":    Function(apiServer),
		"tick":      Function(func(c Call) { apiTimer(c, "tick", true) }),
		"after":     Function(func(c Call) { apiTimer(c, "after", false) }),
		"clear":     Function(apiClear),
		"env":       env,
		"args":      args,
		"worker_id": int64(inst.worker.id),
		// The main script's path and folder, for paths beside the script
		// (document_root, data files) wherever imscript was started.
		"script":     h.cfg.Script,
		"script_dir": inst.ScriptDir(),
		"version":    Version,
	}
}

// Version is the imscript version.
const Version = "0.1.0"

func apiServer(c Call) {
	m := c.Table(0, "settings")
	st, err := ParseSettings(m)
	if err != nil {
		Usagef("imscript.server: %v", err)
	}
	s := c.Instance().declareServer(st)
	c.Return(s.obj)
}

// Millis converts a script duration in milliseconds.
func Millis(ms float64) time.Duration {
	if ms < 0 || math.IsNaN(ms) {
		return 0
	}
	return time.Duration(ms * float64(time.Millisecond))
}

func apiTimer(c Call, name string, repeat bool) {
	ms := c.Float(0, "ms")
	fn := c.Func(1, "fn")
	if repeat && ms <= 0 {
		Usagef("imscript.%s: ms must be positive", name)
	}
	c.ReturnInt(c.Instance().AddTimer(Millis(ms), repeat, fn, nil))
}

func apiClear(c Call) {
	c.ReturnBool(c.Instance().ClearTimer(c.Int(0, "id")))
}

var serverType = &Type{
	Name: "server",
	Props: map[string]func(o *Object) Value{
		"port": func(o *Object) Value { return int64(o.Data.(*Server).Port()) },
		"host": func(o *Object) Value { return o.Data.(*Server).decl.Host },
		"type": func(o *Object) Value { return o.Data.(*Server).decl.Type },
	},
}

func init() {
	serverType.Methods = map[string]Function{
		"on":          srvOn,
		"send":        srvSend,
		"sendto":      srvSendTo,
		"close":       srvClose,
		"exist":       srvExist,
		"info":        srvInfo,
		"connections": srvConnections,
		"stats":       srvStats,
		"reload":      srvReload,
		"shutdown":    srvShutdown,
	}
}

func self(c Call) *Server {
	o := c.Self()
	if o == nil {
		Usagef("server method called without a server (use srv:method() in Lua)")
	}
	return o.Data.(*Server)
}

// eventsByType says which events fire on which server type.
var eventsByType = map[string][]int{
	"tcp": {hStart, hShutdown, hWorkerStart, hWorkerStop, hConnect, hReceive, hClose},
	"udp": {hStart, hShutdown, hWorkerStart, hWorkerStop, hPacket},
}

// laterEvents are events of the API that servers of this version do not fire.
var laterEvents = map[string]bool{"request": true, "open": true, "message": true, "task": true, "finish": true}

func srvOn(c Call) {
	s := self(c)
	name := c.Str(0, "event")
	fn := c.Func(1, "handler")
	inst := c.Instance()
	hs := inst.handlers[s]
	if hs == nil {
		Usagef("server.on: this server was declared by another version of the script")
	}
	for _, slot := range eventsByType[s.decl.Type] {
		if handlerNames[slot] == name {
			hs[slot] = fn
			return
		}
	}
	for _, n := range handlerNames {
		if n == name || laterEvents[name] {
			Usagef("server.on: event %q does not fire on %s servers", name, s.decl.Type)
		}
	}
	Usagef("server.on: unknown event %q", name)
}

func srvSend(c Call) {
	s := self(c)
	fd := c.Int(0, "fd")
	data := c.Bytes(1, "data")
	ok, why := s.Send(fd, data)
	if !ok {
		c.Fail(why)
		return
	}
	c.ReturnBool(true)
}

func srvSendTo(c Call) {
	s := self(c)
	ip := c.Str(0, "ip")
	port := c.Int(1, "port")
	data := c.Bytes(2, "data")
	ok, why := s.SendTo(ip, int(port), data)
	if !ok {
		c.Fail(why)
		return
	}
	c.ReturnBool(true)
}

func srvClose(c Call) {
	s := self(c)
	conn := s.conn(c.Int(0, "fd"))
	if conn == nil || !conn.Close() {
		c.Fail("no such connection")
		return
	}
	c.ReturnBool(true)
}

func srvExist(c Call) {
	s := self(c)
	conn := s.conn(c.Int(0, "fd"))
	c.ReturnBool(conn != nil && conn.Open())
}

func srvInfo(c Call) {
	s := self(c)
	if m := s.Info(c.Int(0, "fd")); m != nil {
		c.Return(m)
		return
	}
	c.Return(nil)
}

func srvConnections(c Call) {
	ids := self(c).Connections()
	l := make(List, len(ids))
	for i, id := range ids {
		l[i] = id
	}
	c.Return(l)
}

func srvStats(c Call) { c.Return(self(c).Stats()) }

func srvReload(c Call) {
	self(c).host.Reload("script called reload()")
	c.ReturnBool(true)
}

func srvShutdown(c Call) {
	self(c).host.Shutdown()
	c.ReturnBool(true)
}
