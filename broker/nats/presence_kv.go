package nats

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imscript/imscript/broker"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Cluster-wide presence: the JetStream key-value bucket IMSCRIPT_PRESENCE
// (memory storage, as many copies as the history stream, one revision per
// key), one key per (channel, uid, node) and one per live node:
//
//	room.<channel>.<uid>.<node>   this node has a connection of uid in the room
//	user.<channel>.<uid>.<node>   (personal channels, the same)
//	node.<node>                   this node is alive (Nodes)
//
// each part a token as in subject.go ('=' instead of '~' for a hashed long
// name: keys allow no '~'). A presence key's value is the uid and the
// revision its node added it at ("since"; 0 in the first write, meaning
// the write's own). Every write carries a per-message TTL (Nats-TTL,
// Config.PresenceTTL), and the node rewrites its keys every TTL/3, each
// expecting its own last revision (so a heartbeat never brings back a key
// that a RemovePresence deleted meanwhile). A node that dies stops
// rewriting: its keys expire within the TTL, and the server puts a delete
// marker in their place (the bucket's LimitMarkerTTL). RemovePresence and
// Close write a delete with a TTL too, so no tombstone stays for ever.
//
// first and last are decided by reading the (channel, uid) keys after the
// write, from a copy that holds the write (the read is repeated until it
// shows this node's key at least at the revision written, so it reflects
// everything ordered before it): AddPresence is first when no other node's
// key added before this one's is live (of two nodes adding at once, the
// later sees the earlier's key: one first; both only if a read missed the
// other's newer key); RemovePresence is last when no other node's key is
// live and no other node deleted its key after this one (two removing at
// once: the later one is last).
//
// PresenceChanged: the bucket republishes every write to core NATS
// (RePublish, $KV.IMSCRIPT_PRESENCE.> to imp.>), so a node subscribed to
// a channel subscribes to imp.<kind>.<channel>.> too — no JetStream
// consumer per channel, and only nodes with local interest get the
// channel's writes (the heartbeats included: a key every TTL/3 per node).
// Each keeps a view of the channel's keys of other nodes (loaded when it
// subscribes, then kept by the notes, newer stream sequences winning) and
// tells the handler when a uid it has no connection of gains its first
// live key or loses its last: a node's own calls never reach its handler.
// A lost note heals: a key missed is seen at its next heartbeat; a delete
// missed is caught when the view's copy of the key is older than its TTL
// (swept at every heartbeat). After a reconnection every view is read
// again and the differences told.

const (
	presenceBucket = "IMSCRIPT_PRESENCE"
	presStream     = "KV_" + presenceBucket
	presPrefix     = "$KV." + presenceBucket + "."
	presDirect     = "$JS.API.DIRECT.GET." + presStream
	presNotes      = "imp." // the republished writes: imp.<key>

	hdrKVOp   = "KV-Operation"
	hdrMarker = "Nats-Marker-Reason"
	hdrTTLMsg = "Nats-TTL"
	hdrSubj   = "Nats-Subject"

	presenceV1 = 1
)

// keyToken is token for a key part.
func keyToken(s string) string {
	t := token(s)
	if t[0] == '~' {
		return "=" + t[1:]
	}
	return t
}

// chanKey is the key prefix of ch's presence: "room.<channel>".
func chanKey(ch broker.Channel) string { return kindToken(ch.Kind) + keyToken(ch.Name) }

type pkey struct {
	ch  broker.Channel
	uid string
}

// mine is one of this node's keys.
type mine struct {
	subj  string
	since uint64
	rev   uint64 // the revision of this node's last write of it; 0: rewrite unconditionally
}

type kvPresence struct {
	b       *Broker
	ttl     time.Duration
	nodeTok string
	inst    string // this process: tells a node name used twice
	seed    maphash.Seed
	ops     [64]sync.Mutex // one AddPresence / RemovePresence per (ch, uid) at a time

	mu    sync.Mutex
	mine  map[pkey]*mine
	views map[broker.Channel]*view

	nodes  atomic.Pointer[[]string]
	warned atomic.Bool // a node name used twice: said once
	resync chan struct{}
}

