package indexer

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/pulsehq/pulse/internal/search"
	"github.com/pulsehq/pulse/internal/telemetry"
)

// metrics of one index ("events" or "failures": the registerer is wrapped with that label).
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
	if reg != nil {
		reg = prometheus.WrapRegistererWith(prometheus.Labels{"index": index}, reg)
	}
	f := promauto.With(reg)
	m := &metrics{
		docs: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: telemetry.Namespace, Subsystem: "search", Name: "documents_total",
			Help: "Documents written to the search engine (indexed), or refused by it for good (rejected).",
		}, []string{"outcome"}),
		errors: f.NewCounter(prometheus.CounterOpts{
			Namespace: telemetry.Namespace, Subsystem: "search", Name: "batch_errors_total",
			Help: "Batches the search engine failed (outage): their entries stay pending and are retried.",
		}),
		batch: f.NewHistogram(prometheus.HistogramOpts{
			Namespace: telemetry.Namespace, Subsystem: "search", Name: "batch_duration_seconds",
			Help:    "Time the search engine took to durably take one batch.",
			Buckets: telemetry.LatencyBuckets,
		}),
		sweeps: f.NewCounter(prometheus.CounterOpts{
			Namespace: telemetry.Namespace, Subsystem: "search", Name: "retention_runs_total",
			Help: "Retention sweeps that deleted the documents older than the search retention.",
		}),
		sweepErr: f.NewCounter(prometheus.CounterOpts{
			Namespace: telemetry.Namespace, Subsystem: "search", Name: "retention_errors_total",
			Help: "Retention sweeps that failed (retried at the next run).",
		}),
	}
	m.lag = f.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: telemetry.Namespace, Subsystem: "search", Name: "index_lag_seconds",
		Help: "Now minus the receive time of the newest indexed event: how far search is behind ingest (0 before the first batch). " +
			"It grows while no event arrives.",
	}, func() float64 {
		n := m.newest.Load()
		if n == 0 {
			return 0
		}
		return time.Since(time.UnixMilli(n)).Seconds()
	})
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
