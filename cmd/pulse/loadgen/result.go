package loadgen

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// Result is what one run measured. Latencies are in milliseconds.
type Result struct {
	Target      string  `json:"target"`
	Type        string  `json:"type"`
	Prefix      string  `json:"subject_prefix"`
	Subjects    int     `json:"subjects"`
	Zipf        float64 `json:"zipf"`
	Batch       int     `json:"batch"`
	TargetRate  float64 `json:"target_rate"` // events/s; 0 = as fast as possible
	Concurrency int     `json:"concurrency"`
	IDs         bool    `json:"client_ids"`
	Seconds     float64 `json:"seconds"` // time spent sending

	Requests       int64            `json:"requests"`
	Accepted       int64            `json:"accepted"`
	Duplicates     int64            `json:"duplicates"`
	Rejected       int64            `json:"rejected"`
	Unknown        int64            `json:"unknown"` // events of requests that got no answer
	Status         map[string]int64 `json:"status"`  // requests by HTTP status, and transport errors
	EventsPerSec   float64          `json:"events_per_sec"`
	RequestsPerSec float64          `json:"requests_per_sec"`
	HTTP           *Latency         `json:"http_ms"`

	E2E        *Latency `json:"e2e_ms,omitempty"` // 202 → live update showing the event
	Unresolved int64    `json:"e2e_unresolved"`   // accepted, never shown live
	Snapshot   *Latency `json:"snapshot_ms,omitempty"`
	LiveFrames int64    `json:"live_frames"`
	Gaps       int64    `json:"live_seq_gaps"`
	Fanout     *Fanout  `json:"fanout,omitempty"`

	Drift         []Drift  `json:"drift"` // per window that covered the whole run
	SettleSeconds float64  `json:"settle_seconds"`
	Notes         []string `json:"notes,omitempty"`
}

// Latency summarizes a histogram, in milliseconds.
type Latency struct {
	Count uint64  `json:"count"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}

// Fanout is what the extra idle subscribers saw.
type Fanout struct {
	Connections int64 `json:"connections"`
	Failed      int64 `json:"failed"`    // could not connect or subscribe
	Snapshots   int64 `json:"snapshots"` // connections whose snapshot arrived
	Frames      int64 `json:"frames"`    // updates received, all connections together
}

// Drift compares, in one window, the counts Pulse shows with the events ingest accepted.
type Drift struct {
	Window     string `json:"window"`
	Expected   int64  `json:"expected"`
	Observed   int64  `json:"observed"`
	Diff       int64  `json:"diff"` // observed − expected
	Mismatched int    `json:"mismatched_subjects"`
}

// WriteTable prints the result for people.
func (res *Result) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	rate := "max"
	if res.TargetRate > 0 {
		rate = fmt.Sprintf("%.0f events/s", res.TargetRate)
	}
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, args...)...) }
	row("target", "%s  type %s  subjects %d (zipf %g, prefix %s)", res.Target, res.Type, res.Subjects, res.Zipf, res.Prefix)
	row("load", "batch %d  rate %s  concurrency %d  %.1f s", res.Batch, rate, res.Concurrency, res.Seconds)
	row("events/s", "%.0f  (%d accepted, %d duplicate, %d rejected, %d unknown)", res.EventsPerSec, res.Accepted, res.Duplicates, res.Rejected, res.Unknown)
	row("requests/s", "%.0f  (%d requests)", res.RequestsPerSec, res.Requests)
	row("HTTP ms", "%s", res.HTTP)
	if res.E2E != nil {
		row("e2e ms", "%s  (%d unresolved)", res.E2E, res.Unresolved)
		row("snapshot ms", "%s", res.Snapshot)
		row("live frames", "%d  (%d seq gaps)", res.LiveFrames, res.Gaps)
	} else {
		row("e2e ms", "not measured")
	}
	if res.Fanout != nil {
		row("fan-out", "%d connections (%d failed, %d with their snapshot), %d update frames", res.Fanout.Connections, res.Fanout.Failed, res.Fanout.Snapshots, res.Fanout.Frames)
	}
	for _, d := range res.Drift {
		row("drift "+d.Window, "%+d  (expected %d, observed %d, %d subjects differ; settled in %.1f s)", d.Diff, d.Expected, d.Observed, d.Mismatched, res.SettleSeconds)
	}
	if len(res.Drift) == 0 {
		row("drift", "not checked")
	}
	for _, n := range res.Notes {
		row("note", "%s", n)
	}
	return tw.Flush()
}

func (l *Latency) String() string {
	if l == nil || l.Count == 0 {
		return "no samples"
	}
	return fmt.Sprintf("p50 %.2f  p90 %.2f  p99 %.2f  max %.2f  (n=%d)", l.P50, l.P90, l.P99, l.Max, l.Count)
}