func newKVPresence(b *Broker, ttl time.Duration) *kvPresence {
	if ttl <= 0 {
		ttl = 30 * time.Second
	}
	ttl = max(ttl, time.Second).Round(time.Second) // Nats-TTL has whole seconds
	var id [6]byte
	_, _ = rand.Read(id[:])
	kv := &kvPresence{
		b:       b,
		ttl:     ttl,
		nodeTok: keyToken(b.node),
		inst:    hex.EncodeToString(id[:]),
		seed:    maphash.MakeSeed(),
		mine:    map[pkey]*mine{},
		views:   map[broker.Channel]*view{},
		resync:  make(chan struct{}, 1),
	}
	kv.nodes.Store(&[]string{b.node})
	return kv
}

// ensureBucket makes the bucket, or brings its config to this node's.
func (kv *kvPresence) ensureBucket(wait time.Duration) error {
	ctx, cancel := context.WithTimeout(kv.b.stopCtx, wait)
	defer cancel()
	_, err := kv.b.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:         presenceBucket,
		Description:    "imscript: presence, a key per (channel, uid, node) with a TTL",
		History:        1,
		Storage:        jetstream.MemoryStorage,
		Replicas:       int(kv.b.copies.Load()),
		LimitMarkerTTL: kv.ttl,
		RePublish:      &jetstream.RePublish{Source: presPrefix + ">", Destination: presNotes + ">"},
	})
	if err != nil {
		return fmt.Errorf("nats broker: presence bucket: %w", err)
	}
	return nil
}

func (kv *kvPresence) op(k pkey) *sync.Mutex {
	return &kv.ops[maphash.String(kv.seed, k.ch.Name+"\x00"+k.uid)%uint64(len(kv.ops))]
}

func (kv *kvPresence) subject(k pkey) string {
	return presPrefix + chanKey(k.ch) + "." + keyToken(k.uid) + "." + kv.nodeTok
}

func presenceValue(since uint64, uid string) []byte {
	v := binary.AppendUvarint([]byte{presenceV1}, since)
	return append(v, uid...)
}

func parsePresenceValue(v []byte) (since uint64, uid string, ok bool) {
	if len(v) < 2 || v[0] != presenceV1 {
		return 0, "", false
	}
	since, n := binary.Uvarint(v[1:])
	if n <= 0 {
		return 0, "", false
	}
	return since, string(v[1+n:]), true
}

// write stores one presence message; del writes a delete. A write that
// finds no bucket (a leader election) is sent again until the timeout or
// Close.
func (kv *kvPresence) write(subj string, value []byte, del bool, opts ...jetstream.PublishOpt) (uint64, error) {
	return kv.writeOpts(subj, value, del, append(opts, retryNoResponders, retryWait)...)
}

func (kv *kvPresence) writeOpts(subj string, value []byte, del bool, opts ...jetstream.PublishOpt) (uint64, error) {
	m := &natsgo.Msg{Subject: subj, Data: value, Header: natsgo.Header{}}
	if del {
		m.Header.Set(hdrKVOp, "DEL")
	}
	ctx, cancel := context.WithTimeout(kv.b.stopCtx, kv.b.timeout)
	defer cancel()
	ack, err := kv.b.js.PublishMsg(ctx, m, append(opts, jetstream.WithMsgTTL(kv.ttl))...)
	if err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}

// add implements AddPresence.
func (kv *kvPresence) add(ch broker.Channel, uid string) (bool, error) {
	k := pkey{ch, uid}
	l := kv.op(k)
	l.Lock()
	defer l.Unlock()
	kv.mu.Lock()
	_, had := kv.mine[k]
	kv.mu.Unlock()
	if had {
		return false, nil
	}
	subj := kv.subject(k)
	if !kv.b.isReady() {
		// The cluster is forming: the hub must not wait for it (it calls
		// with its lock held). The key is written by the first heartbeat.
		kv.mu.Lock()
		kv.mine[k] = &mine{subj: subj}
		kv.mu.Unlock()
		return true, nil
	}
	rev, err := kv.write(subj, presenceValue(0, uid), false)
	if err != nil {
		return false, err
	}
	kv.mu.Lock()
	kv.mine[k] = &mine{subj: subj, since: rev, rev: rev}
	kv.mu.Unlock()
	recs, err := kv.read(presPrefix+chanKey(ch)+"."+keyToken(uid)+".*", subj, rev)
	if err != nil {
		return true, err // stored; whether it is the first is not known
	}
	first := true
	for s, r := range recs {
		if s == subj || !r.live {
			continue
		}
		if since := r.since(); since < rev {
			first = false
		}
	}
	kv.sync(ch, recs)
	return first, nil
}

