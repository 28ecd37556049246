package host

import (
	"unicode/utf8"

	"github.com/imscript/imscript/host/internal/wire/wsframe"
	"github.com/imscript/imscript/script"
)

// srv, the server object: its events (on) and its connection methods (send,
// close, info, ...) and WebSocket ones (push, disconnect, isEstablished).
// The hub's methods (bind, join, publish, ...) are in api_server_hub.go,
// the tasks' in api_server_task.go, route in api_server_route.go.

var serverType = &script.Type{
	Name: "server",
	Props: map[string]func(o *script.Object) script.Value{
		"port": func(o *script.Object) script.Value { return int64(o.Data.(*Server).Port()) },
		"host": func(o *script.Object) script.Value { return o.Data.(*Server).decl.Host },
		"type": func(o *script.Object) script.Value { return o.Data.(*Server).decl.Type },
	},
}

func init() {
	serverType.Methods = map[string]script.Function{
		"on":          srvOn,
		"route":       srvRoute,
		"send":        srvSend,
		"sendto":      srvSendTo,
		"close":       srvClose,
		"exist":       srvExist,
		"info":        srvInfo,
		"connections": srvConnections,
		"stats":       srvStats,
		"reload":      srvReload,
		"shutdown":    srvShutdown,

		"push":          srvPush,
		"disconnect":    srvDisconnect,
		"isEstablished": srvIsEstablished,

		"bind":      srvBind,
		"unbind":    srvUnbind,
		"uid":       srvUID,
		"fds":       srvFds,
		"sendToUid": srvSendToUID,
		"join":      srvJoin,
		"leave":     srvLeave,
		"rooms":     srvRooms,
		"members":   srvMembers,
		"presence":  srvPresence,
		"publish":   srvPublish,
		"history":   srvHistory,
		"position":  srvPosition,

		"task":          srvTask,
		"taskwait":      srvTaskWait,
		"taskWaitMulti": srvTaskWaitMulti,
		"finish":        srvFinish,
	}
}

func self(c script.Call) *Server {
	return script.Receiver[*Server](c, "server method called without a server (use srv:method() in Lua)")
}

func srvOn(c script.Call) {
	s := self(c)
	name := c.Str(0, "event")
	fn := c.Func(1, "handler")
	inst := instOf(c)
	hs := inst.handlers[s]
	if hs == nil {
		script.Usagef("server.on: this server was declared by another version of the script")
	}
	for slot, n := range handlerNames {
		if n != name {
			continue
		}
		if !s.proto.fires(slot) {
			script.Usagef("server.on: event %q does not fire on %s servers", name, s.proto.name)
		}
		hs[slot] = fn
		return
	}
	script.Usagef("server.on: unknown event %q", name)
}

func srvSend(c script.Call) {
	s := self(c)
	fd := c.Int(0, "fd")
	data := c.Bytes(1, "data")
	ok, why := s.send(fd, data)
	if !ok {
		c.Fail(why)
		return
	}
	c.ReturnBool(true)
}

func srvSendTo(c script.Call) {
	s := self(c)
	ip := c.Str(0, "ip")
	port := c.Int(1, "port")
	data := c.Bytes(2, "data")
	ok, why := s.sendTo(ip, int(port), data)
	if !ok {
		c.Fail(why)
		return
	}
	c.ReturnBool(true)
}

func srvClose(c script.Call) {
	s := self(c)
	conn := s.conn(c.Int(0, "fd"))
	if conn == nil || !conn.Close() {
		c.Fail("no such connection")
		return
	}
	c.ReturnBool(true)
}

func srvExist(c script.Call) {
	s := self(c)
	conn := s.conn(c.Int(0, "fd"))
	c.ReturnBool(conn != nil && conn.Open())
}

func srvInfo(c script.Call) {
	s := self(c)
	if m := s.info(c.Int(0, "fd")); m != nil {
		c.Return(m)
		return
	}
	c.Return(nil)
}

func srvConnections(c script.Call) {
	ids := self(c).connections()
	l := make(script.List, len(ids))
	for i, id := range ids {
		l[i] = id
	}
	c.Return(l)
}

func srvStats(c script.Call) { c.Return(self(c).stats()) }

func srvReload(c script.Call) {
	self(c).host.Reload("script called reload()")
	c.ReturnBool(true)
}

func srvShutdown(c script.Call) {
	self(c).host.Shutdown()
	c.ReturnBool(true)
}

func srvPush(c script.Call) {
	s := self(c)
	fd := c.Int(0, "fd")
	data := c.Bytes(1, "data")
	binary := false
	kind := ""
	if c.NArgs() > 2 && c.Arg(2) != nil {
		kind = c.Str(2, "opcode")
	} else if _, isBytes := c.Arg(1).([]byte); isBytes {
		kind = "binary" // a JS Buffer
	}
	switch kind {
	case "", "text":
	case "binary":
		binary = true
	default:
		script.Usagef("server.push: opcode must be \"text\" or \"binary\", got %q", kind)
	}
	if !binary && !utf8.Valid(data) {
		script.Usagef("server.push: text frames must be valid UTF-8 (push binary data with \"binary\")")
	}
	ok, why := s.push(fd, data, binary)
	if !ok {
		c.Fail(why)
		return
	}
	c.ReturnBool(true)
}

func srvDisconnect(c script.Call) {
	s := self(c)
	fd := c.Int(0, "fd")
	code := c.OptInt(1, "code", 1000)
	reason := c.OptStr(2, "reason", "")
	if !wsframe.ValidCloseCode(int(code)) {
		script.Usagef("server.disconnect: %d is not a close code a server may send (1000-1003, 1007-1014, 3000-4999)", code)
	}
	if len(reason) > 123 || !utf8.ValidString(reason) {
		script.Usagef("server.disconnect: reason must be valid UTF-8 of at most 123 bytes")
	}
	ok, why := s.disconnect(fd, int(code), reason)
	if !ok {
		c.Fail(why)
		return
	}
	c.ReturnBool(true)
}

func srvIsEstablished(c script.Call) {
	s := self(c)
	conn := s.conn(c.Int(0, "fd"))
	ws := (*wsConn)(nil)
	if conn != nil {
		ws = wsOf(conn)
	}
	c.ReturnBool(conn != nil && conn.Open() && ws != nil && ws.open.Load())
}
