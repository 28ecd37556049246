package main

import "time"

// histogram counts latencies in 1 µs buckets up to histMax; slower ones
// land in the last bucket (reported as "> histMax").
type histogram struct {
	counts []uint64
	total  uint64
}

const histMax = 500 * time.Millisecond

func newHistogram() *histogram {
	return &histogram{counts: make([]uint64, histMax/time.Microsecond+1)}
}

func (h *histogram) record(ns int64, n uint64) {
	i := ns / int64(time.Microsecond)
	if i < 0 {
		i = 0
	}
	if i >= int64(len(h.counts)) {
		i = int64(len(h.counts)) - 1
	}
	h.counts[i] += n
	h.total += n
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
}

// quantile returns the latency below which a fraction q of the messages
// fell (the upper edge of its bucket).
func (h *histogram) quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	want := uint64(q * float64(h.total))
	if want >= h.total {
		want = h.total - 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen > want {
			return time.Duration(i+1) * time.Microsecond
		}
	}
	return histMax
}
