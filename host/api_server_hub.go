package host

import (
	"bytes"

	"github.com/imscript/imscript/broker"
	"github.com/imscript/imscript/script"
)

// The server's hub methods: uids (bind, unbind, uid, fds, sendToUid) and
// rooms (join, leave, rooms, members, presence, publish). The hub is
// host-wide: any server's object reaches every connection (hub.go).

// anyConn finds a live connection of any server (the hub is host-wide).
func anyConn(c script.Call, i int) *conn {
	conn := self(c).host.conns.get(c.Int(i, "fd"))
	if conn == nil || !conn.Open() {
		return nil
	}
	return conn
}

func argUID(c script.Call, i int) (script.Value, string) {
	v := c.Arg(i)
	key, ok := uidKey(v)
	if !ok {
		script.Usagef("bad argument #%d (uid): a non-empty string or a number expected, got %s", i+1, script.TypeName(v))
	}
	return v, key
}

func argRoom(c script.Call, i int) string {
	room := c.Str(i, "room")
	if room == "" {
		script.Usagef("bad argument #%d (room): must not be empty", i+1)
	}
	return room
}

// argRecover reads the { since =, epoch = } of join and bind.
func argRecover(c script.Call, i int) *recoverOpts {
	opts := c.OptTable(i, "options")
	if opts == nil {
		return nil
	}
	rec := &recoverOpts{}
	given := false
	for k, v := range opts {
		if v == nil {
			continue // JS: { epoch: undefined }
		}
		switch k {
		case "since":
			n, ok := wholeNumber(v)
			if !ok || n < 0 {
				script.Usagef("bad argument #%d (options): since: a seq (a whole number >= 0) expected, got %s", i+1, script.TypeName(v))
			}
			rec.since, given = uint64(n), true
		case "epoch":
			e, ok := v.(string)
			if !ok {
				script.Usagef("bad argument #%d (options): epoch: a string expected, got %s", i+1, script.TypeName(v))
			}
			rec.epoch = e
		default:
			script.Usagef("bad argument #%d (options): unknown option %q (since, epoch)", i+1, k)
		}
	}
	if !given {
		return nil
	}
	return rec
}

func srvBind(c script.Call) {
	conn := anyConn(c, 0)
	uid, key := argUID(c, 1)
	rec := argRecover(c, 2)
	if conn == nil {
		c.Fail("no such connection")
		return
	}
	m := &self(c).host.hub
	if m.recoversRemotely(c, rec) {
		opts := c.NArgs() >= 3
		offWorker(c, m, "bind", func() script.Results {
			res, ok := m.bind(conn, uid, key, rec)
			switch {
			case !ok:
				return script.Results{false, "no such connection"}
			case !opts:
				return script.Results{true}
			}
			return script.Results{res.value()}
		})
		return
	}
	res, ok := m.bind(conn, uid, key, rec)
	switch {
	case !ok:
		c.Fail("no such connection")
	case c.NArgs() < 3:
		c.ReturnBool(true)
	default:
		res.returnTo(c)
	}
}

// recoversRemotely reports whether a join or bind with rec reads the
// channel's position or recovery from a cluster, where the script can
// wait for it off the worker (offWorker).
func (m *hub) recoversRemotely(c script.Call, rec *recoverOpts) bool {
	return m.remote && canWait(c) && (rec != nil || m.h.chanSettings().HistorySize > 0)
}

func srvUnbind(c script.Call) {
	conn := anyConn(c, 0)
	if conn == nil || !self(c).host.hub.unbind(conn) {
		c.Fail("connection not bound")
		return
	}
	c.ReturnBool(true)
}

func srvUID(c script.Call) {
	conn := self(c).host.conns.get(c.Int(0, "fd"))
	if conn == nil {
		c.Return(nil)
		return
	}
	c.Return(self(c).host.hub.uidOf(conn))
}

func fdList(conns []*conn) script.List {
	l := make(script.List, 0, len(conns))
	for _, conn := range conns {
		if conn.Open() {
			l = append(l, conn.id)
		}
	}
	return l
}

func srvFds(c script.Call) {
	_, key := argUID(c, 0)
	c.Return(fdList(self(c).host.hub.connsOf(key)))
}

// argPayload reads the data of publish and sendToUid: bytes as they are,
// or a table JSON-encoded (seq and ts are added to it).
func argPayload(c script.Call, i int) (data []byte, stamped bool) {
	switch v := c.Arg(i).(type) {
	case script.Map, script.List:
		data, stamped, err := encodePayload(v)
		if err != nil {
			script.Usagef("bad argument #%d (data): %v", i+1, err)
		}
		return data, stamped
	}
	return c.Bytes(i, "data"), false
}

// published is what publish and sendToUid return: count, seq, or false
// and the reason.
func published(n int, p broker.Publication, err error) script.Results {
	if err != nil {
		return script.Results{false, "history: " + err.Error()}
	}
	return script.Results{int64(n), int64(p.Seq)}
}

func srvSendToUID(c script.Call) {
	_, key := argUID(c, 0)
	data, stamped := argPayload(c, 1)
	o := argPubOpts(c, 2, false)
	o.stamped = stamped
	m := &self(c).host.hub
	if m.remote {
		data = bytes.Clone(data) // a JS Buffer's bytes: the script goes on and may change them
	}
	offWorker(c, m, "sendToUid", func() script.Results { return published(m.sendToUID(key, data, o)) })
}

