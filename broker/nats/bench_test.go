package nats

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imscript/imscript/broker"
)

var benchData = []byte(`{"text":"hello"}`)

// One room with history (size 300, as recovery_max's default, and a TTL):
// one JetStream store per publication.
func BenchmarkPublishHistory(b *testing.B) {
	n := open(b, b.TempDir(), "n")
	must(b, n.Start(nop{}))
	must(b, n.Subscribe(lobby))
	opts := broker.PublishOptions{HistorySize: 300, HistoryTTL: time.Hour}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := n.Publish(lobby, benchData, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// Publications with history from many goroutines, each to a room of its
// own: the stores of different channels overlap.
func BenchmarkPublishHistoryParallel(b *testing.B) {
	n := open(b, b.TempDir(), "n")
	opts := broker.PublishOptions{HistorySize: 300, HistoryTTL: time.Hour}
	var next atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		ch := broker.Channel{Kind: broker.Room, Name: fmt.Sprint("r", next.Add(1))}
		for pb.Next() {
			if _, err := n.Publish(ch, benchData, opts); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// No history, one node: nothing leaves the process.
func BenchmarkPublishNoHistory(b *testing.B) {
	n := open(b, b.TempDir(), "n")
	must(b, n.Start(nop{}))
	must(b, n.Subscribe(lobby))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := n.Publish(lobby, benchData, broker.PublishOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// No history with another node on the server: a core NATS publication.
func BenchmarkPublishNoHistoryShared(b *testing.B) {
	n := open(b, b.TempDir(), "n")
	o := attach(b, n, "o")
	must(b, o.Start(nop{}))
	must(b, o.Subscribe(lobby))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := n.Publish(lobby, benchData, broker.PublishOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// filled returns a node whose lobby holds 10,000 publications (HistorySize
// 10,000), each followed by others/10,000 publications to 50 other rooms in
// turn.
func filled(b *testing.B, others int) *Broker {
	n := open(b, b.TempDir(), "n")
	opts := broker.PublishOptions{HistorySize: 10000}
	k := 0
	for i := range 10000 {
		if _, err := n.Publish(lobby, fmt.Appendf(nil, `{"n":%d}`, i), opts); err != nil {
			b.Fatal(err)
		}
		for range others / 10000 {
			ch := broker.Channel{Kind: broker.Room, Name: fmt.Sprint("o", k%50)}
			k++
			if _, err := n.Publish(ch, benchData, opts); err != nil {
				b.Fatal(err)
			}
		}
	}
	return n
}

func benchHistory(b *testing.B, n *Broker, q broker.HistoryQuery, want int) {
	benchHistoryCached(b, n, q, want, n.cache != nil)
}

func benchHistoryCached(b *testing.B, n *Broker, q broker.HistoryQuery, want int, cached bool) {
	gets := n.gets.Load()
	b.ReportAllocs()
	for b.Loop() {
		got, _, err := n.history(lobby, q, cached)
		if err != nil || len(got) != want {
			b.Fatalf("%d entries, %v", len(got), err)
		}
	}
	b.ReportMetric(float64(n.gets.Load()-gets)/float64(b.N), "gets/op")
}

// benchAloneAttached runs q on n alone (no other client of its server:
// nobody else can write), then with another node attached (it may), each
// with the history cache and without (every read from the stream).
func benchAloneAttached(b *testing.B, n *Broker, q broker.HistoryQuery, want int) {
	b.Run("alone", func(b *testing.B) { benchHistoryCached(b, n, q, want, true) })
	b.Run("alone-uncached", func(b *testing.B) { benchHistoryCached(b, n, q, want, false) })
	attach(b, n, "o")
	b.Run("attached", func(b *testing.B) { benchHistoryCached(b, n, q, want, true) })
	b.Run("attached-uncached", func(b *testing.B) { benchHistoryCached(b, n, q, want, false) })
}

// A recovery of 100 on a node just restarted: the first of a room reads
// the stream and fills the cache, the others are answered from it (the
// recovery storm after a restart: 1,000 clients of a room reconnecting).
func BenchmarkHistoryRecover100Restarted(b *testing.B) {
	dir := b.TempDir()
	n := open(b, dir, "n")
	opts := broker.PublishOptions{HistorySize: 10000}
	for i := range 10000 {
		if _, err := n.Publish(lobby, fmt.Appendf(nil, `{"n":%d}`, i), opts); err != nil {
			b.Fatal(err)
		}
	}
	must(b, n.Close())
	n = open(b, dir, "n")
	q := broker.HistoryQuery{Since: 9900, Limit: 301}
	gets := n.gets.Load()
	b.ReportAllocs()
	for b.Loop() {
		got, _, err := n.History(lobby, q)
		if err != nil || len(got) != 100 {
			b.Fatalf("%d entries, %v", len(got), err)
		}
	}
	b.ReportMetric(float64(n.gets.Load()-gets)/float64(b.N), "gets/op")
}

// "Last 50" of a room with 10,000 kept: srv:history(room).
func BenchmarkHistoryLast50(b *testing.B) {
	benchAloneAttached(b, filled(b, 0), broker.HistoryQuery{Limit: 50}, 50)
}

// The same with 30,000 publications of 50 other rooms interleaved.
func BenchmarkHistoryLast50Interleaved(b *testing.B) {
	benchHistory(b, filled(b, 30000), broker.HistoryQuery{Limit: 50}, 50)
}

// A recovery of the last 100 of 10,000 (limit recovery_max's default 300).
func BenchmarkHistoryRecover100(b *testing.B) {
	benchAloneAttached(b, filled(b, 0), broker.HistoryQuery{Since: 9900, Limit: 301}, 100)
}

func BenchmarkHistoryRecover100Interleaved(b *testing.B) {
	benchHistory(b, filled(b, 30000), broker.HistoryQuery{Since: 9900, Limit: 301}, 100)
}

// A recovery of 100 from the middle of 10,000: the stream search.
func BenchmarkHistoryRecoverMiddleInterleaved(b *testing.B) {
	benchHistory(b, filled(b, 30000), broker.HistoryQuery{Since: 5000, Limit: 100}, 100)
}

// The position alone (a join without since).
func BenchmarkHistoryPosition(b *testing.B) {
	benchAloneAttached(b, filled(b, 0), broker.HistoryQuery{Since: ^uint64(0)}, 0)
}
