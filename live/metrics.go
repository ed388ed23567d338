package live

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/pulsehq/pulse/internal/telemetry"
)

// metrics of a hub. Labels are bounded: transport is ws or sse, op one of the frame ops, reason
// one of the two caps.
type metrics struct {
	connections  *prometheus.GaugeVec   // transport
	refused      *prometheus.CounterVec // reason: server_full, too_many_connections
	frames       *prometheus.CounterVec // op
	sent         sentFrames             // frames' children, resolved once: a frame is the hot path
	conflated    prometheus.Counter
	stale        prometheus.Counter
	slowCloses   prometheus.Counter
	floodCloses  prometheus.Counter
	changeSets   prometheus.Counter
	badChanges   prometheus.Counter
	resyncs      prometheus.Counter
	queryErrors  prometheus.Counter
	snapshot     prometheus.Histogram
	snapshotWait prometheus.Histogram
	changeDelay  prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	ns, sub := telemetry.Namespace, "live"
	f := promauto.With(reg)
	counter := func(name, help string) prometheus.Counter {
		return f.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help})
	}
	m := &metrics{
		connections: f.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "connections", Help: "Open live connections by transport (ws, sse)."}, []string{"transport"}),
		refused: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "connections_refused_total", Help: "Live connections refused by the caps: server_full (the process), too_many_connections (one client address)."},
			[]string{"reason"}),
		frames: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "frames_sent_total", Help: "Frames written to clients by op."}, []string{"op"}),
		conflated:   counter("updates_conflated_total", "Subject changes that replaced counts not yet sent to a subscription."),
		stale:       counter("updates_dropped_total", "Subject changes dropped because the subscription already had newer counts (its snapshot)."),
		slowCloses:  counter("slow_closes_total", "Clients closed because they did not keep up (no pong, or a write timed out)."),
		floodCloses: counter("flood_closes_total", "Clients closed for sending too many bad frames."),
		changeSets:  counter("changesets_total", "Change sets received from the counter."),
		badChanges:  counter("bad_changes_total", "Change messages that could not be used (undecodable, wrong number of windows)."),
		resyncs:     counter("resyncs_total", "Partitions resynchronised (Redis resubscribe, or change sets missed)."),
		queryErrors: counter("query_errors_total", "Snapshot or leaderboard reads that failed."),
		snapshot: f.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "snapshot_duration_seconds", Help: "Time of one snapshot read (shared by the subscriptions of a type that asked together).",
			Buckets: telemetry.LatencyBuckets}),
		snapshotWait: f.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "snapshot_wait_seconds", Help: "Time from a subscription asking for a snapshot to its read's answer.",
			Buckets: telemetry.LatencyBuckets}),
		changeDelay: f.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "change_delay_seconds", Help: "Time from a change set's at (Redis clock) to the hub applying it (includes clock skew).",
			Buckets: telemetry.LatencyBuckets}),
	}
	m.sent = sentFrames{
		snapshots: m.frames.WithLabelValues("snapshot"), updates: m.frames.WithLabelValues("update"),
		top: m.frames.WithLabelValues("top"), errors: m.frames.WithLabelValues("error"),
	}
	for _, reason := range []string{"server_full", "too_many_connections"} {
		m.refused.WithLabelValues(reason) // exported at 0 from the start: alerts see a series
	}
	return m
}

// sentFrames counts the frames sent, by op.
type sentFrames struct {
	snapshots, updates, top, errors prometheus.Counter
}