// argPubOpts reads the last argument of publish / sendToUid: exceptFd, or
// { except = fd, history = false }.
func argPubOpts(c script.Call, i int, except bool) pubOpts {
	var o pubOpts
	switch v := c.Arg(i).(type) {
	case nil:
	case script.Map:
		for k, x := range v {
			switch {
			case x == nil:
			case k == "except" && except:
				fd, ok := wholeNumber(x)
				if !ok {
					script.Usagef("bad argument #%d (options): except: an fd expected, got %s", i+1, script.TypeName(x))
				}
				o.except = self(c).host.conns.get(fd)
			case k == "history":
				keep, ok := x.(bool)
				if !ok {
					script.Usagef("bad argument #%d (options): history: a boolean expected, got %s", i+1, script.TypeName(x))
				}
				o.noHistory = !keep
			default:
				script.Usagef("bad argument #%d (options): unknown option %q", i+1, k)
			}
		}
	default:
		if !except {
			script.Usagef("bad argument #%d (options): a table expected, got %s", i+1, script.TypeName(v))
		}
		o.except = self(c).host.conns.get(c.Int(i, "exceptFd"))
	}
	return o
}

func srvJoin(c script.Call) {
	conn := anyConn(c, 0)
	room := argRoom(c, 1)
	rec := argRecover(c, 2)
	if conn == nil {
		c.Fail("no such connection")
		return
	}
	m := &self(c).host.hub
	refused := func() string {
		if !conn.Open() {
			return "no such connection"
		}
		return "already in the room"
	}
	if m.recoversRemotely(c, rec) {
		offWorker(c, m, "join", func() script.Results {
			res, ok := m.join(conn, room, rec)
			if !ok {
				return script.Results{false, refused()}
			}
			return script.Results{res.value()}
		})
		return
	}
	res, ok := m.join(conn, room, rec)
	if !ok {
		c.Fail(refused())
		return
	}
	res.returnTo(c)
}

func srvLeave(c script.Call) {
	conn := self(c).host.conns.get(c.Int(0, "fd"))
	room := argRoom(c, 1)
	if conn == nil || !self(c).host.hub.leave(conn, room) {
		c.Fail("not in the room")
		return
	}
	c.ReturnBool(true)
}

func srvRooms(c script.Call) {
	conn := self(c).host.conns.get(c.Int(0, "fd"))
	l := script.List{}
	if conn != nil {
		for _, r := range self(c).host.hub.roomsOf(conn) {
			l = append(l, r)
		}
	}
	c.Return(l)
}

func srvMembers(c script.Call) {
	c.Return(fdList(self(c).host.hub.members(argRoom(c, 0))))
}

func srvPresence(c script.Call) {
	m, room := &self(c).host.hub, argRoom(c, 0)
	offWorker(c, m, "presence", func() script.Results { return script.Results{m.presence(room)} })
}

func srvPublish(c script.Call) {
	s := self(c)
	room := argRoom(c, 0)
	data, stamped := argPayload(c, 1)
	o := argPubOpts(c, 2, true)
	o.stamped = stamped
	m := &s.host.hub
	if m.remote {
		data = bytes.Clone(data) // a JS Buffer's bytes: the script goes on and may change them
	}
	offWorker(c, m, "publish", func() script.Results { return published(m.publish(room, data, o)) })
}

// srvHistory is srv:history(room [, {since =, before =, limit = 50}]):
// the publications kept, oldest first, as {seq, ts, data}, and the
// room's {seq, epoch} (Lua: a second value; JS: srv.position(room)).
func srvHistory(c script.Call) {
	room := argRoom(c, 0)
	q := broker.HistoryQuery{Limit: 50}
	for k, v := range c.OptTable(1, "options") {
		if v == nil {
			continue
		}
		n, ok := wholeNumber(v)
		if !ok || n < 0 {
			script.Usagef("bad argument #2 (options): %s: a whole number >= 0 expected, got %s", k, script.TypeName(v))
		}
		switch k {
		case "since":
			q.Since = uint64(n)
		case "before":
			q.Before = uint64(n)
		case "limit":
			q.Limit = int(min(n, 10000))
		default:
			script.Usagef("bad argument #2 (options): unknown option %q (since, before, limit)", k)
		}
	}
	if q.Limit == 0 {
		q.Limit = 50
	}
	m := &self(c).host.hub
	offWorker(c, m, "history", func() script.Results {
		pubs, pos, err := m.history(room, q)
		if err != nil {
			return script.Results{false, "history: " + err.Error()}
		}
		l := make(script.List, len(pubs))
		for i, p := range pubs {
			l[i] = script.Map{"seq": int64(p.Seq), "ts": p.Time, "data": string(p.Data)}
		}
		return script.Results{l, positionValue(pos)}
	})
}

func positionValue(pos broker.Position) script.Value {
	return script.Map{"seq": int64(pos.Seq), "epoch": pos.Epoch}
}

// srvPosition is srv:position(room) → {seq, epoch}: where the room's
// history stands.
func srvPosition(c script.Call) {
	m, room := &self(c).host.hub, argRoom(c, 0)
	offWorker(c, m, "position", func() script.Results {
		_, pos, err := m.history(room, broker.HistoryQuery{Since: ^uint64(0)})
		if err != nil {
			return script.Results{false, "history: " + err.Error()}
		}
		return script.Results{positionValue(pos)}
	})
}

// wholeNumber reads an option that must be a whole number.
func wholeNumber(v script.Value) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case float64:
		if x == float64(int64(x)) {
			return int64(x), true
		}
	}
	return 0, false
}
