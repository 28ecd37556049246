package host

// RouterCount is how many (instance, server) route tables exist in the
// process.
func RouterCount() int {
	n := 0
	routers.Range(func(any, any) bool {
		n++
		return true
	})
	return n
}

// SetMaxExecMs sets the watchdog's limit (max_exec_ms; 0: off) before the
// script runs: for tests whose main chunk does much work on a machine of
// unknown speed (the race detector, other load).
func SetMaxExecMs(h *Host, ms int64) { h.maxExecMs.Store(ms) }
