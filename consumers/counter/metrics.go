package counter

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/pulsehq/pulse/internal/telemetry"
)

type metrics struct {
	events    *prometheus.CounterVec // outcome: applied, skipped
	late      prometheus.Counter
	published *prometheus.CounterVec // source: apply, expiry
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	return &metrics{
		events: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: telemetry.Namespace, Subsystem: "counter", Name: "events_total",
			Help: "Entries the counter script saw, by outcome: applied, or skipped (already applied: acknowledged elsewhere, or a replay of a counted entry).",
		}, []string{"outcome"}),
		late: f.NewCounter(prometheus.CounterOpts{
			Namespace: telemetry.Namespace, Subsystem: "counter", Name: "late_events_total",
			Help: "Applied events older than the longest window: counted in history only.",
		}),
		published: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: telemetry.Namespace, Subsystem: "counter", Name: "changesets_published_total",
			Help: "Change sets published on the partitions' change channels, by source: apply (new events) or expiry (decay).",
		}, []string{"source"}),
	}
}
