package loadgen

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// histogram records latencies in microseconds in log-linear buckets: exact below 128 µs, then
// 64 buckets per power of two (at most 1/64 relative error). Recording is one atomic add, so
// every sender shares one histogram without a lock and without keeping every sample.
type histogram struct {
	counts [histBuckets]atomic.Uint64
	max    atomic.Int64 // µs, exact
}

const (
	subBits     = 6
	subCount    = 1 << subBits // buckets per power of two
	linearMax   = 2 * subCount // values below are their own bucket
	maxExp      = 40           // up to 2^47 µs (years): nothing a run measures is longer
	histBuckets = linearMax + maxExp*subCount
)

func bucketOf(us int64) int {
	if us < linearMax {
		return int(max(us, 0))
	}
	e := bits.Len64(uint64(us)) - (subBits + 1) // ≥ 1
	if e > maxExp {
		return histBuckets - 1
	}
	m := int(us >> e) // in [subCount, 2*subCount)
	return linearMax + (e-1)*subCount + m - subCount
}

// bucketValue is the middle of bucket i's range, in µs.
func bucketValue(i int) int64 {
	if i < linearMax {
		return int64(i)
	}
	e := (i-linearMax)/subCount + 1
	m := int64((i-linearMax)%subCount + subCount)
	low := m << e
	return low + (int64(1)<<e)/2
}

func (h *histogram) record(d time.Duration) {
	us := d.Microseconds()
	h.counts[bucketOf(us)].Add(1)
	for {
		cur := h.max.Load()
		if us <= cur || h.max.CompareAndSwap(cur, us) {
			return
		}
	}
}

func (h *histogram) count() uint64 {
	var n uint64
	for i := range h.counts {
		n += h.counts[i].Load()
	}
	return n
}

// quantile is the latency below which a fraction q of the samples lie (0 when empty).
func (h *histogram) quantile(q float64) time.Duration {
	n := h.count()
	if n == 0 {
		return 0
	}
	rank := uint64(q * float64(n))
	if rank >= n {
		rank = n - 1
	}
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen > rank {
			// A bucket's middle can exceed the largest sample; never report more than it.
			return time.Duration(min(bucketValue(i), h.max.Load())) * time.Microsecond
		}
	}
	return h.maxDuration()
}

func (h *histogram) maxDuration() time.Duration {
	return time.Duration(h.max.Load()) * time.Microsecond
}

// summary is what a report shows of a histogram.
func (h *histogram) summary() *Latency {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return &Latency{
		Count: h.count(),
		P50:   ms(h.quantile(0.50)),
		P90:   ms(h.quantile(0.90)),
		P99:   ms(h.quantile(0.99)),
		Max:   ms(h.maxDuration()),
	}
}
