package nats

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imscript/imscript/broker"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// maxChans bounds the channels whose publication state is cached when no
// publication is using them; beyond it a state is dropped when its last
// user leaves (the next publication reads the channel's last message again).
const maxChans = 1 << 16

// chanState is what a node knows of a channel's history stream: the stream
// sequence and seq of its last message (when loaded) and that message's
// time. mu serialises the node's publications with history to the channel.
type chanState struct {
	refs int // publications using it; guarded by Broker.mu

	mu     sync.Mutex
	subj   string
	loaded bool
	stream uint64 // stream sequence of the last message, 0 when none
	seq    uint64 // its seq
	time   int64  // its time: a publication's time is never before it

	// hint is the newest message of the channel another node told of (its
	// live publication carries its stream sequence): a publication that
	// lost the channel's next seq to that node retries at once, without
	// reading the stream.
	hint atomic.Pointer[lastMsg]
}

type lastMsg struct {
	stream, seq uint64
	time        int64
}

// learn records that another node stored seq at stream sequence stream.
func (st *chanState) learn(stream, seq uint64, t int64) {
	h := &lastMsg{stream, seq, t}
	for {
		old := st.hint.Load()
		if old != nil && old.stream >= stream {
			return
		}
		if st.hint.CompareAndSwap(old, h) {
			return
		}
	}
}

// useHint takes the hint when it is newer than the last message st knew
// of, loaded or not (a hint older than this node's own last publication
// is no news); with st.mu held. The stream still checks it: a publication
// expects its stream sequence.
func (st *chanState) useHint() {
	if h := st.hint.Load(); h != nil && h.stream > st.stream {
		st.stream, st.seq, st.time, st.loaded = h.stream, h.seq, max(st.time, h.time), true
	}
}

// acquire returns ch's state, made if need be, for one publication.
func (b *Broker) acquire(ch broker.Channel) *chanState {
	b.mu.Lock()
	st := b.chans[ch]
	if st == nil {
		st = &chanState{subj: histSubject(ch)}
		b.chans[ch] = st
	}
	st.refs++
	b.mu.Unlock()
	return st
}

// release ends a publication's use of ch's state.
func (b *Broker) release(ch broker.Channel, st *chanState) {
	b.mu.Lock()
	if st.refs--; st.refs == 0 && len(b.chans) > maxChans {
		delete(b.chans, ch)
	}
	b.mu.Unlock()
}

// load reads the channel's last message into st; with st.mu held.
func (b *Broker) load(st *chanState) error {
	e, err := b.last(st.subj)
	switch {
	case errors.Is(err, errNotFound):
		st.stream, st.seq, st.time = 0, 0, 0
	case err != nil:
		return err
	default:
		st.stream, st.seq, st.time = e.stream, e.pub.Seq, e.pub.Time
	}
	st.loaded = true
	return nil
}

// conflict reports whether err is JetStream refusing a publication because
// the subject's last message is no longer the one expected, and that
// message's stream sequence when the error tells it (0 when not).
func conflict(err error) (uint64, bool) {
	var je jetstream.JetStreamError
	if !errors.As(err, &je) || je.APIError() == nil {
		return 0, false
	}
	ae := je.APIError()
	switch ae.ErrorCode {
	case jetstream.JSErrCodeStreamWrongLastSequence:
		// "wrong last sequence: 212"
		_, n, _ := strings.Cut(ae.Description, ": ")
		last, _ := strconv.ParseUint(strings.TrimSpace(n), 10, 64)
		return last, true
	case jetstream.JSErrCodeStreamWrongLastSequenceConstant:
		return 0, true
	}
	return 0, false
}

// Publish implements broker.Broker. With history it stores the publication
// first (the seq is the channel's last + 1, stored only if the channel's
// last message is still the one this node knows of; see the package
// comment), then sends it to the other nodes, all under the channel's
// lock, so this node's publications of a channel go out in seq order.
func (b *Broker) Publish(ch broker.Channel, data []byte, opts broker.PublishOptions) (broker.Publication, error) {
	if b.closed.Load() {
		return broker.Publication{}, broker.ErrClosed
	}
	if !ch.Valid() {
		return broker.Publication{}, badChannel(ch)
	}
	if opts.HistorySize <= 0 {
		p := broker.Publication{Data: data, Time: b.now().UnixMilli(), Node: b.node}
		if opts.Stamp != nil {
			p.Data = opts.Stamp(0, p.Time, data)
		}
		if err := b.sendLive(ch, p, 0, 0, 0); err != nil {
			return broker.Publication{}, b.fail("publishing to", ch, err)
		}
		b.publishes.Add(1)
		return p, nil
	}
	if err := b.ensureLimit(opts.HistorySize); err != nil {
		return broker.Publication{}, b.fail("publishing to", ch, err)
	}
	st := b.acquire(ch)
	defer b.release(ch, st)
	st.mu.Lock()
	defer st.mu.Unlock()
	p, err := b.store(ch, st, data, opts)
	if err != nil {
		return broker.Publication{}, b.fail("publishing to", ch, err)
	}
	if err := b.sendLive(ch, p, st.stream, opts.HistorySize, ttlMillis(opts.HistoryTTL)); err != nil {
		return broker.Publication{}, b.fail("publishing to", ch, err)
	}
	b.publishes.Add(1)
	return p, nil
}

