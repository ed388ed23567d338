package loadgen

import (
	"sync"
	"sync/atomic"
	"time"
)

// tracker holds what the run expects: per subject, how many events ingest accepted; and, for
// the tracked (hottest) subjects, which accepted events a live update has not shown yet.
//
// End-to-end latency of an event is the time from its 202 to the first live update whose count
// covers it. The n-th acceptance of a subject expects count base+n; an update showing count c
// resolves every pending acceptance expecting ≤ c at once, which is what conflation means: one
// frame may answer many sends. Which of two concurrent events was applied first is unknowable
// from outside, so acceptances are matched in the order their 202s arrived.
type tracker struct {
	start    time.Time
	expected []atomic.Int64 // accepted events per subject rank
	tracked  []subjectState // ranks [0, len(tracked)) are measured end to end
	e2e      histogram
}

type subjectState struct {
	mu      sync.Mutex
	sent    int64 // base + accepted so far: the count the latest acceptance expects
	seen    int64 // highest count a live frame showed
	pending []pendingSend
	head    int // pending[:head] are resolved
}

type pendingSend struct {
	want int64         // count that covers this event
	at   time.Duration // when its 202 arrived, since start
}

func newTracker(subjects, tracked int, start time.Time) *tracker {
	return &tracker{
		start:    start,
		expected: make([]atomic.Int64, subjects),
		tracked:  make([]subjectState, tracked),
	}
}

// setBase records a tracked subject's count before the run (from its snapshot).
func (t *tracker) setBase(rank int, count int64) {
	s := &t.tracked[rank]
	s.mu.Lock()
	s.sent, s.seen = count, count
	s.mu.Unlock()
}

// accepted records that ingest answered 202 for one event of rank at time now.
func (t *tracker) accepted(rank int, now time.Time) {
	t.expected[rank].Add(1)
	if rank >= len(t.tracked) {
		return
	}
	s := &t.tracked[rank]
	s.mu.Lock()
	s.sent++
	if s.seen >= s.sent {
		// The update outran the 202 to this client: no measurable delay.
		t.e2e.record(0)
	} else {
		s.pending = append(s.pending, pendingSend{want: s.sent, at: now.Sub(t.start)})
	}
	s.mu.Unlock()
}

// observed records that a live frame received at now showed count for a tracked rank.
func (t *tracker) observed(rank int, count int64, now time.Time) {
	if rank < 0 || rank >= len(t.tracked) {
		return
	}
	at := now.Sub(t.start)
	s := &t.tracked[rank]
	s.mu.Lock()
	s.seen = max(s.seen, count)
	for s.head < len(s.pending) && s.pending[s.head].want <= count {
		t.e2e.record(at - s.pending[s.head].at)
		s.head++
	}
	// Reuse the queue's memory once most of it is resolved.
	if s.head == len(s.pending) {
		s.pending, s.head = s.pending[:0], 0
	} else if s.head > 1024 && s.head > len(s.pending)/2 {
		s.pending = append(s.pending[:0], s.pending[s.head:]...)
		s.head = 0
	}
	s.mu.Unlock()
}

// unresolved counts accepted events of tracked subjects that no update has shown yet.
func (t *tracker) unresolved() int64 {
	var n int64
	for i := range t.tracked {
		s := &t.tracked[i]
		s.mu.Lock()
		n += int64(len(s.pending) - s.head)
		s.mu.Unlock()
	}
	return n
}

// expectedCount is the number of events of rank that ingest accepted in this run.
func (t *tracker) expectedCount(rank int) int64 { return t.expected[rank].Load() }
