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
	i := quantileBucket(h.counts, h.total, q)
	if i < 0 {
		return 0
	}
	return time.Duration(i+1) * time.Microsecond
}

// quantileBucket returns the bucket, of counts that add up to total,
// below whose upper edge a fraction q of the samples fell; -1 when there
// are none.
func quantileBucket(counts []uint64, total uint64, q float64) int {
	if total == 0 {
		return -1
	}
	want := uint64(q * float64(total))
	if want >= total {
		want = total - 1
	}
	var seen uint64
	for i, c := range counts {
		seen += c
		if seen > want {
			return i
		}
	}
	return len(counts) - 1
}
