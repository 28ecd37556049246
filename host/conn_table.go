package host

import (
	"math/bits"
	"sync"
)

// connTable maps fds to connections, sharded so workers and loops rarely
// contend.
//
// A shard is an open-addressing table of the connections themselves, the
// key read from the conn (its id never changes): 8 bytes a slot, between
// 3/8 and 3/4 full, so 11-21 bytes a connection where a map (a key and a
// value a slot, its groups' control words, at most 7/8 full) cost ~31.
type connTable struct {
	shards [connShards]connShard
}

const connShards = 64

type connShard struct {
	mu    sync.RWMutex
	slots []*conn // nil, or a power of two long; linear probing
	n     int
}

func (t *connTable) shard(id int64) *connShard { return &t.shards[uint64(id)%connShards] }

// home is where id's probe starts: Fibonacci hashing of the id within its
// shard, which spreads a run of consecutive ids evenly over the table.
func (s *connShard) home(id int64) int {
	h := (uint64(id) / connShards) * 0x9e3779b97f4a7c15
	return int(h >> (64 - bits.TrailingZeros(uint(len(s.slots)))))
}

// find is id's slot, or -1 (s.mu held).
func (s *connShard) find(id int64) int {
	if s.n == 0 {
		return -1
	}
	mask := len(s.slots) - 1
	for i := s.home(id); ; i = (i + 1) & mask {
		c := s.slots[i]
		if c == nil {
			return -1
		}
		if c.id == id {
			return i
		}
	}
}

// insert puts c in the first free slot of its probe (s.mu held; c's id
// absent, a free slot present).
func (s *connShard) insert(c *conn) {
	mask := len(s.slots) - 1
	i := s.home(c.id)
	for s.slots[i] != nil {
		i = (i + 1) & mask
	}
	s.slots[i] = c
	s.n++
}

// resize rehashes into n slots (s.mu held).
func (s *connShard) resize(n int) {
	old := s.slots
	s.slots, s.n = make([]*conn, n), 0
	for _, c := range old {
		if c != nil {
			s.insert(c)
		}
	}
}

func (t *connTable) put(c *conn) {
	s := t.shard(c.id)
	s.mu.Lock()
	if i := s.find(c.id); i >= 0 {
		s.slots[i] = c
	} else {
		if (s.n+1)*4 > len(s.slots)*3 {
			s.resize(max(8, 2*len(s.slots)))
		}
		s.insert(c)
	}
	s.mu.Unlock()
}

func (t *connTable) get(id int64) *conn {
	s := t.shard(id)
	s.mu.RLock()
	var c *conn
	if i := s.find(id); i >= 0 {
		c = s.slots[i]
	}
	s.mu.RUnlock()
	return c
}

func (t *connTable) del(id int64) {
	s := t.shard(id)
	s.mu.Lock()
	if i := s.find(id); i >= 0 {
		s.remove(i)
		if len(s.slots) > 8 && s.n*8 < len(s.slots) {
			s.resize(len(s.slots) / 2)
		}
	}
	s.mu.Unlock()
}

// remove empties slot i, moving back the entries after it that their
// probe would no longer reach across the gap (s.mu held).
func (s *connShard) remove(i int) {
	mask := len(s.slots) - 1
	for j := (i + 1) & mask; s.slots[j] != nil; j = (j + 1) & mask {
		// The entry at j stays when its home lies cyclically in (i, j].
		k := s.home(s.slots[j].id)
		if (i <= j && i < k && k <= j) || (i > j && (i < k || k <= j)) {
			continue
		}
		s.slots[i] = s.slots[j]
		i = j
	}
	s.slots[i] = nil
	s.n--
}

func (t *connTable) each(fn func(*conn)) {
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.RLock()
		list := make([]*conn, 0, s.n)
		for _, c := range s.slots {
			if c != nil {
				list = append(list, c)
			}
		}
		s.mu.RUnlock()
		for _, c := range list {
			fn(c)
		}
	}
}
