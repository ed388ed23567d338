package indexer

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pulsehq/pulse/internal/search"
	"github.com/pulsehq/pulse/internal/telemetry"
)

// metrics of one index ("events" or "failures", the const label index).
type metrics struct {
	docs     *prometheus.CounterVec // outcome: indexed, rejected
	errors   prometheus.Counter
	batch    prometheus.Histogram
	newest   atomic.Int64 // receive time (unix ms) of the newest indexed document
	lag      prometheus.GaugeFunc
	sweeps   prometheus.Counter
	sweepErr prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, index string) *metrics {
	labels := prometheus.Labels{"index": index}
	m := &metrics{
		docs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: telemetry.Namespace, Subsystem: "search", Name: "documents_total", ConstLabels: labels,
			Help: "Documents written to the search engine (indexed), or refused by it for good (rejected).",
		}, []string{"outcome"}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: telemetry.Namespace, Subsystem: "search", Name: "batch_errors_total", ConstLabels: labels,
			Help: "Batches the search engine failed (outage): their entries stay pending and are retried.",
		}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: telemetry.Namespace, Subsystem: "search", Name: "batch_duration_seconds", ConstLabels: labels,
			Help:    "Time the search engine took to durably take one batch.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		sweeps: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: telemetry.Namespace, Subsystem: "search", Name: "retention_runs_total", ConstLabels: labels,
			Help: "Retention sweeps that deleted the documents older than the search retention.",
		}),
		sweepErr: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: telemetry.Namespace, Subsystem: "search", Name: "retention_errors_total", ConstLabels: labels,
			Help: "Retention sweeps that failed (retried at the next run).",
		}),
	}
	m.lag = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: telemetry.Namespace, Subsystem: "search", Name: "index_lag_seconds", ConstLabels: labels,
		Help: "Now minus the receive time of the newest indexed event: how far search is behind ingest (0 before the first batch). " +
			"It grows while no event arrives.",
	}, func() float64 {
		n := m.newest.Load()
		if n == 0 {
			return 0
		}
		return time.Since(time.UnixMilli(n)).Seconds()
	})
	if reg != nil {
		reg.MustRegister(m.docs, m.errors, m.batch, m.lag, m.sweeps, m.sweepErr)
	}
	return m
}

// observeBatch records one flush: err is an outage, errs the per-document rejections.
func (m *metrics) observeBatch(d time.Duration, docs []search.Doc, errs []error, err error) {
	m.batch.Observe(d.Seconds())
	if err != nil {
		m.errors.Inc()
		return
	}
	var newest int64
	rejected := 0
	for i, doc := range docs {
		if errs[i] != nil {
			rejected++
			continue
		}
		newest = max(newest, doc.Received)
	}
	m.docs.WithLabelValues("indexed").Add(float64(len(docs) - rejected))
	m.docs.WithLabelValues("rejected").Add(float64(rejected))
	for {
		old := m.newest.Load()
		if newest <= old || m.newest.CompareAndSwap(old, newest) {
			return
		}
	}
}
