package loadgen

import (
	"testing"
	"time"
)

func TestHistogram(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name             string
		record           func(*histogram)
		count            uint64
		p50, p99, maxDur time.Duration
	}{
		{"empty", func(*histogram) {}, 0, 0, 0, 0},
		{"one", func(h *histogram) { h.record(3 * time.Millisecond) }, 1, 3 * time.Millisecond, 3 * time.Millisecond, 3 * time.Millisecond},
		{"uniform 1..1000 ms", func(h *histogram) { spread(h, 1000, time.Millisecond) }, 1000, 500 * time.Millisecond, 990 * time.Millisecond, time.Second},
		{"outlier", func(h *histogram) { spread(h, 99, time.Microsecond); h.record(2 * time.Second) }, 100, 50 * time.Microsecond, 99 * time.Microsecond, 2 * time.Second},
		// A sender due every 10 ms stalled 1 s once: the 99 requests it held back count too.
		{"paced stall", func(h *histogram) {
			for range 900 {
				h.recordPaced(time.Millisecond, 10*time.Millisecond)
			}
			h.recordPaced(time.Second, 10*time.Millisecond)
		}, 1000, time.Millisecond, 900 * time.Millisecond, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var h histogram
			tt.record(&h)
			s := h.summary()
			if s.Count != tt.count {
				t.Errorf("count %d, want %d", s.Count, tt.count)
			}
			near := func(what string, gotMS float64, want time.Duration) {
				got := time.Duration(gotMS * float64(time.Millisecond))
				if diff := got - want; diff > want/50+time.Microsecond || -diff > want/50+time.Microsecond {
					t.Errorf("%s = %s, want %s ± 2%%", what, got, want)
				}
			}
			near("p50", s.P50, tt.p50)
			near("p99", s.P99, tt.p99)
			near("max", s.Max, tt.maxDur)
		})
	}
}

// spread records n samples: unit, 2·unit, …, n·unit.
func spread(h *histogram, n int, unit time.Duration) {
	for i := range n {
		h.record(time.Duration(i+1) * unit)
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	var h histogram
	b.ReportAllocs()
	d := 1500 * time.Microsecond
	for b.Loop() {
		h.record(d)
	}
}
