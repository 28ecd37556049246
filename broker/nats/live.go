package nats

import (
	"github.com/imscript/imscript/broker"
	natsgo "github.com/nats-io/nats.go"
)

// Subscribe implements broker.Broker: the node's connection subscribes to
// ch's live subject, and the subscription reaches the server (a round
// trip) before Subscribe returns. Each subscription delivers on a goroutine
// of its own, in the order the server got the messages, so one channel's
// publications from one node arrive in the order they were made.
func (b *Broker) Subscribe(ch broker.Channel) error {
	if !ch.Valid() {
		return badChannel(ch)
	}
	b.mu.Lock()
	if b.closed.Load() {
		b.mu.Unlock()
		return broker.ErrClosed
	}
	if _, ok := b.subs[ch]; ok {
		b.mu.Unlock()
		return nil
	}
	sub, err := b.nc.Subscribe(liveSubject(ch), func(m *natsgo.Msg) { b.deliver(ch, m) })
	if err != nil {
		b.mu.Unlock()
		return b.fail("subscribing to", ch, err)
	}
	_ = sub.SetPendingLimits(pendingMsgs, pendingBytes)
	b.subs[ch] = sub
	b.mu.Unlock()
	if b.alone.Load() {
		return nil // no one else can publish: the subscription need not be there yet
	}
	if err := b.nc.FlushTimeout(b.timeout); err != nil {
		return b.fail("subscribing to", ch, err)
	}
	if b.kv != nil {
		if err := b.kv.watch(ch); err != nil { // presence changes (presence_kv.go)
			return b.fail("watching the presence of", ch, err)
		}
	}
	return nil
}

// Unsubscribe implements broker.Broker. A message already taken off the
// connection may still be delivered (as the Handler contract allows).
func (b *Broker) Unsubscribe(ch broker.Channel) error {
	if !ch.Valid() {
		return badChannel(ch)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Load() {
		return broker.ErrClosed
	}
	sub, ok := b.subs[ch]
	if !ok {
		return nil
	}
	delete(b.subs, ch)
	if b.kv != nil {
		b.kv.unwatch(ch)
	}
	if err := sub.Unsubscribe(); err != nil {
		return b.fail("unsubscribing from", ch, err)
	}
	return nil
}

// deliver hands a live message to the handler: not before Start, not
// after Close has begun, and never one this node sent.
func (b *Broker) deliver(ch broker.Channel, m *natsgo.Msg) {
	node := m.Header.Get(hdrNode)
	if node == b.node {
		return
	}
	seq, _ := headerUint(m, hdrSeq)
	t, _ := headerUint(m, hdrTime)
	p := broker.Publication{Data: m.Data, Seq: seq, Time: int64(t), Node: node}
	if stream, ok := headerUint(m, hdrStream); ok && seq > 0 {
		lm := lastMeta{seq: seq, stream: stream, time: p.Time}
		if size, ok := headerUint(m, hdrSize); ok { // else (an older node) the cache cannot take it
			ttl, _ := headerUint(m, hdrTTL)
			lm.size, lm.ttl = storedSize(int(min(size, 1<<31-1))), storedTTL(int64(min(ttl, 1<<63-1)))
		}
		b.learn(ch, p, lm)
	}
	hr := b.h.Load()
	if hr == nil {
		b.dropped.Add(1)
		return
	}
	b.dmu.RLock()
	if b.closed.Load() {
		b.dmu.RUnlock()
		b.dropped.Add(1)
		return
	}
	b.inflight.Add(1)
	b.dmu.RUnlock()
	defer b.inflight.Done()
	b.deliveries.Add(1)
	hr.h.Deliver(ch, p)
}
