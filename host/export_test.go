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
