package loadgen

import (
	"github.com/HdrHistogram/hdrhistogram-go"
	"slices"
	"testing"
	"time"
)

// step is one thing the run sees: a 202 for an event of rank, or a live count of rank, at a
// time in µs after the start (latencies stay below 128 µs, where the histogram is exact).
type step struct {
	accept bool
	rank   int
	count  int64 // for live counts
	at     int64 // µs
}

func acc(rank int, at int64) step         { return step{accept: true, rank: rank, at: at} }
func seen(rank int, count, at int64) step { return step{rank: rank, count: count, at: at} }
func base(rank int, count int64) step     { return step{rank: rank, count: count, at: -1} }
func latencies(h *histogram) (out []int64) { // exact below 2048 µs (three significant digits)
	h.locked(func(hh *hdrhistogram.Histogram) {
		for _, b := range hh.Distribution() {
			for range b.Count {
				out = append(out, b.From)
			}
		}
	})
	return out
}

func TestTrackerEndToEnd(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		steps      []step
		want       []int64 // e2e latencies in µs, sorted
		unresolved int64
		expected   []int64 // accepted per rank (ranks 0..2)
	}{
		{
			name:     "one event, one update",
			steps:    []step{acc(0, 10), seen(0, 1, 25)},
			want:     []int64{15},
			expected: []int64{1, 0, 0},
		},
		{
			name:     "conflated: one update covers three sends",
			steps:    []step{acc(0, 0), acc(0, 1), acc(0, 2), seen(0, 3, 10)},
			want:     []int64{8, 9, 10},
			expected: []int64{3, 0, 0},
		},
		{
			name:       "partial update leaves the newest pending",
			steps:      []step{acc(0, 0), acc(0, 5), acc(0, 10), seen(0, 2, 20)},
			want:       []int64{15, 20},
			unresolved: 1,
			expected:   []int64{3, 0, 0},
		},
		{
			name:     "a later update resolves the rest",
			steps:    []step{acc(0, 0), acc(0, 5), seen(0, 1, 20), seen(0, 2, 30)},
			want:     []int64{20, 25},
			expected: []int64{2, 0, 0},
		},
		{
			name:     "update before the 202 arrived counts as zero",
			steps:    []step{seen(1, 1, 3), acc(1, 7)},
			want:     []int64{0},
			expected: []int64{0, 1, 0},
		},
		{
			name:       "a snapshot base shifts what each send expects",
			steps:      []step{base(0, 5), acc(0, 10), seen(0, 5, 12), seen(0, 6, 40)},
			want:       []int64{30},
			expected:   []int64{1, 0, 0},
			unresolved: 0,
		},
		{
			name:       "a stale or decayed count resolves nothing",
			steps:      []step{acc(0, 0), seen(0, 4, 5), acc(0, 6), seen(0, 1, 9)},
			want:       []int64{0, 5},
			expected:   []int64{2, 0, 0},
			unresolved: 0,
		},
		{
			name:     "subjects are independent",
			steps:    []step{acc(0, 0), acc(1, 1), seen(1, 1, 11), seen(0, 1, 50)},
			want:     []int64{10, 50},
			expected: []int64{1, 1, 0},
		},
		{
			name:       "untracked subjects are expected but not timed",
			steps:      []step{acc(2, 0), acc(2, 1), seen(2, 2, 10)},
			want:       nil,
			expected:   []int64{0, 0, 2},
			unresolved: 0,
		},
		{
			name:       "never shown",
			steps:      []step{acc(0, 0), acc(1, 0)},
			want:       nil,
			expected:   []int64{1, 1, 0},
			unresolved: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			start := time.Unix(1_800_000_000, 0)
			tr := newTracker(3, 2, start) // ranks 0 and 1 tracked, 2 only counted
			at := func(us int64) time.Time { return start.Add(time.Duration(us) * time.Microsecond) }
			for _, s := range tt.steps {
				switch {
				case s.accept:
					tr.accepted(s.rank, at(s.at))
				case s.at < 0:
					tr.setBase(s.rank, s.count)
				default:
					tr.observed(s.rank, s.count, at(s.at))
				}
			}
			if got := latencies(&tr.e2e); !slices.Equal(got, tt.want) {
				t.Errorf("e2e latencies %v µs, want %v", got, tt.want)
			}
			if got := tr.unresolved(); got != tt.unresolved {
				t.Errorf("unresolved %d, want %d", got, tt.unresolved)
			}
			for rank, want := range tt.expected {
				if got := tr.expectedCount(rank); got != want {
					t.Errorf("expected count of rank %d = %d, want %d", rank, got, want)
				}
			}
		})
	}
}

// Many senders and a reader at once: every acceptance is resolved exactly once.
func TestTrackerConcurrent(t *testing.T) {
	t.Parallel()
	start := time.Now()
	tr := newTracker(4, 4, start)
	const perWorker = 2000
	done := make(chan struct{})
	for w := range 4 {
		go func() {
			for range perWorker {
				tr.accepted(w, time.Now())
			}
			done <- struct{}{}
		}()
	}
	for range 4 {
		<-done
	}
	for rank := range 4 {
		tr.observed(rank, perWorker, time.Now())
	}
	if n := tr.e2e.summary().Count; n != 4*perWorker {
		t.Errorf("%d latencies recorded, want %d", n, 4*perWorker)
	}
	if u := tr.unresolved(); u != 0 {
		t.Errorf("%d unresolved", u)
	}
}
