package nats

import (
	"errors"

	"github.com/imscript/imscript/broker"
)

// Presence is node-local for now: a broker/memory node of its own keeps
// the set of uids per channel (idempotent per node, as the contract says),
// and there is no other node to tell. The cluster step keeps presence in a
// JetStream KV bucket, one key per (channel, uid, node) with a TTL, and
// sends PresenceChanged from its watcher.

var errUID = errors.New("nats broker: empty uid")

// AddPresence implements broker.Broker.
func (b *Broker) AddPresence(ch broker.Channel, uid string) (bool, error) {
	if err := b.presenceArgs(ch, uid); err != nil {
		return false, err
	}
	return b.pres.AddPresence(ch, uid)
}

// RemovePresence implements broker.Broker.
func (b *Broker) RemovePresence(ch broker.Channel, uid string) (bool, error) {
	if err := b.presenceArgs(ch, uid); err != nil {
		return false, err
	}
	return b.pres.RemovePresence(ch, uid)
}

// Presence implements broker.Broker.
func (b *Broker) Presence(ch broker.Channel) ([]string, error) {
	if b.closed.Load() {
		return nil, broker.ErrClosed
	}
	if !ch.Valid() {
		return nil, badChannel(ch)
	}
	return b.pres.Presence(ch)
}

func (b *Broker) presenceArgs(ch broker.Channel, uid string) error {
	if b.closed.Load() {
		return broker.ErrClosed
	}
	if !ch.Valid() {
		return badChannel(ch)
	}
	if uid == "" {
		return errUID
	}
	return nil
}
