package memory

import (
	"errors"
	"slices"

	"github.com/imscript/imscript/broker"
)

var errUID = errors.New("memory: empty uid")

// AddPresence implements broker.Broker. When uid was present through no
// node before, the other nodes subscribed to ch get PresenceChanged(true).
func (b *Broker) AddPresence(ch broker.Channel, uid string) (bool, error) {
	if !ch.Valid() {
		return false, badChannel(ch)
	}
	if uid == "" {
		return false, errUID
	}
	bus := b.bus
	bus.mu.Lock()
	if b.closed.Load() {
		bus.mu.Unlock()
		return false, broker.ErrClosed
	}
	m := bus.pres[ch]
	if m == nil {
		m = map[string][]*Broker{}
		bus.pres[ch] = m
	}
	nodes := m[uid]
	if slices.Contains(nodes, b) {
		bus.mu.Unlock()
		return false, nil
	}
	m[uid] = append(nodes, b)
	var c *channel
	first := len(nodes) == 0
	if first {
		c = bus.eventLocked(ch, uid, true, b)
	}
	bus.mu.Unlock()
	if c != nil {
		c.mu.Lock()
		c.drain()
	}
	return first, nil
}

// RemovePresence implements broker.Broker. When uid is then present through
// no node, the other nodes subscribed to ch get PresenceChanged(false).
func (b *Broker) RemovePresence(ch broker.Channel, uid string) (bool, error) {
	if !ch.Valid() {
		return false, badChannel(ch)
	}
	if uid == "" {
		return false, errUID
	}
	bus := b.bus
	bus.mu.Lock()
	if b.closed.Load() {
		bus.mu.Unlock()
		return false, broker.ErrClosed
	}
	var c *channel
	last := false
	if m := bus.pres[ch]; m != nil && bus.removePresenceLocked(ch, m, uid, m[uid], b) {
		last = true
		c = bus.eventLocked(ch, uid, false, b)
	}
	bus.mu.Unlock()
	if c != nil {
		c.mu.Lock()
		c.drain()
	}
	return last, nil
}

// Presence implements broker.Broker.
func (b *Broker) Presence(ch broker.Channel) ([]string, error) {
	if b.closed.Load() {
		return nil, broker.ErrClosed
	}
	if !ch.Valid() {
		return nil, badChannel(ch)
	}
	bus := b.bus
	bus.mu.RLock()
	m := bus.pres[ch]
	out := make([]string, 0, len(m))
	for uid := range m {
		out = append(out, uid)
	}
	bus.mu.RUnlock()
	slices.Sort(out)
	return out, nil
}

// removePresenceLocked removes b from the nodes uid is present through in
// ch (m is bus.pres[ch], nodes m[uid]) and reports whether uid is now absent;
// with bus.mu held.
func (bus *Bus) removePresenceLocked(ch broker.Channel, m map[string][]*Broker, uid string, nodes []*Broker, b *Broker) bool {
	i := slices.Index(nodes, b)
	if i < 0 {
		return false
	}
	nodes = slices.Delete(nodes, i, i+1)
	if len(nodes) > 0 {
		m[uid] = nodes
		return false
	}
	delete(m, uid)
	if len(m) == 0 {
		delete(bus.pres, ch)
	}
	return true
}

// eventLocked queues a presence change of uid in ch made through from, when
// another node subscribes ch, and returns the channel to drain once bus.mu
// is released (nil when no one is to be told); with bus.mu held. Queuing
// under bus.mu keeps the events in the order of the changes.
func (bus *Bus) eventLocked(ch broker.Channel, uid string, present bool, from *Broker) *channel {
	c := bus.chans[ch]
	if c == nil || !c.subscribedBesides(from) {
		return nil
	}
	c.mu.Lock()
	c.push(event{from: from, uid: uid, presence: true, present: present})
	c.mu.Unlock()
	return c
}
