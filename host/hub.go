package host

import (
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/imscript/imscript/broker"
	"github.com/imscript/imscript/script"
)

// The hub: user ids bound to connections, rooms, presence and fan-out. It
// is host-wide (every worker and server sees the same), lives outside the
// script VMs (so it survives reloads) and forgets a connection when it
// closes. What reaches beyond this process goes through the broker
// (package broker): the hub subscribes to a room or a uid's channel while it
// has local members, publishes every room and uid message there, delivers
// what other nodes publish to its local members, and keeps presence there.
// With the default memory broker there are no other nodes.
type hub struct {
	mu sync.RWMutex
	// uids (by uid key) and rooms hold each member with the seq up to
	// which it has been given the channel's history (hub_history.go): a
	// publication with a seq at or below it is not delivered to it again.
	uids  map[string]map[*conn]uint64
	rooms map[string]map[*conn]uint64
	b     broker.Broker
	h     *Host
	// locks serialise what happens to one channel on this node (a
	// publication and its local fan-out, a join with its recovery, a
	// delivery from another node): a member sees a channel's publications
	// in seq order, a recovery before any live message. One lock per
	// channel in use, not a fixed set shared by hashing: two nodes on one
	// memory bus deliver to each other while holding their own channel's
	// lock, which is safe only if no other channel shares it.
	lmu   sync.Mutex
	locks map[broker.Channel]*chanLock
	// pres takes presence changes to the broker in order, off the hub's
	// lock (hub_presence.go).
	pres presenceQueue
	// remote: the broker's calls wait on other processes (broker.Remote),
	// so a script's call that waits for one does not hold its worker
	// where the handler can suspend (offWorker).
	remote bool
}

// hubConn is a connection's hub state (guarded by hub.mu).
type hubConn struct {
	uid    script.Value
	uidKey string
	rooms  []string
}

// state returns c's hub state, creating it (with the lock held for writing).
func (m *hub) state(c *conn) *hubConn {
	x := c.ext()
	if x.hub == nil {
		x.hub = &hubConn{}
	}
	return x.hub
}

// uidKey canonicalizes a uid (a string or a number): "s" + the string, or
// "n" + the number.
func uidKey(v script.Value) (string, bool) {
	switch x := v.(type) {
	case string:
		return "s" + x, x != ""
	case []byte:
		return "s" + string(x), len(x) > 0
	case float64:
		return "n" + strconv.FormatFloat(x, 'g', -1, 64), true
	case int64:
		return "n" + strconv.FormatInt(x, 10), true
	}
	return "", false
}

// uidValue is the uid a key stands for (a uid bound on another node).
func uidValue(key string) script.Value {
	if s, ok := strings.CutPrefix(key, "s"); ok {
		return s
	}
	num := strings.TrimPrefix(key, "n")
	if n, err := strconv.ParseInt(num, 10, 64); err == nil {
		return n
	}
	f, _ := strconv.ParseFloat(num, 64)
	return f
}

func roomChannel(room string) broker.Channel { return broker.Channel{Kind: broker.Room, Name: room} }
func uidChannel(key string) broker.Channel   { return broker.Channel{Kind: broker.User, Name: key} }

// brokerErr logs a broker call that failed: the local side of the hub goes
// on (its members still get what is published here).
func (m *hub) brokerErr(what string, ch broker.Channel, err error) {
	if err != nil {
		m.h.brokerErrors.Add(1)
		m.h.log.Warn("broker: "+what+" failed", "channel", ch.String(), "err", err)
	}
}

// add puts c into set[name], creating it; first says the set was empty.
func add(sets *map[string]map[*conn]uint64, name string, c *conn) (added, first bool) {
	if *sets == nil {
		*sets = map[string]map[*conn]uint64{}
	}
	set := (*sets)[name]
	if set == nil {
		set = map[*conn]uint64{}
		(*sets)[name] = set
		first = true
	}
	if _, in := set[c]; in {
		return false, false
	}
	set[c] = 0
	return true, first
}

