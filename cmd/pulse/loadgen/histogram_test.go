package loadgen

import (
	"strconv"
	"testing"
	"time"
)

func itoa(n int) string { return strconv.Itoa(n) }

func TestHistogramBuckets(t *testing.T) {
	t.Parallel()
	// Every value maps to a bucket whose middle is within 1/64 of it, and buckets are ordered.
	prev := -1
	for _, us := range []int64{0, 1, 63, 127, 128, 129, 200, 1000, 4095, 4096, 65_537, 1_000_000, 60_000_000, 1 << 40} {
		i := bucketOf(us)
		if i < prev {
			t.Errorf("bucketOf(%d) = %d < previous %d", us, i, prev)
		}
		prev = i
		v := bucketValue(i)
		if us < linearMax && v != us {
			t.Errorf("below %d µs buckets are exact: bucketValue(bucketOf(%d)) = %d", linearMax, us, v)
		}
		if err := float64(v-us) / float64(max(us, 1)); err > 1.0/64 || err < -1.0/64 {
			t.Errorf("value %d µs reported as %d µs (%.2f%% off)", us, v, 100*err)
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name             string
		samples          []time.Duration
		p50, p99, maxDur time.Duration
	}{
		{"empty", nil, 0, 0, 0},
		{"one", []time.Duration{3 * time.Millisecond}, 3 * time.Millisecond, 3 * time.Millisecond, 3 * time.Millisecond},
		{"uniform 1..1000 ms", spread(1000, time.Millisecond), 500 * time.Millisecond, 990 * time.Millisecond, time.Second},
		{"outlier", append(spread(99, time.Microsecond), 2*time.Second), 50 * time.Microsecond, 2 * time.Second, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var h histogram
			for _, d := range tt.samples {
				h.record(d)
			}
			if h.count() != uint64(len(tt.samples)) {
				t.Errorf("count %d, want %d", h.count(), len(tt.samples))
			}
			near := func(what string, got, want time.Duration) {
				if diff := got - want; diff > want/50+time.Microsecond || -diff > want/50+time.Microsecond {
					t.Errorf("%s = %s, want %s ± 2%%", what, got, want)
				}
			}
			near("p50", h.quantile(0.5), tt.p50)
			near("p99", h.quantile(0.99), tt.p99)
			if h.maxDuration() != tt.maxDur {
				t.Errorf("max = %s, want exactly %s", h.maxDuration(), tt.maxDur)
			}
		})
	}
}

// spread is n samples: unit, 2·unit, …, n·unit.
func spread(n int, unit time.Duration) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = time.Duration(i+1) * unit
	}
	return out
}

func BenchmarkHistogramRecord(b *testing.B) {
	var h histogram
	b.ReportAllocs()
	d := 1500 * time.Microsecond
	for b.Loop() {
		h.record(d)
	}
}
