package host

import (
	"sort"
	"strconv"
	"sync"

	"github.com/imscript/imscript/script"

	"github.com/gobwas/ws"
)

// im holds the IM primitives' state (the zero value is ready): user ids bound to connections and room
// membership. It is host-wide (every worker and server sees the same),
// lives outside the script VMs (so it survives reloads) and is cleaned up
// when a connection closes.
type im struct {
	mu    sync.RWMutex
	uids  map[string]map[*Conn]struct{}
	rooms map[string]map[*Conn]struct{}
}

// connIM is a connection's IM state.
type connIM struct {
	uid    script.Value
	uidKey string
	rooms  []string
}

// st returns c's IM state, creating it (with m.mu held for writing).
func (c *Conn) st() *connIM {
	if c.im == nil {
		c.im = &connIM{}
	}
	return c.im
}

// uidKey canonicalizes a uid (a string or a number).
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

func (m *im) bind(c *Conn, uid script.Value, key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.unbindLocked(c)
	c.st().uid, c.st().uidKey = uid, key
	if m.uids == nil {
		m.uids = map[string]map[*Conn]struct{}{}
	}
	set := m.uids[key]
	if set == nil {
		set = map[*Conn]struct{}{}
		m.uids[key] = set
	}
	set[c] = struct{}{}
}

func (m *im) unbind(c *Conn) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.unbindLocked(c)
}

func (m *im) unbindLocked(c *Conn) bool {
	if c.im == nil || c.im.uidKey == "" {
		return false
	}
	key := c.im.uidKey
	if set := m.uids[key]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(m.uids, key)
		}
	}
	c.im.uid, c.im.uidKey = nil, ""
	return true
}

func (m *im) uidOf(c *Conn) script.Value {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if c.im == nil {
		return nil
	}
	return c.im.uid
}

func (m *im) connsOf(key string) []*Conn {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return sortedConns(m.uids[key])
}

func (m *im) join(c *Conn, room string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.rooms == nil {
		m.rooms = map[string]map[*Conn]struct{}{}
	}
	set := m.rooms[room]
	if set == nil {
		set = map[*Conn]struct{}{}
		m.rooms[room] = set
	}
	if _, in := set[c]; in {
		return false
	}
	set[c] = struct{}{}
	c.st().rooms = append(c.st().rooms, room)
	return true
}

func (m *im) leave(c *Conn, room string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.leaveLocked(c, room)
}

func (m *im) leaveLocked(c *Conn, room string) bool {
	set := m.rooms[room]
	if _, in := set[c]; !in {
		return false
	}
	delete(set, c)
	if len(set) == 0 {
		delete(m.rooms, room)
	}
	for i, r := range c.im.rooms {
		if r == room {
			c.im.rooms = append(c.im.rooms[:i], c.im.rooms[i+1:]...)
			break
		}
	}
	return true
}

func (m *im) roomsOf(c *Conn) []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if c.im == nil {
		return nil
	}
	return append([]string(nil), c.im.rooms...)
}

func (m *im) members(room string) []*Conn {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return sortedConns(m.rooms[room])
}

// presence lists the distinct uids bound to the room's connections.
func (m *im) presence(room string) script.List {
	m.mu.RLock()
	defer m.mu.RUnlock()
	seen := map[string]bool{}
	var keys []string
	vals := map[string]script.Value{}
	for c := range m.rooms[room] {
		if k := c.im.uidKey; k != "" && !seen[k] {
			seen[k] = true
			keys = append(keys, k)
			vals[k] = c.im.uid
		}
	}
	sort.Strings(keys)
	out := make(script.List, len(keys))
	for i, k := range keys {
		out[i] = vals[k]
	}
	return out
}

// drop removes a closed connection from every room and its uid.
func (m *im) drop(c *Conn) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c.im == nil {
		return
	}
	m.unbindLocked(c)
	for len(c.im.rooms) > 0 {
		m.leaveLocked(c, c.im.rooms[0])
	}
}

func sortedConns(set map[*Conn]struct{}) []*Conn {
	out := make([]*Conn, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// fanout sends data to each connection: a WebSocket text frame (encoded
// once, compressed once) to upgraded ones, the raw bytes to the others.
// It returns how many connections took it.
func fanout(conns []*Conn, data []byte, except *Conn) int {
	f := newOutFrame(ws.OpText, data)
	n := 0
	for _, c := range conns {
		if c == except {
			continue
		}
		var ok bool
		if c.wsOpen.Load() {
			ok, _ = c.Send(f.bytesFor(c))
		} else if c.srv.decl.Type == "tcp" {
			ok, _ = c.Send(data)
		}
		if ok {
			n++
		}
	}
	return n
}
