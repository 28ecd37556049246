package main

import (
	"math/bits"
	"time"
)

// logHist counts latencies (ns) from 1 ns to hours in log-linear buckets,
// 32 per power of two (about 3% wide): for the broadcast rows, whose
// latencies run from microseconds to seconds.
type logHist struct {
	counts [32 + 58*32]uint64
	total  uint64
	max    int64
}

func logBucket(v int64) int {
	if v < 32 {
		return int(max(v, 0))
	}
	e := bits.Len64(uint64(v)) - 6
	return 32 + e*32 + int(v>>e) - 32
}

// logUpper is the upper edge of bucket i.
func logUpper(i int) int64 {
	if i < 32 {
		return int64(i + 1)
	}
	e := (i - 32) / 32
	m := int64((i-32)%32 + 32)
	return (m + 1) << e
}

func (h *logHist) record(ns int64) {
	h.counts[logBucket(ns)]++
	h.total++
	h.max = max(h.max, ns)
}

func (h *logHist) merge(o *logHist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
	h.max = max(h.max, o.max)
}

// quantile is the latency below which a fraction q of the samples fell
// (the upper edge of its bucket, at most the largest sample).
func (h *logHist) quantile(q float64) time.Duration {
	i := quantileBucket(h.counts[:], h.total, q)
	if i < 0 {
		return 0
	}
	return time.Duration(min(logUpper(i), h.max))
}
