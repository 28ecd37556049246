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
	Doc:  "A server declared with imscript.server: its events (on) and the methods that reach its connections.",
	Props: map[string]func(o *script.Object) script.Value{
		"port": func(o *script.Object) script.Value { return int64(o.Data.(*Server).Port()) },
		"host": func(o *script.Object) script.Value { return o.Data.(*Server).decl.Host },
		"type": func(o *script.Object) script.Value { return o.Data.(*Server).decl.Type },
	},
	Fields: map[string]script.Field{
		"port": {Type: "integer", Doc: "The port it listens on (the one picked for port = 0, once started)."},
		"host": {Type: "string", Doc: "The address it listens on."},
		"type": {Type: `"tcp"|"udp"|"http"|"websocket"`, Doc: "The server type."},
	},
	Events: []script.Event{
		{Name: "start", Args: "srv: Server", Doc: "Once, when the listeners are up."},
		{Name: "shutdown", Args: "srv: Server", Doc: "Once, on the way down."},
		{Name: "workerStart", Args: "srv: Server, workerId: integer", Doc: "On every worker VM, also around a reload."},
		{Name: "workerStop", Args: "srv: Server, workerId: integer", Doc: "On every worker VM, also around a reload."},
		{Name: "connect", Args: "srv: Server, fd: integer", Doc: "A connection was accepted."},
		{Name: "receive", Args: "srv: Server, fd: integer, data: bytes", Doc: "tcp: data (one package with framing settings) arrived."},
		{Name: "close", Args: "srv: Server, fd: integer", Doc: "A connection closed."},
		{Name: "packet", Args: "srv: Server, data: bytes, addr: {address: string, port: integer}", Doc: "udp: a datagram arrived."},
		{Name: "request", Args: "req: HttpRequest, res: HttpResponse", Doc: "http and websocket servers: a request no route took."},
		{Name: "handshake", Args: "req: HttpRequest, res: HttpResponse", Returns: "any", Doc: "websocket: before the upgrade; return false (or answer with res) to refuse it."},
		{Name: "open", Args: "srv: Server, req: HttpRequest", Doc: "websocket: the handshake is done (req.fd is the connection)."},
		{Name: "message", Args: "srv: Server, frame: WebsocketFrame", Doc: "websocket: a message arrived."},
		{Name: "task", Args: "srv: Server, taskId: integer, fromWorkerId: integer, data: any", Returns: "any", Doc: "On a task worker: the return value is the task's result."},
		{Name: "finish", Args: "srv: Server, taskId: integer, result: any", Doc: "A task submitted without a callback has finished."},
		{Name: "presence", Args: `srv: Server, room: string, uid: string|integer, what: "join"|"leave"`, Doc: "presence_events: a uid's first connection entered / last one left a room."},
	},
}

