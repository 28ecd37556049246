package nats

import (
	"errors"

	"github.com/imscript/imscript/broker"
)

// Presence: one node keeps it to itself (a broker/memory node of its own:
// idempotent per node, as the contract says, and there is no other node to
// tell); a cluster keeps it in a key-value bucket (presence_kv.go).

var errUID = errors.New("nats broker: empty uid")

// AddPresence implements broker.Broker.
func (b *Broker) AddPresence(ch broker.Channel, uid string) (bool, error) {
	if err := b.presenceArgs(ch, uid); err != nil {
		return false, err
	}
	if b.kv == nil {
		return b.pres.AddPresence(ch, uid)
	}
	first, err := b.kv.add(ch, uid)
	if err != nil {
		return first, b.fail("adding presence to", ch, err)
	}
	return first, nil
}

// RemovePresence implements broker.Broker.
func (b *Broker) RemovePresence(ch broker.Channel, uid string) (bool, error) {
	if err := b.presenceArgs(ch, uid); err != nil {
		return false, err
	}
	if b.kv == nil {
		return b.pres.RemovePresence(ch, uid)
	}
	last, err := b.kv.remove(ch, uid)
	if err != nil {
		return last, b.fail("removing presence from", ch, err)
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
	if b.kv == nil {
		return b.pres.Presence(ch)
	}
	uids, err := b.kv.list(ch)
	if err != nil {
		return nil, b.fail("reading the presence of", ch, err)
	}
	return uids, nil
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
