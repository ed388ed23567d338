// Package telemetry holds Pulse's Prometheus registry and the HTTP metrics every role shares.
// Metrics use the namespace "pulse" and never a label with unbounded values (no subject, no id).
package telemetry

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every metric.
const Namespace = "pulse"

// LatencyBuckets are the buckets of every duration histogram, 100 µs to 10 s: one set, so
// that latencies of different stages can be compared and summed bucket by bucket.
var LatencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Registry is the process's own registry (no global state, so tests can build many apps).
type Registry struct {
	*prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// New returns a registry with the Go and process collectors and the HTTP metrics.
func New() *Registry {
	r := &Registry{Registry: prometheus.NewRegistry()}
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := promauto.With(r)
	r.requests = f.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "http_requests_total", Help: "HTTP requests by route template and status.",
	}, []string{"route", "status"})
	r.latency = f.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "http_request_duration_seconds", Help: "HTTP request latency by route template.",
		Buckets: LatencyBuckets,
	}, []string{"route"})
	return r
}

// Middleware counts requests by route template (never the raw path: unbounded), and times
// them, except streams.
func (r *Registry) Middleware(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	r.requests.WithLabelValues(route, strconv.Itoa(c.Writer.Status())).Inc()
	if !isStream(c) {
		r.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
	}
}

// isStream reports a response that lasts as long as its client stays, a WebSocket (101) or
// Server-Sent Events: its duration is no request latency, and would swamp the histogram.
func isStream(c *gin.Context) bool {
	return c.Writer.Status() == http.StatusSwitchingProtocols ||
		strings.HasPrefix(c.Writer.Header().Get("Content-Type"), "text/event-stream")
}

// Handler serves /metrics.
func (r *Registry) Handler() gin.HandlerFunc {
	return gin.WrapH(promhttp.HandlerFor(r.Registry, promhttp.HandlerOpts{Registry: r.Registry}))
}
