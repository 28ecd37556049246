package nats

import (
	"time"

	"github.com/imscript/imscript/broker"
	natsgo "github.com/nats-io/nats.go"
)

// Subscribe implements broker.Broker: the node's connection subscribes to
// ch's live subject, and the subscription reaches the server (a round
// trip) and the other nodes' servers (reach) before Subscribe returns. Each subscription delivers on a goroutine
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
	b.reach()
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

// reachSubject is the subject every node of a cluster answers (with its
// name) once its broker is ready: reach's requests.
const reachSubject = livePrefix + "reach"

// answerReach makes this node answer reach's requests.
func (b *Broker) answerReach() error {
	_, err := b.nc.Subscribe(reachSubject, func(m *natsgo.Msg) {
		if m.Reply != "" {
			_ = m.Respond([]byte(b.node))
		}
	})
	return err
}

// reach waits until the servers of the other nodes alive know of this
// node's subscriptions made so far, so that a publication made on another
// node after Subscribe returned is delivered here. A server tells its
// routes of a new subscription asynchronously: FlushTimeout only proves
// that this node's own server has it, and a publication on another node
// in the next milliseconds would go nowhere here. A server sends a
// route's subscriptions and messages of one account in order on one
// connection, so once a node answers a request sent after the
// subscription, its server has the subscription. reach asks every node
// at once and waits for the answers of those Nodes lists, at most
// reachWait: a node listed but dead (until the presence TTL drops it) or
// one that is still starting does not answer, and costs that wait.
func (b *Broker) reach() {
	if b.kv == nil {
		return
	}
	want := map[string]bool{}
	for _, n := range b.Nodes() {
		if n != b.node {
			want[n] = true
		}
	}
	if len(want) == 0 {
		return
	}
	inbox := b.nc.NewInbox()
	// Room for every answer (nodes that started since the list was made
	// answer too): a full channel would count as a slow consumer.
	replies := make(chan *natsgo.Msg, len(want)+64)
	sub, err := b.nc.ChanSubscribe(inbox, replies)
	if err != nil {
		return
	}
	defer sub.Unsubscribe()
	if err := b.nc.PublishRequest(reachSubject, inbox, nil); err != nil {
		return
	}
	t := time.NewTimer(b.reachWait())
	defer t.Stop()
	for len(want) > 0 {
		select {
		case m := <-replies:
			delete(want, string(m.Data))
		case <-t.C:
			b.unreached.Add(1)
			b.log.Debug("nats broker: a subscription went on without every node's answer", "missing", len(want))
			return
		case <-b.stop:
			return
		}
	}
}

// reachWait is how long reach waits for the nodes' answers.
func (b *Broker) reachWait() time.Duration { return max(b.timeout/5, 100*time.Millisecond) }
