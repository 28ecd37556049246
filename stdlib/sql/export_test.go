package sql

import "database/sql"

// SharedFunc is Instance.Shared (or Host.Shared).
type SharedFunc = func(key string, init func() any) any

func sharedPools(shared SharedFunc) *pools {
	return shared(sharedKey, func() any { return &pools{m: map[string]*pool{}} }).(*pools)
}

// PoolsOpened is how many pools the host has opened.
func PoolsOpened(shared SharedFunc) int {
	ps := sharedPools(shared)
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.opened
}

// PoolStats are the open pools' statistics.
func PoolStats(shared SharedFunc) []sql.DBStats {
	ps := sharedPools(shared)
	ps.mu.Lock()
	defer ps.mu.Unlock()
	var out []sql.DBStats
	for _, p := range ps.m {
		out = append(out, p.db.Stats())
	}
	return out
}
