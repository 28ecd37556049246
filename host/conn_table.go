package host

import "sync"

// connTable maps fds to connections, sharded so workers and loops rarely
// contend.
type connTable struct {
	shards [64]connShard
}

type connShard struct {
	mu sync.RWMutex
	m  map[int64]*conn
}

func (t *connTable) shard(id int64) *connShard { return &t.shards[uint64(id)%64] }

func (t *connTable) put(c *conn) {
	s := t.shard(c.id)
	s.mu.Lock()
	if s.m == nil {
		s.m = make(map[int64]*conn)
	}
	s.m[c.id] = c
	s.mu.Unlock()
}

func (t *connTable) get(id int64) *conn {
	s := t.shard(id)
	s.mu.RLock()
	c := s.m[id]
	s.mu.RUnlock()
	return c
}

func (t *connTable) del(id int64) {
	s := t.shard(id)
	s.mu.Lock()
	delete(s.m, id)
	s.mu.Unlock()
}

func (t *connTable) each(fn func(*conn)) {
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.RLock()
		list := make([]*conn, 0, len(s.m))
		for _, c := range s.m {
			list = append(list, c)
		}
		s.mu.RUnlock()
		for _, c := range list {
			fn(c)
		}
	}
}
