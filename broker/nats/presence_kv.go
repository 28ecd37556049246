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
	busy  map[pkey]bool // an AddPresence / RemovePresence of it is under way
	views map[broker.Channel]*view

	nodes  atomic.Pointer[[]string]
	warned atomic.Bool // a node name used twice: said once
	resync chan struct{}
	relist chan struct{} // another node's key was written: list the nodes again
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
		busy:    map[pkey]bool{},
		views:   map[broker.Channel]*view{},
		resync:  make(chan struct{}, 1),
		relist:  make(chan struct{}, 1),
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
	defer kv.during(k)()
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
		// NATS slow or away (restarting, no quorum): the uid is here all
		// the same, and the next heartbeat writes its key (as while the
		// cluster forms), so it does not stay out of the cluster's
		// presence until it reconnects.
		kv.mu.Lock()
		kv.mine[k] = &mine{subj: subj}
		kv.mu.Unlock()
		return true, err
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

// during marks k busy until the returned func is called: a note of another
// node's write of k's uid that arrives while this node's call works out
// first / last is the call's to tell (the hub tells it from first / last),
// not the view's as well.
func (kv *kvPresence) during(k pkey) func() {
	kv.mu.Lock()
	kv.busy[k] = true
	kv.mu.Unlock()
	return func() {
		kv.mu.Lock()
		delete(kv.busy, k)
		kv.mu.Unlock()
	}
}

// remove implements RemovePresence.
func (kv *kvPresence) remove(ch broker.Channel, uid string) (bool, error) {
	k := pkey{ch, uid}
	l := kv.op(k)
	l.Lock()
	defer l.Unlock()
	defer kv.during(k)()
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
	kv.newerFromView(ch, recs)
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

// newerFromView puts into recs (a read of ch's keys) what ch's view, if
// this node has one, knows of a key at a later revision than the copy
// that answered the read: a note of a write it does not hold yet. A node
// that told its handler "u left" then lists ch without u.
func (kv *kvPresence) newerFromView(ch broker.Channel, recs map[string]record) {
	kv.mu.Lock()
	v := kv.views[ch]
	kv.mu.Unlock()
	if v == nil {
		return
	}
	prefix := presPrefix + chanKey(ch) + "."
	v.mu.Lock()
	defer v.mu.Unlock()
	for key, k := range v.keys {
		subj := prefix + key
		if r, ok := recs[subj]; ok && r.seq >= k.seq {
			continue
		}
		if k.live {
			recs[subj] = record{seq: k.seq, live: true, uid: k.uid}
		} else {
			delete(recs, subj)
		}
	}
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
