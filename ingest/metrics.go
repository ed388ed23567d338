package ingest

import (
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/pulsehq/pulse/internal/telemetry"
)

// maxTypeLabels caps the type label: the first distinct types get their own series, later ones
// share "other", so producers inventing types cannot grow the registry without bound.
const maxTypeLabels = 100

// Metrics of the ingest role.
type Metrics struct {
	events     *prometheus.CounterVec
	commitSize prometheus.Histogram
	roundTrip  prometheus.Histogram
	// waitUnconfirmed counts WAITs (Config.WaitReplicas) that did not confirm a commit.
	waitUnconfirmed prometheus.Counter

	mu             sync.RWMutex
	types          map[string]*typeCounters // named types, at most maxTypeLabels
	named          int
	other, invalid *typeCounters
}

// typeCounters holds one type's counters, indexed by status.
type typeCounters [len(statusNames)]prometheus.Counter

// newMetrics registers the ingest metrics on reg (none when reg is nil).
func newMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	m := &Metrics{
		events: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: telemetry.Namespace, Subsystem: "ingest", Name: "events_total",
			Help: fmt.Sprintf("Input events by outcome (accepted, duplicate, rejected, failed) and type; "+
				"the first %d types are named, later ones are \"other\", unvalidated ones \"invalid\".", maxTypeLabels),
		}, []string{"type", "status"}),
		waitUnconfirmed: f.NewCounter(prometheus.CounterOpts{
			Namespace: telemetry.Namespace, Subsystem: "ingest", Name: "wait_unconfirmed_total",
			Help: "Appends to one master that WAIT did not confirm on PULSE_INGEST_WAIT_REPLICAS replicas in time: their events were answered unconfirmed (503).",
		}),
		commitSize: f.NewHistogram(prometheus.HistogramOpts{
			Namespace: telemetry.Namespace, Subsystem: "ingest", Name: "commit_events",
			Help:    "Events per group commit (one Redis pipeline).",
			Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 4096},
		}),
		roundTrip: f.NewHistogram(prometheus.HistogramOpts{
			Namespace: telemetry.Namespace, Subsystem: "ingest", Name: "redis_roundtrip_seconds",
			Help:    "Duration of one group-commit pipeline round trip to Redis.",
			Buckets: telemetry.LatencyBuckets,
		}),
		types: make(map[string]*typeCounters),
	}
	m.other, m.invalid = m.newCounters("other"), m.newCounters("invalid")
	return m
}

// count adds every item's outcome. Consecutive items of one type, the usual batch, cost one
// lookup.
func (m *Metrics) count(items []item) {
	var last string
	var c *typeCounters
	for i := range items {
		it := &items[i]
		switch {
		case !it.typeOK:
			m.invalid[it.status].Inc()
			continue
		case c == nil || it.ev.Type != last:
			last, c = it.ev.Type, m.counters(it.ev.Type)
		}
		c[it.status].Inc()
	}
}

func (m *Metrics) counters(typ string) *typeCounters {
	m.mu.RLock()
	c, full := m.types[typ], m.named >= maxTypeLabels
	m.mu.RUnlock()
	switch {
	case c != nil:
		return c
	case full:
		return m.other
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if c = m.types[typ]; c == nil {
		if m.named >= maxTypeLabels {
			return m.other
		}
		m.named++
		c = m.newCounters(typ)
		m.types[typ] = c
	}
	return c
}

func (m *Metrics) newCounters(label string) *typeCounters {
	c := new(typeCounters)
	for s := accepted; s < status(len(statusNames)); s++ {
		c[s] = m.events.WithLabelValues(label, statusNames[s])
	}
	c[pending] = c[failed] // every counted item is settled; an unsettled one would have failed
	return c
}
