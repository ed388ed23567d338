package loadgen

import (
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// histogram records latencies in microseconds, up to an hour, with three significant digits.
// It is safe for concurrent use (a lock costs nanoseconds against a request's tens of
// microseconds), and its zero value is ready.
type histogram struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
}

const maxLatency = int64(time.Hour / time.Microsecond)

func (h *histogram) locked(f func(*hdrhistogram.Histogram)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.h == nil {
		h.h = hdrhistogram.New(1, maxLatency, 3)
	}
	f(h.h)
}

func (h *histogram) record(d time.Duration) {
	us := min(max(d.Microseconds(), 0), maxLatency)
	h.locked(func(hh *hdrhistogram.Histogram) { _ = hh.RecordValue(us) })
}

// recordPaced records the latency of a request of a fixed-rate sender, which sends one every
// interval: a request that took longer held back the ones due meanwhile, whose latencies the
// run would otherwise never see (coordinated omission). They are recorded as well, as the
// histogram's correction does: d − interval, d − 2·interval, … while positive.
func (h *histogram) recordPaced(d, interval time.Duration) {
	us := min(max(d.Microseconds(), 0), maxLatency)
	h.locked(func(hh *hdrhistogram.Histogram) { _ = hh.RecordCorrectedValue(us, interval.Microseconds()) })
}

// summary is what a report shows of a histogram, in milliseconds.
func (h *histogram) summary() *Latency {
	var l Latency
	h.locked(func(hh *hdrhistogram.Histogram) {
		ms := func(us int64) float64 { return float64(us) / 1000 }
		l = Latency{
			Count: uint64(hh.TotalCount()),
			P50:   ms(hh.ValueAtQuantile(50)),
			P90:   ms(hh.ValueAtQuantile(90)),
			P99:   ms(hh.ValueAtQuantile(99)),
			Max:   ms(hh.Max()),
		}
	})
	return &l
}
