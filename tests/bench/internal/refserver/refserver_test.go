package refserver

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

var sink [][]byte

// BENCH_METRICS's endpoint serves a count that grows as the program
// allocates.
func TestServeMetrics(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	go serveMetrics(addr)
	read := func() uint64 {
		deadline := time.Now().Add(20 * time.Second)
		for {
			resp, err := http.Get("http://" + addr + "/metrics")
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				for _, line := range strings.Split(string(b), "\n") {
					var n uint64
					if _, err := fmt.Sscanf(line, "go_memstats_mallocs_total %d", &n); err == nil {
						return n
					}
				}
				t.Fatalf("no go_memstats_mallocs_total in %q", b)
			}
			if time.Now().After(deadline) {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	n0 := read()
	for i := 0; i < 10000; i++ {
		sink = append(sink, make([]byte, 64))
	}
	if n1 := read(); n1 < n0+9000 { // counted as spans fill: close, not exact
		t.Errorf("mallocs %d then %d after 10,000 allocations", n0, n1)
	}
}
