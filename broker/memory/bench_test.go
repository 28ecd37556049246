package memory

import (
	"testing"
	"time"

	"github.com/imscript/imscript/broker"
)

// The hub's hot path on a single node: a room publish with no other node
// and no history.
func BenchmarkPublishNoHistoryAlone(b *testing.B) {
	n := New("n")
	must(b, n.Start(nop{}))
	must(b, n.Subscribe(lobby))
	data := []byte(`{"text":"hello"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := n.Publish(lobby, data, broker.PublishOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPublishNoHistoryAloneParallel(b *testing.B) {
	n := New("n")
	must(b, n.Start(nop{}))
	must(b, n.Subscribe(lobby))
	data := []byte(`{"text":"hello"}`)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n.Publish(lobby, data, broker.PublishOptions{})
		}
	})
}

// A room with history (size 300, as recovery_max's default, and a TTL).
func BenchmarkPublishHistory(b *testing.B) {
	n := New("n")
	must(b, n.Start(nop{}))
	must(b, n.Subscribe(lobby))
	data := []byte(`{"text":"hello"}`)
	opts := broker.PublishOptions{HistorySize: 300, HistoryTTL: time.Hour}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := n.Publish(lobby, data, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// Two nodes on one bus, the other subscribed: one synchronous Deliver per
// publication.
func BenchmarkPublishDeliver(b *testing.B) {
	bus := NewBus()
	x, y := bus.Node("x"), bus.Node("y")
	must(b, x.Start(nop{}))
	must(b, y.Start(nop{}))
	must(b, x.Subscribe(lobby))
	must(b, y.Subscribe(lobby))
	data := []byte(`{"text":"hello"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := x.Publish(lobby, data, broker.PublishOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// Another node subscribed to other channels: Publish must look the channel
// up, and finds no one to deliver to.
func BenchmarkPublishNoHistoryOthersElsewhere(b *testing.B) {
	bus := NewBus()
	x, y := bus.Node("x"), bus.Node("y")
	must(b, x.Start(nop{}))
	must(b, y.Start(nop{}))
	must(b, x.Subscribe(lobby))
	must(b, y.Subscribe(other))
	data := []byte(`{"text":"hello"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := x.Publish(lobby, data, broker.PublishOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