// remove implements RemovePresence.
func (kv *kvPresence) remove(ch broker.Channel, uid string) (bool, error) {
	k := pkey{ch, uid}
	l := kv.op(k)
	l.Lock()
	defer l.Unlock()
	kv.mu.Lock()
	m := kv.mine[k]
	delete(kv.mine, k)
	kv.mu.Unlock()
	if m == nil {
		return false, nil
	}
	if !kv.b.isReady() {
		return true, nil // never written (see add)
	}
	rev, err := kv.write(m.subj, nil, true)
	if err != nil {
		return false, err // the key stays until its TTL
	}
	recs, err := kv.read(presPrefix+chanKey(ch)+"."+keyToken(uid)+".*", m.subj, rev)
	if err != nil {
		return true, err
	}
	last := true
	for s, r := range recs {
		if s != m.subj && (r.live || r.seq > rev) {
			last = false
		}
	}
	kv.sync(ch, recs)
	return last, nil
}

// list implements Presence: the uids of the channel's live keys of other
// nodes, and this node's own (which it knows better than a copy that may
// not hold its newest write yet).
func (kv *kvPresence) list(ch broker.Channel) ([]string, error) {
	recs := map[string]record{}
	if kv.b.isReady() { // else: this node's own, while the cluster forms
		var err error
		if recs, err = kv.read(presPrefix+chanKey(ch)+".*.*", "", 0); err != nil {
			return nil, err
		}
	}
	suffix := "." + kv.nodeTok
	var out []string
	for s, r := range recs {
		if r.live && !strings.HasSuffix(s, suffix) {
			out = append(out, r.uid)
		}
	}
	kv.mu.Lock()
	for k := range kv.mine {
		if k.ch == ch {
			out = append(out, k.uid)
		}
	}
	kv.mu.Unlock()
	slices.Sort(out)
	return slices.Compact(out), nil
}

func (kv *kvPresence) count() int {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	return len(kv.mine)
}

func (kv *kvPresence) nodeList() []string { return slices.Clone(*kv.nodes.Load()) }

// record is a key's last message, as read or as a note.
type record struct {
	seq  uint64
	live bool   // a value (not a delete, a purge or an expiry marker)
	uid  string // of a live presence key
	val  uint64 // the since in its value
	data []byte
	ttl  time.Duration
}

// since is when the key's node added it.
func (r record) since() uint64 {
	if r.val != 0 {
		return r.val
	}
	return r.seq
}

// parseRecord reads a message of the bucket (a direct get reply or a
// republished note).
func parseRecord(h natsgo.Header, data []byte) (record, bool) {
	seq, err := strconv.ParseUint(h.Get(hdrStreamSeq), 10, 64)
	if err != nil {
		return record{}, false
	}
	r := record{seq: seq, data: data}
	if h.Get(hdrKVOp) == "" && h.Get(hdrMarker) == "" {
		r.live = true
		if d, err := time.ParseDuration(h.Get(hdrTTLMsg)); err == nil {
			r.ttl = d
		} else if s, err := strconv.Atoi(h.Get(hdrTTLMsg)); err == nil {
			r.ttl = time.Duration(s) * time.Second
		}
	}
	return r, true
}

