package consumers

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/pulsehq/pulse/internal/telemetry"
)

// metrics of one Group: the registerer given to it is wrapped with its group label, so groups
// of one process share the metric names.
type metrics struct {
	handled      *prometheus.CounterVec // outcome
	reclaimed    prometheus.Counter
	deadLettered prometheus.Counter
	deadRefused  prometheus.Counter
	removed      prometheus.Counter
	pending      *prometheus.GaugeVec // partition
	lag          *prometheus.GaugeVec // partition
	batch        prometheus.Histogram
}

// newMetrics registers the group's metrics on reg (none when reg is nil).
func newMetrics(reg prometheus.Registerer, group string) *metrics {
	if reg != nil {
		reg = prometheus.WrapRegistererWith(prometheus.Labels{"group": group}, reg)
	}
	f := promauto.With(reg)
	return &metrics{
		handled: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: telemetry.Namespace, Subsystem: "consumer", Name: "entries_total",
			Help: "Entries handed to a handler, by outcome: ok, failed (left pending for a retry), transient.",
		}, []string{"outcome"}),
		reclaimed: f.NewCounter(prometheus.CounterOpts{
			Namespace: telemetry.Namespace, Subsystem: "consumer", Name: "reclaimed_total",
			Help: "Entries taken over from idle consumers with XAUTOCLAIM.",
		}),
		deadLettered: f.NewCounter(prometheus.CounterOpts{
			Namespace: telemetry.Namespace, Subsystem: "consumer", Name: "dead_lettered_total",
			Help: "Entries sent to the dead-letter store pulse:failed and acknowledged.",
		}),
		deadRefused: f.NewCounter(prometheus.CounterOpts{
			Namespace: telemetry.Namespace, Subsystem: "consumer", Name: "dead_letter_refused_total",
			Help: "Entries the full dead-letter store refused (alarm): they stay pending and are retried; replay failures to make room.",
		}),
		removed: f.NewCounter(prometheus.CounterOpts{
			Namespace: telemetry.Namespace, Subsystem: "consumer", Name: "removed_total",
			Help: "Idle consumers without pending entries removed from the group (XGROUP DELCONSUMER).",
		}),
		pending: f.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: telemetry.Namespace, Subsystem: "consumer", Name: "pending",
			Help: "Entries delivered to the group and not yet acknowledged (XINFO GROUPS).",
		}, []string{"partition"}),
		lag: f.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: telemetry.Namespace, Subsystem: "consumer", Name: "lag",
			Help: "Entries of the stream not yet delivered to the group (XINFO GROUPS; -1 when Redis cannot tell).",
		}, []string{"partition"}),
		batch: f.NewHistogram(prometheus.HistogramOpts{
			Namespace: telemetry.Namespace, Subsystem: "consumer", Name: "batch_duration_seconds",
			Help:    "Time a handler took for one batch.",
			Buckets: telemetry.LatencyBuckets,
		}),
	}
}
