package mqtt

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/telemetry"
)

// metrics of the mqtt role. The totals are kept once, as counters, and read both by
// Prometheus and by the pipeline page's record (events.Intake).
type metrics struct {
	messages, redelivered, acked, refused, retries counter
	connected                                      prometheus.Gauge
	connects, receipts                             *prometheus.CounterVec
	up                                             atomic.Bool
}

// counter is a total that Prometheus reads through a CounterFunc.
type counter struct{ atomic.Int64 }

func (c *counter) Inc() { c.Add(1) }

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	m := &metrics{}
	for _, c := range []struct {
		c          *counter
		name, help string
	}{
		{&m.messages, "messages_total", "MQTT messages received, redeliveries included."},
		{&m.redelivered, "redelivered_total", "Messages received with the DUP flag: the broker was not sure they were handled."},
		{&m.acked, "acked_total", "Messages acknowledged: every event appended, a duplicate, or rejected and recorded."},
		{&m.refused, "refused_total", "Messages answered with an error (a topic that maps to no event, a malformed body, every event invalid): recorded in the failure stream and acknowledged."},
		{&m.retries, "retries_total", "Attempts of a message that failed because Redis could not take its events; it is tried again, unacknowledged."},
	} {
		f.NewCounterFunc(prometheus.CounterOpts{Namespace: telemetry.Namespace, Subsystem: "mqtt", Name: c.name, Help: c.help},
			func() float64 { return float64(c.c.Load()) })
	}
	m.connected = f.NewGauge(prometheus.GaugeOpts{Namespace: telemetry.Namespace, Subsystem: "mqtt", Name: "connected",
		Help: "1 while connected to the broker and subscribed, else 0."})
	m.connects = f.NewCounterVec(prometheus.CounterOpts{Namespace: telemetry.Namespace, Subsystem: "mqtt", Name: "connects_total",
		Help: "Connection attempts to the broker by result (ok, failed)."}, []string{"result"})
	m.receipts = f.NewCounterVec(prometheus.CounterOpts{Namespace: telemetry.Namespace, Subsystem: "mqtt", Name: "receipts_total",
		Help: "Receipts published on a message's response topic by result (sent, failed)."}, []string{"result"})
	return m
}

// setConnected records the broker connection's state.
func (m *metrics) setConnected(up bool) {
	m.up.Store(up)
	if up {
		m.connected.Set(1)
	} else {
		m.connected.Set(0)
	}
}

// snapshot is the record of client id's totals now.
func (m *metrics) snapshot(id, filter string) events.Intake {
	return events.Intake{
		Client: id, Filter: filter, Connected: m.up.Load(),
		Messages: m.messages.Load(), Redelivered: m.redelivered.Load(), Acked: m.acked.Load(),
		Refused: m.refused.Load(), Retries: m.retries.Load(),
		At: time.Now().UnixMilli(),
	}
}
