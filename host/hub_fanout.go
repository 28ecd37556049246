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
		if c != except && c.proto.push(c, m) {
			n++
		}
	}
	return n
}

// publish sends data to every local member of room but except, and to the
// room's members on other nodes. It returns how many local connections
// took it.
func (m *hub) publish(room string, data []byte, except *conn) int {
	n := fanout(m.members(room), &message{data: data}, except)
	_, err := m.b.Publish(roomChannel(room), data, broker.PublishOptions{})
	m.brokerErr("publish", roomChannel(room), err)
	return n
}

// sendToUID sends data to every connection of the uid, here and on other
// nodes. It returns how many local connections took it.
func (m *hub) sendToUID(key string, data []byte) int {
	n := fanout(m.connsOf(key), &message{data: data}, nil)
	_, err := m.b.Publish(uidChannel(key), data, broker.PublishOptions{})
	m.brokerErr("publish", uidChannel(key), err)
	return n
}

// hubEvents is the hub as the broker's Handler.
type hubEvents struct{ m *hub }

// Deliver hands a publication of another node to the local members.
func (e hubEvents) Deliver(ch broker.Channel, p broker.Publication) {
	var conns []*conn
	switch ch.Kind {
	case broker.Room:
		conns = e.m.members(ch.Name)
	case broker.User:
		conns = e.m.connsOf(ch.Name)
	}
	fanout(conns, &message{data: p.Data}, nil)
}

// PresenceChanged: presence is read from the broker when asked; nothing
// fires on a change yet.
func (hubEvents) PresenceChanged(broker.Channel, string, bool) {}