// read returns the last message of each key matching filter, by subject.
// With a barrier, it reads again until the copy answering holds the
// message of subject barrier at revision rev or later.
func (kv *kvPresence) read(filter, barrier string, rev uint64) (map[string]record, error) {
	deadline := time.Now().Add(kv.b.timeout)
	// An attempt has a part of the time: a request that went to a copy
	// on a server going away gets no answer, and the next may find another.
	part := max(kv.b.timeout/5, 250*time.Millisecond)
	for wait := 100 * time.Microsecond; ; wait = min(2*wait, 10*time.Millisecond) {
		if kv.b.closed.Load() {
			return nil, errClosedNow
		}
		end := time.Now().Add(part)
		if end.After(deadline) {
			end = deadline
		}
		recs, err := kv.readOnce(filter, end)
		if err == nil && (barrier == "" || recs[barrier].seq >= rev) {
			for s, r := range recs {
				if !strings.HasPrefix(s, presPrefix+"room.") && !strings.HasPrefix(s, presPrefix+"user.") {
					continue // a node key: its data is read by listNodes
				}
				if r.live {
					if since, uid, ok := parsePresenceValue(r.data); ok {
						r.val, r.uid = since, uid
					} else {
						r.live = false // not ours: ignored
					}
				}
				r.data = nil
				recs[s] = r
			}
			return recs, nil
		}
		if err != nil && !errors.Is(err, natsgo.ErrNoResponders) && !errors.Is(err, natsgo.ErrTimeout) {
			return nil, fmt.Errorf("reading presence: %w", err)
		}
		if time.Now().Add(wait).After(deadline) {
			if err != nil {
				return nil, fmt.Errorf("reading presence: %w", err)
			}
			return nil, fmt.Errorf("reading presence: the bucket's copy lags behind revision %d", rev)
		}
		time.Sleep(wait)
	}
}

// readOnce pages through the bucket's messages on filter with batch
// direct gets (the bucket keeps one message per key).
func (kv *kvPresence) readOnce(filter string, deadline time.Time) (map[string]record, error) {
	const batch = 512
	out := map[string]record{}
	nc := kv.b.nc
	inbox := nc.NewInbox()
	replies := make(chan *natsgo.Msg, batch+1)
	sub, err := nc.ChanSubscribe(inbox, replies)
	if err != nil {
		return nil, err
	}
	defer sub.Unsubscribe()
	timeout := time.NewTimer(time.Until(deadline))
	defer timeout.Stop()
	for seq := uint64(1); ; {
		kv.b.gets.Add(1)
		req := fmt.Appendf(nil, `{"seq":%d,"next_by_subj":%q,"batch":%d}`, seq, filter, batch)
		if err := nc.PublishRequest(presDirect, inbox, req); err != nil {
			return nil, err
		}
		more := false
	replies:
		for {
			var m *natsgo.Msg
			select {
			case m = <-replies:
			case <-timeout.C:
				return nil, natsgo.ErrTimeout
			case <-kv.b.stop:
				return nil, errClosedNow
			}
			switch status(m) {
			case "":
				r, ok := parseRecord(m.Header, m.Data)
				if !ok {
					return nil, errors.New("presence reply without a sequence")
				}
				subj := m.Header.Get(hdrSubj)
				if old, ok := out[subj]; !ok || old.seq < r.seq {
					out[subj] = r
				}
				seq = max(seq, r.seq+1)
			case "204": // end of batch
				pending, _ := headerUint(m, "Nats-Num-Pending")
				more = pending > 0
				break replies
			case "404":
				break replies
			case "503":
				return nil, natsgo.ErrNoResponders
			default:
				return nil, fmt.Errorf("direct get: status %s %s", status(m), m.Header.Get("Description"))
			}
		}
		if !more {
			return out, nil
		}
	}
}

// run starts the heartbeat: this node's keys rewritten every TTL/3, the
// nodes listed, the views swept; and the resynchronisation after a
// reconnection.
func (kv *kvPresence) run() {
	b := kv.b
	kv.cleanStale()
	kv.beat()
	b.bg.Go(func() {
		t := time.NewTicker(kv.ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-b.stop:
				return
			case <-t.C:
				kv.beat()
			case <-kv.resync:
				kv.restore()
				kv.beat()
				kv.resyncViews()
			}
		}
	})
}

// restore makes the bucket again and marks every key of this node to be
// written unconditionally by the next refresh: after a NATS restart the
// bucket (memory storage) may be gone, and with it the keys.
func (kv *kvPresence) restore() {
	if err := kv.ensureBucket(kv.b.timeout); err != nil {
		kv.b.log.Warn("nats broker: presence bucket", "err", err)
		return
	}
	kv.mu.Lock()
	for _, m := range kv.mine {
		m.rev = 0
	}
	kv.mu.Unlock()
}

func (kv *kvPresence) resyncSoon() {
	select {
	case kv.resync <- struct{}{}:
	default:
	}
}