// ttlMillis is a HistoryTTL as stored: whole milliseconds, rounded up (0:
// none).
func ttlMillis(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// store appends data to ch's channel (st) with the next seq, and gives it
// to the history cache; with st.mu held. A failure whose outcome is unknown
// (no answer from the stream: it may still be stored) puts ch in doubt for
// the cache.
func (b *Broker) store(ch broker.Channel, st *chanState, data []byte, opts broker.PublishOptions) (broker.Publication, error) {
	ttl := ttlMillis(opts.HistoryTTL)
	deadline := time.Now().Add(b.timeout)
	call := b.pubCalls.Add(1)
	for conflicts := 0; ; {
		st.useHint()
		if !st.loaded {
			if err := b.load(st); err != nil {
				return broker.Publication{}, err
			}
		}
		p := broker.Publication{Data: data, Seq: st.seq + 1, Time: max(b.now().UnixMilli(), st.time), Node: b.node}
		if opts.Stamp != nil { // again on every attempt: the seq may differ
			p.Data = opts.Stamp(p.Seq, p.Time, data)
		}
		m := &natsgo.Msg{Subject: st.subj, Data: appendEnvelope(nil, p, opts.HistorySize, ttl), Header: natsgo.Header{
			hdrSeq:  {strconv.FormatUint(p.Seq, 10)},
			hdrTime: {strconv.FormatInt(p.Time, 10)},
			hdrNode: {b.node},
			hdrSize: {strconv.Itoa(opts.HistorySize)},
			hdrTTL:  {strconv.FormatInt(ttl, 10)},
		}}
		// An attempt that gets no answer (the stream's leader died and
		// another is being elected) is sent again with the same message
		// id until the deadline: if the first one was stored after all,
		// the stream answers the repeat as a duplicate with the first
		// one's ack, so a publication is stored once either way.
		//
		// The id is this publication's own (the broker's instance, the
		// call, the seq): an id made of the node and the seq alone would
		// be the same as the node's earlier publication of that seq, and
		// a publication that expected a stale last message (a doubt, a
		// lagging read) would be answered as that one's duplicate:
		// acknowledged, and never stored.
		id := b.pubID + strconv.FormatUint(call, 36) + "." + strconv.FormatUint(p.Seq, 10)
		var ack *jetstream.PubAck
		var err error
		unanswered := false // a try got no answer: it may have been stored
		for {
			left := time.Until(deadline)
			ctx, cancel := context.WithTimeout(context.Background(), max(min(left, b.timeout/5), time.Millisecond))
			ack, err = b.js.PublishMsg(ctx, m, jetstream.WithExpectLastSequencePerSubject(st.stream), jetstream.WithMsgID(id), retryNoResponders, retryWait)
			cancel()
			if err == nil && b.loseAck != nil && b.loseAck() {
				ack, err = nil, context.DeadlineExceeded
			}
			if err != nil && !answered(err) {
				unanswered = true
			}
			if err == nil || time.Now().After(deadline) || b.closed.Load() {
				break
			}
			if inProcess(err) {
				// The stream has the first try and no outcome for it
				// yet (it waits for a quorum): ask again a little later.
				time.Sleep(min(time.Until(deadline), b.timeout/50))
				continue
			}
			if answered(err) {
				break
			}
		}
		if err != nil && inProcess(err) {
			// Out of time with the outcome still unknown: as if no answer
			// came (it may be stored yet).
			err = fmt.Errorf("%w (the stream holds the publication without an outcome: %v)", context.DeadlineExceeded, err)
		}
		if err == nil {
			st.stream, st.seq, st.time = ack.Sequence, p.Seq, p.Time
			if b.cache != nil {
				b.cache.stored(ch, storedPub(p), lastMeta{seq: p.Seq, stream: ack.Sequence, time: storedPub(p).Time,
					size: storedSize(opts.HistorySize), ttl: storedTTL(ttl)})
			}
			return p, nil
		}
		last, ok := conflict(err)
		if ok && unanswered {
			// A single server checks the expected last sequence before the
			// message id: the repeat of a try that was stored after all is
			// refused as a conflict, not answered as a duplicate. If the
			// channel's last message is that try, it is this publication.
			if e, lerr := b.last(st.subj); lerr == nil && e.pub.Seq == p.Seq && e.pub.Node == b.node && bytes.Equal(e.pub.Data, p.Data) {
				st.stream, st.seq, st.time = e.stream, p.Seq, p.Time
				if b.cache != nil {
					b.cache.stored(ch, storedPub(p), lastMeta{seq: p.Seq, stream: e.stream, time: storedPub(p).Time,
						size: storedSize(opts.HistorySize), ttl: storedTTL(ttl)})
				}
				return p, nil
			}
		}
		st.loaded = false // another writer got there first, or the outcome is unknown
		if !ok || time.Now().After(deadline) {
			if b.cache != nil && !answered(err) {
				b.cache.doubtful(ch)
			}
			return broker.Publication{}, err
		}
		b.conflicts.Add(1)
		if h := st.hint.Load(); last != 0 && h != nil && h.stream == last {
			continue // the hint is the message that beat us: retry at once
		} else if h != nil {
			// A hint that is not the channel's last is stale: taken again
			// (st.loaded is false now) it would make every retry expect it
			// and lose, until the deadline. Read the last message instead.
			st.hint.CompareAndSwap(h, nil)
		}
		// Read the channel's last message again; after a few losses in a
		// row, first wait a little (random, growing), so that writers
		// racing for one channel spread out.
		if conflicts++; conflicts > 2 {
			time.Sleep(rand.N(time.Duration(min(conflicts, 50)) * 100 * time.Microsecond))
		}
	}
}

// errDupInProcess is the stream's answer to a message id it holds a
// publication of without an outcome yet (nats-server's
// JSStreamDuplicateMessageConflict).
const errDupInProcess = 10158

// inProcess reports whether err says that an earlier try of the same
// publication is still being stored: its outcome is not known yet.
func inProcess(err error) bool {
	var je jetstream.JetStreamError
	return errors.As(err, &je) && je.APIError() != nil && je.APIError().ErrorCode == errDupInProcess
}

// answered reports whether err is the stream's answer to a publication
// (which was then not stored), not a failure to hear one.
func answered(err error) bool {
	var je jetstream.JetStreamError
	return errors.As(err, &je) && je.APIError() != nil
}

// storedPub is p as a read gives it back (the envelope keeps no time
// before 1970).
func storedPub(p broker.Publication) broker.Publication {
	p.Time = max(p.Time, 0)
	return p
}

// storedSize and storedTTL are a HistorySize and a HistoryTTL in ms as a
// read gives them back (see parseEnvelope).
func storedSize(size int) int { return min(max(size, 1), 1<<31-1) }

func storedTTL(ms int64) time.Duration {
	return time.Duration(min(uint64(max(ms, 0)), uint64(1<<63-1)/uint64(time.Millisecond))) * time.Millisecond
}

// sendLive sends p to the other nodes subscribed to ch (none when the
// server has no other client). A publication with history tells its
// stream sequence and the HistorySize and HistoryTTL (ms) it was stored
// with, so that the other nodes' history caches can take it.
func (b *Broker) sendLive(ch broker.Channel, p broker.Publication, stream uint64, size int, ttl int64) error {
	if b.alone.Load() {
		return nil
	}
	h := natsgo.Header{
		hdrNode: {p.Node},
		hdrTime: {strconv.FormatInt(p.Time, 10)},
	}
	if p.Seq > 0 {
		h[hdrSeq] = []string{strconv.FormatUint(p.Seq, 10)}
		h[hdrStream] = []string{strconv.FormatUint(stream, 10)}
		h[hdrSize] = []string{strconv.Itoa(size)}
		h[hdrTTL] = []string{strconv.FormatInt(ttl, 10)}
	}
	return b.nc.PublishMsg(&natsgo.Msg{Subject: liveSubject(ch), Data: p.Data, Header: h})
}

// learn passes on what another node's live publication p tells of ch's
// history stream (m: where and how it was stored): to ch's publication
// state, when this node has it, and to the history cache.
func (b *Broker) learn(ch broker.Channel, p broker.Publication, m lastMeta) {
	b.mu.Lock()
	st := b.chans[ch]
	b.mu.Unlock()
	if st != nil {
		st.learn(m.stream, m.seq, m.time)
	}
	if b.cache != nil {
		b.cache.learned(ch, p, m)
	}
}
