package host

import (
	"github.com/imscript/imscript/broker"
)

// Fan-out: a room or uid message goes to the local connections now (each
// protocol encodes it once for all of them) and to the broker, which takes
// it to the other nodes with members; what other nodes publish arrives
// through Deliver.

// message is one message on its way to one or many connections (publish,
// sendToUid, push). enc holds its encodings by slot, made on first use by
// the protocols that frame it (proto_ws.go reserves two), so a message
// going to a thousand connections is framed once. A message is handled by
// one goroutine.
type message struct {
	data   []byte
	binary bool
	enc    [2][]byte
}

// fanout sends m to each connection but except and returns how many took
// it.
func fanout(conns []*conn, m *message, except *conn) int {
	n := 0
	for _, c := range conns {
		if c != except && c.proto().push(c, m) {
			n++
		}
	}
	return n
}

// publish sends data to every local member of room but except, and to the
// room's members on other nodes. It returns how many local connections
// took it and the publication (its seq with history).
func (m *hub) publish(room string, data []byte, o pubOpts) (int, broker.Publication, error) {
	return m.publishTo(roomChannel(room), data, o, func() map[*conn]uint64 { return m.rooms[room] })
}

// sendToUID sends data to every connection of the uid, here and on other
// nodes, and keeps it in the uid's personal channel with history. It
// returns how many local connections took it.
func (m *hub) sendToUID(key string, data []byte, o pubOpts) (int, broker.Publication, error) {
	return m.publishTo(uidChannel(key), data, o, func() map[*conn]uint64 { return m.uids[key] })
}

// hubEvents is the hub as the broker's Handler.
type hubEvents struct{ m *hub }

// Deliver hands a publication of another node to the local members that
// do not have it yet (a join's recovery may have given it already).
func (e hubEvents) Deliver(ch broker.Channel, p broker.Publication) {
	m := e.m
	defer m.unlock(ch, m.lock(ch))
	m.mu.RLock()
	var conns []*conn
	switch ch.Kind {
	case broker.Room:
		conns = targets(m.rooms[ch.Name], p.Seq)
	case broker.User:
		conns = targets(m.uids[ch.Name], p.Seq)
	}
	m.mu.RUnlock()
	m.h.deliveries.Add(1)
	if o := m.h.obs; o != nil && o.admin && ch.Kind == broker.Room {
		o.rooms.count(ch.Name)
	}
	fanout(conns, &message{data: p.Data}, nil)
}

// PresenceChanged: a uid came or went through another node.
func (e hubEvents) PresenceChanged(ch broker.Channel, uid string, present bool) {
	if ch.Kind != broker.Room {
		return
	}
	e.m.mu.RLock()
	defer e.m.mu.RUnlock()
	e.m.presenceEvent(ch.Name, uidValue(uid), present)
}