// cleanStale deletes the keys of this node's name that it does not hold:
// left by a previous run that did not close (killed), they would stay
// until their TTL. Each delete expects the key's revision as read, so a key
// written since is kept.
func (kv *kvPresence) cleanStale() {
	recs, err := kv.read(presPrefix+"*.*.*."+kv.nodeTok, "", 0)
	if err != nil {
		return
	}
	kv.mu.Lock()
	held := map[string]bool{}
	for _, m := range kv.mine {
		held[m.subj] = true
	}
	kv.mu.Unlock()
	n := 0
	for s, r := range recs {
		if r.live && !held[s] {
			if _, err := kv.write(s, nil, true, jetstream.WithExpectLastSequencePerSubject(r.seq)); err == nil {
				n++
			}
		}
	}
	if n > 0 {
		kv.b.log.Info("nats broker: deleted presence keys left by this node's previous run", "keys", n)
	}
}

// beat is one heartbeat.
func (kv *kvPresence) beat() {
	b := kv.b
	// Not retried: no bucket at all is what restore is for.
	if _, err := kv.writeOpts(presPrefix+"node."+kv.nodeTok, []byte(kv.inst+" "+b.node), false); err != nil && !b.closed.Load() {
		b.errors.Add(1)
		b.log.Warn("nats broker: presence heartbeat failed", "err", err)
		if errors.Is(err, natsgo.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse) {
			kv.restore() // the bucket is gone (a NATS restart loses memory storage)
		}
	}
	kv.refresh()
	kv.listNodes()
	kv.loadViews()
	if b.mode == modeCluster {
		b.peers() // remembers the peers seen, so that Stats lists one that went down
	}
	kv.sweep(time.Now())
}

// refresh rewrites this node's presence keys, in chunks of asynchronous
// publications, each expecting the key's last revision.
func (kv *kvPresence) refresh() {
	b := kv.b
	type job struct {
		k   pkey
		m   mine
		ack jetstream.PubAckFuture
	}
	kv.mu.Lock()
	jobs := make([]job, 0, len(kv.mine))
	for k, m := range kv.mine {
		jobs = append(jobs, job{k: k, m: *m})
	}
	kv.mu.Unlock()
	const chunk = 1000
	failed := 0
	var firstErr error
	for len(jobs) > 0 && !b.closed.Load() {
		n := min(chunk, len(jobs))
		part := jobs[:n]
		jobs = jobs[n:]
		for i := range part {
			j := &part[i]
			m := &natsgo.Msg{Subject: j.m.subj, Data: presenceValue(j.m.since, j.k.uid)}
			opts := []jetstream.PublishOpt{jetstream.WithMsgTTL(kv.ttl)}
			if j.m.rev != 0 {
				opts = append(opts, jetstream.WithExpectLastSequencePerSubject(j.m.rev))
			}
			f, err := b.js.PublishMsgAsync(m, opts...)
			if err != nil {
				failed++
				firstErr = cmp(firstErr, err)
				continue
			}
			j.ack = f
		}
		timeout := time.After(b.timeout)
		for i := range part {
			j := &part[i]
			if j.ack == nil {
				continue
			}
			var err error
			var rev uint64
			select {
			case a := <-j.ack.Ok():
				rev = a.Sequence
			case err = <-j.ack.Err():
			case <-timeout:
				err = natsgo.ErrTimeout
			case <-b.stop:
				return // Close deletes the keys anyway
			}
			kv.mu.Lock()
			if cur := kv.mine[j.k]; cur != nil && cur.rev == j.m.rev {
				switch {
				case err == nil:
					cur.rev = rev
					if cur.since == 0 { // added while the cluster formed
						cur.since = rev
					}
				case isWrongLast(err):
					// The key is gone (it expired while this node could
					// not renew it): write it again at once.
					cur.rev = 0
				}
			}
			kv.mu.Unlock()
			if err != nil {
				if isWrongLast(err) {
					kv.rewrite(j.k)
					continue
				}
				failed++
				firstErr = cmp(firstErr, err)
			}
		}
	}
	if failed > 0 && !b.closed.Load() {
		b.errors.Add(1)
		b.log.Warn("nats broker: presence heartbeat: keys not renewed", "failed", failed, "err", firstErr)
	}
}

