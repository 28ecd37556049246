package host

import "github.com/imscript/imscript/script"

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

func srvBind(c script.Call) {
	conn := anyConn(c, 0)
	uid, key := argUID(c, 1)
	if conn == nil {
		c.Fail("no such connection")
		return
	}
	self(c).host.hub.bind(conn, uid, key)
	c.ReturnBool(true)
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

func srvSendToUID(c script.Call) {
	_, key := argUID(c, 0)
	data := c.Bytes(1, "data")
	c.ReturnInt(int64(self(c).host.hub.sendToUID(key, data)))
}

func srvJoin(c script.Call) {
	conn := anyConn(c, 0)
	room := argRoom(c, 1)
	if conn == nil {
		c.Fail("no such connection")
		return
	}
	if !self(c).host.hub.join(conn, room) {
		c.Fail("already in the room")
		return
	}
	c.ReturnBool(true)
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
	c.Return(self(c).host.hub.presence(argRoom(c, 0)))
}

func srvPublish(c script.Call) {
	s := self(c)
	room := argRoom(c, 0)
	data := c.Bytes(1, "data")
	var except *conn
	if c.NArgs() > 2 && c.Arg(2) != nil {
		except = s.host.conns.get(c.Int(2, "exceptFd"))
	}
	c.ReturnInt(int64(s.host.hub.publish(room, data, except)))
}
