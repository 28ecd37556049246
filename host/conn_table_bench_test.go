package host

import (
	"strconv"
	"testing"
)

// The fd lookup every srv:send does, with the bench's 100 connections
// (and 10,000): go test ./host -run '^$' -bench ConnTableGet
func BenchmarkConnTableGet(b *testing.B) {
	for _, n := range []int{100, 10000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			var tab connTable
			for id := int64(1); id <= int64(n); id++ {
				tab.put(&conn{id: id})
			}
			b.RunParallel(func(pb *testing.PB) {
				id := int64(1)
				for pb.Next() {
					if tab.get(id) == nil {
						b.Fatal("missing")
					}
					if id++; id > int64(n) {
						id = 1
					}
				}
			})
		})
	}
}
