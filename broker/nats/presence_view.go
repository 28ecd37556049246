package nats

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imscript/imscript/broker"
	natsgo "github.com/nats-io/nats.go"
)

// The views of the channels this node is subscribed to: what it tells
// the handler of other nodes' presence (presence_kv.go).

// view is what a node knows of a channel's presence keys of other nodes.
type view struct {
	ch  broker.Channel
	sub *natsgo.Subscription

	// telling is held from working out a change to telling the handler
	// (not v.mu: the handler may call back into the broker), so that the
	// changes of a uid reach it in the order they were worked out.
	telling sync.Mutex
	gone    atomic.Bool // unwatched: it tells nothing more

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
	old := kv.views[ch]
	if old != nil {
		_ = old.sub.Unsubscribe()
	}
	kv.views[ch] = v
	kv.mu.Unlock()
	if old != nil {
		old.end()
	}
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
		v.end() // a note already being worked out tells nothing
	}
}

// end marks v unwatched: no change is told from then on. It does not wait
// for one being told: the hub unsubscribes with its lock held, and the
// hub's handler of a change takes that lock.
func (v *view) end() { v.gone.Store(true) }

func (kv *kvPresence) stopWatches() {
	kv.mu.Lock()
	views := kv.views
	kv.views = map[broker.Channel]*view{}
	kv.mu.Unlock()
	for _, v := range views {
		_ = v.sub.Unsubscribe()
		v.end()
	}
}

// event is a presence change to tell the handler.
type event struct {
	uid     string
	present bool
}

// mineHas reports whether this node has uid in ch, or is adding or
// removing it.
func (kv *kvPresence) mineHas(ch broker.Channel, uid string) bool {
	k := pkey{ch, uid}
	kv.mu.Lock()
	defer kv.mu.Unlock()
	_, ok := kv.mine[k]
	return ok || kv.busy[k]
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
		kv.tell(v, []event{ev})
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
		kv.tell(v, evs)
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

// tell hands presence changes of v's channel through other nodes to the
// handler, but not those of a uid this node has a connection of (its
// presence did not change), not once v is unwatched, and not after Close
// has begun. With v.telling held.
func (kv *kvPresence) tell(v *view, evs []event) {
	b := kv.b
	ch := v.ch
	for _, ev := range evs {
		if v.gone.Load() {
			return
		}
		if kv.mineHas(ch, ev.uid) {
			continue
		}
		hr := b.h.Load()
		if hr == nil {
			b.dropped.Add(1)
			continue
		}
		b.dmu.RLock()
		if b.closed.Load() || v.gone.Load() {
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
		kv.tell(v, evs)
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
		kv.tell(v, evs)
		v.telling.Unlock()
		kv.applyAll(v, recs, true)
	}
}