// remove takes c out of sets[name]; last says the set is now empty (and
// gone).
func remove(sets map[string]map[*conn]uint64, name string, c *conn) (removed, last bool) {
	set := sets[name]
	if _, in := set[c]; !in {
		return false, false
	}
	delete(set, c)
	if len(set) == 0 {
		delete(sets, name)
		return true, true
	}
	return true, false
}

// addPresence records that this node's first connection of uid entered
// room and fires the presence event when it is the uid's first anywhere
// (m.mu held). A broker that fails is logged and counted as first, so
// that a single node still tells its script.
func (m *hub) addPresence(room, key string, uid script.Value) {
	m.pres.push(presenceOp{room: room, key: key, uid: uid, add: true})
}

// removePresence is addPresence's other half: the last connection of uid
// on this node left room.
func (m *hub) removePresence(room, key string, uid script.Value) {
	m.pres.push(presenceOp{room: room, key: key, uid: uid})
}

// uidIn reports whether another connection than c of uid key is in room
// (m.mu held).
func (m *hub) uidIn(key, room string, c *conn) bool {
	for o := range m.rooms[room] {
		if st := o.hubState(); o != c && st != nil && st.uidKey == key {
			return true
		}
	}
	return false
}

// bind attaches uid to c; with rec it first gives c what the uid's
// personal channel kept after rec.since (hub_history.go).
func (m *hub) bind(c *conn, uid script.Value, key string, rec *recoverOpts) (joinResult, bool) {
	ch := uidChannel(key)
	defer m.unlock(ch, m.lock(ch))
	m.mu.Lock()
	if !c.Open() {
		// Closed (maybe dropped already, hub.drop): binding it now would
		// keep it in the uid's set for good.
		m.mu.Unlock()
		return joinResult{}, false
	}
	m.unbindLocked(c)
	st := m.state(c)
	st.uid, st.uidKey = uid, key
	_, first := add(&m.uids, key, c)
	for _, room := range st.rooms {
		if !m.uidIn(key, room, c) {
			m.addPresence(room, key, uid)
		}
	}
	m.mu.Unlock()
	if first {
		m.subscribe(ch, func() map[*conn]uint64 { return m.uids[key] })
	}
	return m.recover(c, ch, rec, func(upTo uint64) {
		if set := m.uids[key]; set != nil {
			if _, in := set[c]; in {
				set[c] = upTo
			}
		}
	}), true
}

func (m *hub) unbind(c *conn) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.unbindLocked(c)
}

func (m *hub) unbindLocked(c *conn) bool {
	st := c.hubState()
	if st == nil || st.uidKey == "" {
		return false
	}
	key := st.uidKey
	if _, last := remove(m.uids, key, c); last {
		m.brokerErr("unsubscribe", uidChannel(key), m.b.Unsubscribe(uidChannel(key)))
	}
	for _, room := range st.rooms {
		if !m.uidIn(key, room, c) {
			m.removePresence(room, key, st.uid)
		}
	}
	st.uid, st.uidKey = nil, ""
	return true
}

func (m *hub) uidOf(c *conn) script.Value {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if st := c.hubState(); st != nil {
		return st.uid
	}
	return nil
}

func (m *hub) connsOf(key string) []*conn {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return sortedConns(m.uids[key])
}

// subscribe tells the broker this node has members of ch, with ch's lock
// held and the hub's not: a broker on NATS waits for the server to take
// the subscription (and reads the channel's presence), which must not
// stop every other channel's joins, leaves and deliveries. A recovery
// after it sees every later publication live. When ch lost its members
// meanwhile (leave and drop unsubscribe under the hub's lock, not ch's),
// the subscription is taken back.
func (m *hub) subscribe(ch broker.Channel, members func() map[*conn]uint64) {
	m.brokerErr("subscribe", ch, m.b.Subscribe(ch))
	m.mu.Lock()
	if len(members()) == 0 {
		m.brokerErr("unsubscribe", ch, m.b.Unsubscribe(ch))
	}
	m.mu.Unlock()
}

