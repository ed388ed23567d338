package consumers

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pulsehq/pulse/internal/telemetry"
)

// metrics are shared by every Group of a process; the group label tells them apart.
type metrics struct {
	handled      *prometheus.CounterVec // group, outcome
	reclaimed    *prometheus.CounterVec // group
	deadLettered *prometheus.CounterVec // group
	deadRefused  *prometheus.CounterVec // group
	removed      *prometheus.CounterVec // group
	pending      *prometheus.GaugeVec   // group, partition
	lag          *prometheus.GaugeVec   // group, partition
	batch        *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: telemetry.Namespace, Subsystem: "consumer", Name: "entries_total",
			Help: "Entries handed to a handler, by outcome: ok, failed (left pending for a retry), transient.",
		}, []string{"group", "outcome"}),
		reclaimed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: telemetry.Namespace, Subsystem: "consumer", Name: "reclaimed_total",
			Help: "Entries taken over from idle consumers with XAUTOCLAIM.",
		}, []string{"group"}),
		deadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: telemetry.Namespace, Subsystem: "consumer", Name: "dead_lettered_total",
			Help: "Entries sent to the dead-letter store pulse:failed and acknowledged.",
		}, []string{"group"}),
		deadRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: telemetry.Namespace, Subsystem: "consumer", Name: "dead_letter_refused_total",
			Help: "Entries the full dead-letter store refused (alarm): they stay pending and are retried; replay failures to make room.",
		}, []string{"group"}),
		removed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: telemetry.Namespace, Subsystem: "consumer", Name: "removed_total",
			Help: "Idle consumers without pending entries removed from the group (XGROUP DELCONSUMER).",
		}, []string{"group"}),
		pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: telemetry.Namespace, Subsystem: "consumer", Name: "pending",
			Help: "Entries delivered to the group and not yet acknowledged (XINFO GROUPS).",
		}, []string{"group", "partition"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: telemetry.Namespace, Subsystem: "consumer", Name: "lag",
			Help: "Entries of the stream not yet delivered to the group (XINFO GROUPS; -1 when Redis cannot tell).",
		}, []string{"group", "partition"}),
		batch: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: telemetry.Namespace, Subsystem: "consumer", Name: "batch_duration_seconds",
			Help:    "Time a handler took for one batch.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"group"}),
	}
	if reg != nil {
		m.handled = register(reg, m.handled)
		m.reclaimed = register(reg, m.reclaimed)
		m.deadLettered = register(reg, m.deadLettered)
		m.deadRefused = register(reg, m.deadRefused)
		m.removed = register(reg, m.removed)
		m.pending = register(reg, m.pending)
		m.lag = register(reg, m.lag)
		m.batch = register(reg, m.batch)
	}
	return m
}

// register adds c to reg, or returns the collector registered before under the same name
// (several groups, or several consumers in one test process, share one registry).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		// A name clash with another metric type is a programming error caught by any test.
		panic(err)
	}
	return c
}