func cmp(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func isWrongLast(err error) bool {
	_, ok := conflict(err)
	return ok
}

// rewrite writes k's key again unconditionally (it expired).
func (kv *kvPresence) rewrite(k pkey) {
	l := kv.op(k)
	l.Lock()
	defer l.Unlock()
	kv.mu.Lock()
	m := kv.mine[k]
	var cp mine
	if m != nil {
		cp = *m
	}
	kv.mu.Unlock()
	if m == nil || cp.rev != 0 {
		return
	}
	rev, err := kv.write(cp.subj, presenceValue(cp.since, k.uid), false)
	if err != nil {
		return // the next heartbeat tries again
	}
	kv.mu.Lock()
	if cur := kv.mine[k]; cur == m {
		cur.rev = rev
	}
	kv.mu.Unlock()
}

// listNodes reads the live node keys.
func (kv *kvPresence) listNodes() {
	recs, err := kv.read(presPrefix+"node.*", "", 0)
	if err != nil {
		return
	}
	names := []string{kv.b.node}
	for s, r := range recs {
		if !r.live {
			continue
		}
		inst, name, ok := strings.Cut(string(r.data), " ")
		if !ok {
			continue
		}
		if s == presPrefix+"node."+kv.nodeTok {
			if inst != kv.inst && kv.warned.CompareAndSwap(false, true) {
				kv.b.log.Error("nats broker: another process uses this node's name: presence and delivery break; give every node its own --node", "node", name)
			}
			continue
		}
		names = append(names, name)
	}
	slices.Sort(names)
	kv.nodes.Store(&names)
}

// leave deletes this node's keys (Close): its users leave at once.
func (kv *kvPresence) leave() error {
	b := kv.b
	kv.mu.Lock()
	subjs := make([]string, 0, len(kv.mine)+1)
	for _, m := range kv.mine {
		subjs = append(subjs, m.subj)
	}
	kv.mine = map[pkey]*mine{}
	kv.mu.Unlock()
	if !b.isReady() {
		return nil
	}
	b.log.Debug("nats broker: deleting this node's presence", "keys", len(subjs))
	subjs = append(subjs, presPrefix+"node."+kv.nodeTok)
	var futures []jetstream.PubAckFuture
	for _, s := range subjs {
		m := &natsgo.Msg{Subject: s, Header: natsgo.Header{hdrKVOp: {"DEL"}}}
		f, err := b.js.PublishMsgAsync(m, jetstream.WithMsgTTL(kv.ttl))
		if err != nil {
			return fmt.Errorf("nats broker: deleting this node's presence: %w", err)
		}
		futures = append(futures, f)
	}
	timeout := time.After(b.timeout)
	failed := 0
	for _, f := range futures {
		select {
		case <-f.Ok():
		case <-f.Err():
			failed++
		case <-timeout:
			return fmt.Errorf("nats broker: deleting this node's presence: no answer from NATS in %s", b.timeout)
		}
	}
	if failed > 0 {
		return fmt.Errorf("nats broker: deleting this node's presence: %d of %d keys not deleted (they expire within %s)", failed, len(futures), kv.ttl)
	}
	return nil
}

// ---- views of the channels this node is subscribed to

// view is what a node knows of a channel's presence keys of other nodes.
type view struct {
	ch  broker.Channel
	sub *natsgo.Subscription

	// telling is held from working out a change to telling the handler
	// (not v.mu: the handler may call back into the broker), so that the
	// changes of a uid reach it in the order they were worked out.
	telling sync.Mutex

	mu     sync.Mutex
	loaded bool             // its keys were read (else the next heartbeat reads them)
	keys   map[string]*vkey // by "<uid>.<node>" tokens
	live   map[string]int   // uid → its live keys
}

type vkey struct {
	uid   string
	seq   uint64
	live  bool
	until time.Time // live: when it is taken as expired without a note; dead: when forgotten
}

// watch starts ch's view (Subscribe): subscribe to its notes, then read its
// keys. It tells the handler nothing.
func (kv *kvPresence) watch(ch broker.Channel) error {
	v := &view{ch: ch, keys: map[string]*vkey{}, live: map[string]int{}}
	prefix := presNotes + chanKey(ch) + "."
	sub, err := kv.b.nc.Subscribe(prefix+">", func(m *natsgo.Msg) {
		kv.note(v, strings.TrimPrefix(m.Subject, prefix), m)
	})
	if err != nil {
		return err
	}
	v.sub = sub
	kv.mu.Lock()
	if old := kv.views[ch]; old != nil {
		_ = old.sub.Unsubscribe()
	}
	kv.views[ch] = v
	kv.mu.Unlock()
	if err := kv.b.nc.FlushTimeout(kv.b.timeout); err != nil {
		return err
	}
	if !kv.b.isReady() {
		return nil // the cluster is forming: run loads the view
	}
	return kv.load(v)
}

// load reads v's keys into it, telling the handler nothing.
func (kv *kvPresence) load(v *view) error {
	recs, err := kv.read(presPrefix+chanKey(v.ch)+".*.*", "", 0)
	if err != nil {
		return err
	}
	kv.applyAll(v, recs, false)
	v.mu.Lock()
	v.loaded = true
	v.mu.Unlock()
	return nil
}

// loadViews loads the views not loaded yet: made while the cluster formed,
// or whose first read failed.
func (kv *kvPresence) loadViews() {
	kv.mu.Lock()
	var views []*view
	for _, v := range kv.views {
		v.mu.Lock()
		if !v.loaded {
			views = append(views, v)
		}
		v.mu.Unlock()
	}
	kv.mu.Unlock()
	for _, v := range views {
		_ = kv.load(v)
	}
}

// unwatch ends ch's view (Unsubscribe).
func (kv *kvPresence) unwatch(ch broker.Channel) {
	kv.mu.Lock()
	v := kv.views[ch]
	delete(kv.views, ch)
	kv.mu.Unlock()
	if v != nil {
		_ = v.sub.Unsubscribe()
	}
}

func (kv *kvPresence) stopWatches() {
	kv.mu.Lock()
	views := kv.views
	kv.views = map[broker.Channel]*view{}
	kv.mu.Unlock()
	for _, v := range views {
		_ = v.sub.Unsubscribe()
	}
}

// event is a presence change to tell the handler.
type event struct {
	uid     string
	present bool
}

// mineHas reports whether this node has uid in ch.
func (kv *kvPresence) mineHas(ch broker.Channel, uid string) bool {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	_, ok := kv.mine[pkey{ch, uid}]
	return ok
}

// note applies a republished write of one of ch's keys ("<uid>.<node>").
func (kv *kvPresence) note(v *view, key string, m *natsgo.Msg) {
	if strings.HasSuffix(key, "."+kv.nodeTok) {
		return // this node's own: its calls said what they did
	}
	r, ok := parseRecord(m.Header, m.Data)
	if !ok {
		return
	}
	if r.live {
		since, uid, ok := parsePresenceValue(m.Data)
		if !ok {
			return
		}
		r.val, r.uid = since, uid
	}
	v.telling.Lock()
	defer v.telling.Unlock()
	v.mu.Lock()
	ev, changed := kv.apply(v, key, r, time.Now())
	v.mu.Unlock()
	if changed {
		kv.tell(v.ch, []event{ev})
	}
}

// applyAll applies what a read found (presence subjects) to v; with tell,
// the changes go to the handler.
func (kv *kvPresence) applyAll(v *view, recs map[string]record, tell bool) {
	if tell {
		v.telling.Lock()
		defer v.telling.Unlock()
	}
	prefix := presPrefix + chanKey(v.ch) + "."
	suffix := "." + kv.nodeTok
	now := time.Now()
	var evs []event
	v.mu.Lock()
	for s, r := range recs {
		key, ok := strings.CutPrefix(s, prefix)
		if !ok || strings.HasSuffix(key, suffix) {
			continue
		}
		if ev, changed := kv.apply(v, key, r, now); changed {
			evs = append(evs, ev)
		}
	}
	v.mu.Unlock()
	if tell {
		kv.tell(v.ch, evs)
	}
}

// sync applies a read of one uid's keys to ch's view, if this node has one.
func (kv *kvPresence) sync(ch broker.Channel, recs map[string]record) {
	kv.mu.Lock()
	v := kv.views[ch]
	kv.mu.Unlock()
	if v != nil {
		// Silently: the caller is the hub, and it decides from first / last.
		kv.applyAll(v, recs, false)
	}
}

// apply applies r to v's key; with v.mu held. It returns the uid's
// presence change through other nodes, if any.
func (kv *kvPresence) apply(v *view, key string, r record, now time.Time) (event, bool) {
	k := v.keys[key]
	if k != nil && k.seq >= r.seq {
		return event{}, false // older than what the view has
	}
	if k == nil {
		if !r.live {
			// A key the view never saw live: remember its end, so that a
			// late note of an older write does not bring it back.
			v.keys[key] = &vkey{seq: r.seq, until: now.Add(2 * kv.ttl)}
			return event{}, false
		}
		k = &vkey{}
		v.keys[key] = k
	}
	was := k.live
	uid := k.uid
	k.seq, k.live = r.seq, r.live
	if r.live {
		ttl := r.ttl
		if ttl <= 0 {
			ttl = kv.ttl
		}
		uid = r.uid
		k.uid = uid
		k.until = now.Add(ttl + ttl/4 + 100*time.Millisecond)
	} else {
		k.until = now.Add(2 * kv.ttl)
	}
	return kv.move(v, uid, was, k.live)
}

// move moves uid's live keys in v by one key going from was to now.
func (kv *kvPresence) move(v *view, uid string, was, now bool) (event, bool) {
	switch {
	case was == now || uid == "":
		return event{}, false
	case now:
		v.live[uid]++
		return event{uid, true}, v.live[uid] == 1
	default:
		v.live[uid]--
		if v.live[uid] > 0 {
			return event{}, false
		}
		delete(v.live, uid)
		return event{uid, false}, true
	}
}

// tell hands presence changes through other nodes to the handler, but not
// those of a uid this node has a connection of (its presence did not
// change), and not after Close has begun.
func (kv *kvPresence) tell(ch broker.Channel, evs []event) {
	b := kv.b
	for _, ev := range evs {
		if kv.mineHas(ch, ev.uid) {
			continue
		}
		hr := b.h.Load()
		if hr == nil {
			b.dropped.Add(1)
			continue
		}
		b.dmu.RLock()
		if b.closed.Load() {
			b.dmu.RUnlock()
			return
		}
		b.inflight.Add(1)
		b.dmu.RUnlock()
		hr.h.PresenceChanged(ch, ev.uid, ev.present)
		b.inflight.Done()
	}
}

// sweep takes the keys whose notes stopped for longer than their TTL as
// expired (a delete note lost) and forgets old deletes.
func (kv *kvPresence) sweep(now time.Time) {
	kv.mu.Lock()
	views := make([]*view, 0, len(kv.views))
	for _, v := range kv.views {
		views = append(views, v)
	}
	kv.mu.Unlock()
	for _, v := range views {
		var evs []event
		v.telling.Lock()
		v.mu.Lock()
		for key, k := range v.keys {
			if now.Before(k.until) {
				continue
			}
			if !k.live {
				delete(v.keys, key)
				continue
			}
			k.live = false
			k.until = now.Add(2 * kv.ttl)
			if ev, changed := kv.move(v, k.uid, true, false); changed {
				evs = append(evs, ev)
			}
		}
		v.mu.Unlock()
		kv.tell(v.ch, evs)
		v.telling.Unlock()
	}
}

// resyncViews reads every view's keys again (after a reconnection: notes
// may have been lost) and tells the differences.
func (kv *kvPresence) resyncViews() {
	kv.mu.Lock()
	views := make([]*view, 0, len(kv.views))
	for _, v := range kv.views {
		views = append(views, v)
	}
	kv.mu.Unlock()
	for _, v := range views {
		recs, err := kv.read(presPrefix+chanKey(v.ch)+".*.*", "", 0)
		if err != nil {
			continue
		}
		// Keys the view has live and the read does not: gone.
		prefix := presPrefix + chanKey(v.ch) + "."
		var evs []event
		v.telling.Lock()
		v.mu.Lock()
		for key, k := range v.keys {
			if _, ok := recs[prefix+key]; !ok && k.live {
				k.live = false
				if ev, changed := kv.move(v, k.uid, true, false); changed {
					evs = append(evs, ev)
				}
			}
		}
		v.mu.Unlock()
		kv.tell(v.ch, evs)
		v.telling.Unlock()
		kv.applyAll(v, recs, true)
	}
}
