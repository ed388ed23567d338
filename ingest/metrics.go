package ingest

import (
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

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

	mu             sync.RWMutex
	types          map[string]*typeCounters // named types, at most maxTypeLabels
	named          int
	other, invalid *typeCounters
}

// typeCounters holds one type's counters, indexed by status.
type typeCounters [len(statusNames)]prometheus.Counter

// newMetrics registers the ingest metrics on reg.
func newMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: telemetry.Namespace, Subsystem: "ingest", Name: "events_total",
			Help: fmt.Sprintf("Input events by outcome (accepted, duplicate, rejected, failed) and type; "+
				"the first %d types are named, later ones are \"other\", unvalidated ones \"invalid\".", maxTypeLabels),
		}, []string{"type", "status"}),
		commitSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: telemetry.Namespace, Subsystem: "ingest", Name: "commit_events",
			Help:    "Events per group commit (one Redis pipeline).",
			Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 4096},
		}),
		roundTrip: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: telemetry.Namespace, Subsystem: "ingest", Name: "redis_roundtrip_seconds",
			Help:    "Duration of one group-commit pipeline round trip to Redis.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}),
		types: make(map[string]*typeCounters),
	}
	for _, c := range []prometheus.Collector{m.events, m.commitSize, m.roundTrip} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register ingest metrics: %w", err)
		}
	}
	m.other, m.invalid = m.newCounters("other"), m.newCounters("invalid")
	return m, nil
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