// join puts c into room; with rec it first gives c what the room's
// history kept after rec.since (hub_history.go). ok is false when c was
// in the room already, or closed: a join from another worker, or off the
// worker (offWorker), may come after the connection's close event dropped
// it from the hub (hub.drop), and adding it then would keep it in the room
// for good.
func (m *hub) join(c *conn, room string, rec *recoverOpts) (res joinResult, ok bool) {
	ch := roomChannel(room)
	defer m.unlock(ch, m.lock(ch))
	m.mu.Lock()
	if !c.Open() {
		m.mu.Unlock()
		return res, false
	}
	added, first := add(&m.rooms, room, c)
	if !added {
		m.mu.Unlock()
		return res, false
	}
	st := m.state(c)
	st.rooms = append(st.rooms, room)
	if st.uidKey != "" && !m.uidIn(st.uidKey, room, c) {
		m.addPresence(room, st.uidKey, st.uid)
	}
	m.mu.Unlock()
	if first {
		m.subscribe(ch, func() map[*conn]uint64 { return m.rooms[room] })
	}
	return m.recover(c, ch, rec, func(upTo uint64) {
		if set := m.rooms[room]; set != nil {
			if _, in := set[c]; in {
				set[c] = upTo
			}
		}
	}), true
}

func (m *hub) leave(c *conn, room string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.leaveLocked(c, room)
}

func (m *hub) leaveLocked(c *conn, room string) bool {
	removed, last := remove(m.rooms, room, c)
	if !removed {
		return false
	}
	st := c.hubState()
	for i, r := range st.rooms {
		if r == room {
			st.rooms = append(st.rooms[:i], st.rooms[i+1:]...)
			break
		}
	}
	ch := roomChannel(room)
	if st.uidKey != "" && !m.uidIn(st.uidKey, room, c) {
		m.removePresence(room, st.uidKey, st.uid)
	}
	if last {
		m.brokerErr("unsubscribe", ch, m.b.Unsubscribe(ch))
	}
	return true
}

func (m *hub) roomsOf(c *conn) []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if st := c.hubState(); st != nil {
		return append([]string(nil), st.rooms...)
	}
	return nil
}

func (m *hub) members(room string) []*conn {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return sortedConns(m.rooms[room])
}

// presence lists the distinct uids in the room, on every node, in the
// order of their keys.
func (m *hub) presence(room string) script.List {
	keys, err := m.b.Presence(roomChannel(room))
	m.brokerErr("presence", roomChannel(room), err)
	m.mu.RLock()
	local := map[string]script.Value{}
	for c := range m.rooms[room] {
		if st := c.hubState(); st != nil && st.uidKey != "" {
			k := st.uidKey
			local[k] = st.uid
			// this node's own are present even before the broker has
			// been told (hub_presence.go), or when it failed
			keys = append(keys, k)
		}
	}
	m.mu.RUnlock()
	if gone := m.pres.leaving(room); len(gone) > 0 {
		kept := keys[:0]
		for _, k := range keys {
			if _, here := local[k]; here || !gone[k] {
				kept = append(kept, k)
			}
		}
		keys = kept
	}
	sort.Strings(keys)
	keys = compactSorted(keys)
	out := make(script.List, len(keys))
	for i, k := range keys {
		if v, ok := local[k]; ok {
			out[i] = v // the value as bound here (a number stays a number)
		} else {
			out[i] = uidValue(k)
		}
	}
	return out
}

func compactSorted(keys []string) []string {
	out := keys[:0]
	for i, k := range keys {
		if i == 0 || k != keys[i-1] {
			out = append(out, k)
		}
	}
	return out
}

// drop removes a closed connection from every room and its uid.
func (m *hub) drop(c *conn) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := c.hubState()
	if st == nil {
		return
	}
	m.unbindLocked(c)
	for len(st.rooms) > 0 {
		m.leaveLocked(c, st.rooms[0])
	}
}

func sortedConns(set map[*conn]uint64) []*conn {
	out := make([]*conn, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}
