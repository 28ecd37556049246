package dns

import "net"

// UseResolver makes lookups use r until restore is called.
func UseResolver(r *net.Resolver) (restore func()) {
	old := resolver
	resolver = r
	return func() { resolver = old }
}
