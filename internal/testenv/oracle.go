package testenv

import (
	"time"

	"github.com/pulsehq/pulse/internal/events"
)

// WindowCounts is the oracle of the counting semantics: how many of the events at times (unix
// ms) each window holds at `at` (unix ms), at one-second resolution. An event of second s is in
// window w at second n when n−w < s ≤ n.
func WindowCounts(at int64, times []int64, ws []events.Window) []int64 {
	out := make([]int64, len(ws))
	n := at / 1000
	for _, tm := range times {
		s := tm / 1000
		for i, w := range ws {
			if s > n-int64(w.D/time.Second) && s <= n {
				out[i]++
			}
		}
	}
	return out
}
