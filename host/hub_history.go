package host

import (
	"hash/maphash"
	"strconv"
	"sync"
	"time"

	"github.com/imscript/imscript/broker"
	"github.com/imscript/imscript/script"
)

// History and recovery: with history_size set, every publication of a
// room or a uid's personal channel gets the next contiguous seq of its
// channel from the broker, which keeps it; a connection that joins (or
// binds) with the seq and epoch it saw last is first given what it missed,
// then the live messages, each once.
//
// Exactly once, also while others publish: a channel's local publications
// and joins take turns on the channel's lock (hub.lock), so a publication
// made here is either in the history the join reads or fanned out after
// the joiner is a member. A publication from another node is in history
// before it is delivered here; the member's upTo (the last seq the join
// read) makes Deliver skip those it already had.

// chanSettings are the host-wide channel settings (history_size,
// history_ttl, recovery_max, presence_events), taken from the servers'
// declarations (the first server that sets each one).
type chanSettings struct {
	HistorySize    int
	HistoryTTL     time.Duration
	RecoveryMax    int
	PresenceEvents bool
}

const defaultRecoveryMax = 300

var defaultChanSettings = chanSettings{RecoveryMax: defaultRecoveryMax}

// chanSettings returns the settings in force.
func (h *Host) chanSettings() *chanSettings {
	if cs := h.chans.Load(); cs != nil {
		return cs
	}
	return &defaultChanSettings
}

// applyChanSettings takes the channel settings from the declared servers,
// the first one that sets each.
func (h *Host) applyChanSettings(decl []*settings) {
	cs := defaultChanSettings
	var size, ttl, max, ev bool
	for _, st := range decl {
		if !size && st.given["history_size"] {
			cs.HistorySize, size = st.Chan.HistorySize, true
		}
		if !ttl && st.given["history_ttl"] {
			cs.HistoryTTL, ttl = st.Chan.HistoryTTL, true
		}
		if !max && st.given["recovery_max"] {
			cs.RecoveryMax, max = st.Chan.RecoveryMax, true
		}
		if !ev && st.given["presence_events"] {
			cs.PresenceEvents, ev = st.Chan.PresenceEvents, true
		}
	}
	h.chans.Store(&cs)
}

// roomSeed spreads rooms over the workers that fire their presence events.
var roomSeed = maphash.MakeSeed()

// chanLock is a channel's lock while someone holds or waits for it.
type chanLock struct {
	sync.Mutex
	refs int // holders and waiters, under hub.lmu
}

// lock takes ch's turn on this node; unlock gives it back.
func (m *hub) lock(ch broker.Channel) *chanLock {
	m.lmu.Lock()
	l := m.locks[ch]
	if l == nil {
		if m.locks == nil {
			m.locks = map[broker.Channel]*chanLock{}
		}
		l = &chanLock{}
		m.locks[ch] = l
	}
	l.refs++
	m.lmu.Unlock()
	l.Lock()
	return l
}

func (m *hub) unlock(ch broker.Channel, l *chanLock) {
	l.Unlock()
	m.lmu.Lock()
	if l.refs--; l.refs == 0 {
		delete(m.locks, ch)
	}
	m.lmu.Unlock()
}

// recoverOpts is the { since =, epoch = } of a join or bind.
type recoverOpts struct {
	since uint64
	epoch string
}

// joinResult is what join and bind tell the script: the channel's
// position and, when asked to recover, whether it did.
type joinResult struct {
	pos       broker.Position
	asked     bool // since was given
	recovered bool
}

var joinFields = []string{"seq", "epoch", "recovered"}

// returnTo returns the result as {seq, epoch [, recovered]}, built as a
// record (no Map: a join is made by every connection that opens).
func (r joinResult) returnTo(c script.Call) {
	c.ReturnFields(joinFields, r.fields())
}

func (r joinResult) fields() []script.Value {
	var rec script.Value
	if r.asked {
		rec = r.recovered
	}
	return []script.Value{int64(r.pos.Seq), r.pos.Epoch, rec}
}

// value is the result as a Map (a result settled off the worker).
func (r joinResult) value() script.Map {
	m := script.Map{}
	for i, v := range r.fields() {
		if v != nil {
			m[joinFields[i]] = v
		}
	}
	return m
}

// recover runs with ch's lock held, c already a member: it reads ch's
// position and, with rec, gives c the publications after rec.since, in
// order, when history still holds all of them (at most recovery_max) and
// the epoch is the same. setUpTo records, under the hub's lock, the seq c
// has been given up to.
func (m *hub) recover(c *conn, ch broker.Channel, rec *recoverOpts, setUpTo func(uint64)) joinResult {
	cs := m.h.chanSettings()
	var res joinResult
	if rec == nil && cs.HistorySize <= 0 {
		return res
	}
	q := broker.HistoryQuery{Since: ^uint64(0)} // the position only
	if rec != nil {
		res.asked = true
		q = broker.HistoryQuery{Since: rec.since, Limit: cs.RecoveryMax + 1}
	}
	pubs, pos, err := m.b.History(ch, q)
	if err != nil {
		m.brokerErr("history", ch, err) // the join stands, not recovered
		return res
	}
	res.pos = pos
	m.mu.Lock()
	setUpTo(pos.Seq)
	m.mu.Unlock()
	if rec == nil {
		return res
	}
	switch {
	case rec.epoch != "" && rec.epoch != pos.Epoch:
	case rec.since > pos.Seq:
		// a seq this channel never gave (a client of another epoch)
	case rec.since == pos.Seq:
		res.recovered = true
	case len(pubs) == 0 || pubs[0].Seq != rec.since+1 || len(pubs) > cs.RecoveryMax:
		// history no longer reaches back to since, or too much was missed
	default:
		res.recovered = true
		msgs := make([]message, len(pubs))
		for i, p := range pubs {
			msgs[i].data = p.Data
			c.proto().push(c, &msgs[i])
		}
		m.h.recovered.Add(int64(len(pubs)))
	}
	return res
}

