package nats

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/imscript/imscript/broker"
)

// newBenchCluster starts three embedded nodes keeping replicas copies.
func newBenchCluster(b *testing.B, replicas int) *cluster {
	c := newClusterSpec(b, 3)
	for i := range 3 {
		n, err := Open(Config{Node: fmt.Sprint("n", i+1), DataDir: c.dirs[i], ClusterAddr: c.addrs[i],
			Peers: c.addrs, HistoryReplicas: replicas, PresenceTTL: testTTL, Logger: quiet()})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { n.Close() })
		must(b, n.Start(nop{}))
		c.nodes[i] = n
	}
	c.waitReady(b)
	return c
}

// A publication with history on a three-node cluster, one copy or three.
func BenchmarkClusterPublishHistory(b *testing.B) {
	for _, r := range []int{1, 3} {
		b.Run(fmt.Sprintf("R%d", r), func(b *testing.B) {
			c := newBenchCluster(b, r)
			n := c.nodes[0]
			opts := broker.PublishOptions{HistorySize: 300, HistoryTTL: time.Hour}
			publish(b, n, lobby, "warm", opts)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := n.Publish(lobby, benchData, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// latencies records the time from Publish on one node to Deliver on
// another (the publication carries its send time).
type latencies struct {
	nop
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) Deliver(_ broker.Channel, p broker.Publication) {
	sent := time.Unix(0, int64(binary.BigEndian.Uint64(p.Data)))
	d := time.Since(sent)
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

// Cross-node delivery latency, publication without history (core NATS
// over a route), reported as p50 and p99.
func BenchmarkClusterDeliveryLatency(b *testing.B) {
	c := newClusterSpec(b, 3)
	lat := &latencies{}
	for i := range 3 {
		n, err := Open(Config{Node: fmt.Sprint("n", i+1), DataDir: c.dirs[i], ClusterAddr: c.addrs[i],
			Peers: c.addrs, PresenceTTL: testTTL, Logger: quiet()})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { n.Close() })
		var h broker.Handler = nop{}
		if i == 1 {
			h = lat
		}
		must(b, n.Start(h))
		c.nodes[i] = n
	}
	c.waitReady(b)
	c.subscribe(b, lobby)
	n := c.nodes[0]
	buf := make([]byte, 8)
	sent := 0
	for b.Loop() {
		binary.BigEndian.PutUint64(buf, uint64(time.Now().UnixNano()))
		if _, err := n.Publish(lobby, slices.Clone(buf), broker.PublishOptions{}); err != nil {
			b.Fatal(err)
		}
		sent++
		time.Sleep(20 * time.Microsecond) // a latency, not a throughput
	}
	waitFor(b, "the deliveries", func() bool {
		lat.mu.Lock()
		defer lat.mu.Unlock()
		return len(lat.d) >= sent
	})
	lat.mu.Lock()
	d := slices.Clone(lat.d)
	lat.mu.Unlock()
	slices.Sort(d)
	b.ReportMetric(float64(d[len(d)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(d[len(d)*99/100].Microseconds()), "p99-µs")
}