func init() {
	serverType.Define(map[string]script.Method{
		"on":          {Fn: srvOn, Args: "event: string, handler: function", Doc: "Sets the handler of an event."},
		"route":       {Fn: srvRoute, Args: "method: string, pattern: string, handler: fun(req: HttpRequest, res: HttpResponse)", Doc: `http: handles method (or "*") requests to pattern ("/users/:id" sets req.params.id).`},
		"send":        {Fn: srvSend, Args: "fd: integer, data: string|bytes", Returns: "boolean, string?", Doc: "tcp: writes data to a connection; false (and why) when it cannot."},
		"sendto":      {Fn: srvSendTo, Args: "ip: string, port: integer, data: string|bytes", Returns: "boolean, string?", Doc: "udp: sends a datagram."},
		"close":       {Fn: srvClose, Args: "fd: integer", Returns: "boolean, string?", Doc: "Closes a connection."},
		"exist":       {Fn: srvExist, Args: "fd: integer", Returns: "boolean", Doc: "Whether the connection is alive."},
		"info":        {Fn: srvInfo, Args: "fd: integer", Returns: "ConnectionInfo?", Doc: "What is known of a connection, or nil."},
		"connections": {Fn: srvConnections, Returns: "integer[]", Doc: "Every live fd of this server, across all workers."},
		"stats":       {Fn: srvStats, Returns: "ServerStats", Doc: "The server's counters."},
		"reload":      {Fn: srvReload, Returns: "boolean", Doc: "Reloads the script (as SIGHUP)."},
		"shutdown":    {Fn: srvShutdown, Returns: "boolean", Doc: "Stops the host (as SIGTERM)."},

		"push":          {Fn: srvPush, Args: `fd: integer, data: string|bytes, opcode?: "text"|"binary"`, Returns: "boolean, string?", Doc: "websocket: sends a frame (binary for bytes unless told)."},
		"disconnect":    {Fn: srvDisconnect, Args: "fd: integer, code?: integer, reason?: string", Returns: "boolean, string?", Doc: "websocket: sends a close frame, then closes."},
		"isEstablished": {Fn: srvIsEstablished, Args: "fd: integer", Returns: "boolean", Doc: "websocket: whether the handshake is done and the connection open."},

		"bind":      {Fn: srvBind, Args: "fd: integer, uid: string|integer, options?: {since?: integer, epoch?: string}", Returns: "JoinResult|boolean, string?", Doc: "Attaches a user id to a connection; with options, recovers the uid's personal channel (in a cluster JS gets a Promise of the result when it recovers or history is on: await it)."},
		"unbind":    {Fn: srvUnbind, Args: "fd: integer", Returns: "boolean, string?", Doc: "Detaches the connection's user id."},
		"uid":       {Fn: srvUID, Args: "fd: integer", Returns: "string|integer|nil", Doc: "The connection's user id, or nil."},
		"fds":       {Fn: srvFds, Args: "uid: string|integer", Returns: "integer[]", Doc: "The connections of a user on this node."},
		"sendToUid": {Fn: srvSendToUID, Args: "uid: string|integer, data: string|bytes|table, options?: {history?: boolean}", Returns: "integer|false, integer|string", Doc: "Sends to every connection of a user; returns how many and the seq (in a cluster JS gets a Promise of the count: await it)."},
		"join":      {Fn: srvJoin, Args: "fd: integer, room: string, options?: {since?: integer, epoch?: string}", Returns: "JoinResult|false, string?", Doc: "Joins a room; with since, first delivers what the connection missed (in a cluster JS gets a Promise of the result when it recovers or history is on: await it)."},
		"leave":     {Fn: srvLeave, Args: "fd: integer, room: string", Returns: "boolean, string?", Doc: "Leaves a room."},
		"rooms":     {Fn: srvRooms, Args: "fd: integer", Returns: "string[]", Doc: "The rooms of a connection."},
		"members":   {Fn: srvMembers, Args: "room: string", Returns: "integer[]", Doc: "The fds in a room on this node."},
		"presence":  {Fn: srvPresence, Args: "room: string", Returns: "(string|integer)[]", Doc: "The distinct uids in a room (cluster-wide; in a cluster JS gets a Promise: await it)."},
		"publish":   {Fn: srvPublish, Args: "room: string, data: string|bytes|table, options?: integer|{except?: integer, history?: boolean}", Returns: "integer|false, integer|string", Doc: "Sends to every member of a room (but except); returns how many and the seq (in a cluster JS gets a Promise of the count: await it)."},
		"history":   {Fn: srvHistory, Args: "room: string, options?: {since?: integer, before?: integer, limit?: integer}", Returns: "HistoryItem[]|false, Position|string", Doc: "The messages kept for a room, oldest first, and its position (in a cluster JS gets a Promise: await it)."},
		"position":  {Fn: srvPosition, Args: "room: string", Returns: "Position|false, string?", Doc: "The room's last seq and its epoch (in a cluster JS gets a Promise: await it)."},

		"task":          {Fn: srvTask, Args: "data: any, callback?: fun(srv: Server, taskId: integer, result: any)", Returns: "integer|false, string?", Doc: "Submits a task to the task workers; returns its id."},
		"taskwait":      {Fn: srvTaskWait, Args: "data: any, timeout?: number", Returns: "any, string?", Doc: "Runs a task and waits for its result (seconds; a Lua handler suspends)."},
		"taskWaitMulti": {Fn: srvTaskWaitMulti, Args: "tasks: any[], timeout?: number", Returns: "any[]", Doc: "Runs tasks and waits for their results (nil for those not done in time)."},
		"finish":        {Fn: srvFinish, Args: "result: any", Returns: "boolean", Doc: "On a task worker: sets the running task's result."},
	})
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
	ok, why := s.send(instOf(c).worker, fd, data)
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
	const none = "\x00" // no opcode argument (nil, undefined or left out)
	kind := c.OptStr(2, "opcode", none)
	if kind == none {
		kind = ""
		if _, isBytes := c.Arg(1).([]byte); isBytes {
			kind = "binary" // a JS Buffer
		}
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
	ok, why := s.push(instOf(c).worker, fd, data, binary)
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