// publishOptions are the broker options of a publication: the history
// settings and, for a table payload, the stamp that adds seq and ts.
func (m *hub) publishOptions(stamped []byte, keep bool) broker.PublishOptions {
	cs := m.h.chanSettings()
	var opts broker.PublishOptions
	if keep {
		opts = broker.PublishOptions{HistorySize: cs.HistorySize, HistoryTTL: cs.HistoryTTL}
	}
	if stamped != nil {
		opts.Stamp = stampJSON
	}
	return opts
}

// encodePayload JSON-encodes a table payload without its seq and ts (the
// stamp adds them), or returns data as it is.
func encodePayload(v script.Value) (data []byte, stamped bool, err error) {
	switch x := v.(type) {
	case script.Map:
		if _, ok := x["seq"]; ok {
			x = copyWithout(x)
		} else if _, ok := x["ts"]; ok {
			x = copyWithout(x)
		}
		b, err := encodeJSON(x)
		return b, true, err
	case script.List:
		script.Usagef("bad argument #2 (data): a string or a table of fields expected, got a list")
	}
	return nil, false, nil
}

func copyWithout(x script.Map) script.Map {
	out := make(script.Map, len(x))
	for k, v := range x {
		if k != "seq" && k != "ts" {
			out[k] = v
		}
	}
	return out
}

// stampJSON adds "seq" and "ts" in front of the fields of a JSON object.
func stampJSON(seq uint64, ms int64, obj []byte) []byte {
	out := make([]byte, 0, len(obj)+40)
	out = append(out, `{"seq":`...)
	out = strconv.AppendUint(out, seq, 10)
	out = append(out, `,"ts":`...)
	out = strconv.AppendInt(out, ms, 10)
	if len(obj) > 2 {
		out = append(out, ',')
	}
	return append(out, obj[1:]...)
}

// targets returns the connections of set that have not been given seq
// yet (all of them for a publication without history), m.mu held.
func targets(set map[*conn]uint64, seq uint64) []*conn {
	out := make([]*conn, 0, len(set))
	for c, upTo := range set {
		if seq == 0 || seq > upTo {
			out = append(out, c)
		}
	}
	return out
}

// pubOpts say how one publication goes out.
type pubOpts struct {
	stamped   bool  // data is a JSON object to stamp with seq and ts
	except    *conn // the member that does not get it
	noHistory bool  // not kept even with history on (typing notices)
}

// publishTo publishes data on ch (stamped when it is a JSON object) and
// fans it out to the local members of set(): with history, the broker
// gives it its seq first, and a failure to store it is the caller's
// error (nothing is delivered); without, a broker failure is logged and
// the local members still get it.
func (m *hub) publishTo(ch broker.Channel, data []byte, o pubOpts, set func() map[*conn]uint64) (int, broker.Publication, error) {
	var obj []byte
	stamped, except := o.stamped, o.except
	if stamped {
		obj = data
	}
	opts := m.publishOptions(obj, !o.noHistory)
	defer m.unlock(ch, m.lock(ch))
	p, err := m.b.Publish(ch, data, opts)
	if err != nil {
		if opts.HistorySize > 0 {
			m.brokerErr("publish", ch, err)
			return 0, p, err
		}
		m.brokerErr("publish", ch, err)
		p = broker.Publication{Data: data, Time: time.Now().UnixMilli()}
		if stamped {
			p.Data = stampJSON(0, p.Time, data)
		}
	}
	m.h.publishes.Add(1)
	if p.Seq > 0 {
		m.h.historyAppends.Add(1)
	}
	if o := m.h.obs; o != nil && o.admin && ch.Kind == broker.Room {
		o.rooms.count(ch.Name)
	}
	m.mu.RLock()
	conns := targets(set(), p.Seq)
	m.mu.RUnlock()
	return fanout(conns, &message{data: p.Data}, except), p, nil
}

// history reads a room's history.
func (m *hub) history(room string, q broker.HistoryQuery) ([]broker.Publication, broker.Position, error) {
	return m.b.History(roomChannel(room), q)
}

// presenceEvent fires the presence event of uid in room on the room's
// worker, when presence_events is on. This node's changes come from the
// presence queue's goroutine, in the order they happened
// (hub_presence.go); other nodes' from the broker, in theirs.
func (m *hub) presenceEvent(room string, uid script.Value, joined bool) {
	if !m.h.chanSettings().PresenceEvents || len(m.h.workers) == 0 {
		return
	}
	var hh maphash.Hash
	hh.SetSeed(roomSeed)
	hh.WriteString(room)
	w := m.h.workers[hh.Sum64()%uint64(len(m.h.workers))]
	what := "leave"
	if joined {
		what = "join"
	}
	h := m.h
	w.q.post(event{fn: func() {
		for _, s := range h.Servers() {
			w.fire(s, hPresence, s.obj, room, uid, what)
		}
	}})
}
