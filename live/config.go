package live

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"dario.cat/mergo"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pulsehq/pulse/internal/events"
)

// Config tunes a Hub. Windows describe the deployment and are required; every
// other zero field means its default (DefaultConfig), and a negative one is refused unless its
// comment says what it means.
type Config struct {
	Windows []events.Window // the counts' windows, in wire order
	Layout  events.Layout   // of the deployment: a subject's partition orders its changes

	// Interval is the least time between two frames of one subscription. Changes in between
	// are conflated: the next frame carries only the latest counts.
	Interval time.Duration
	// AllowedOrigins are Origin patterns allowed besides the same origin: host patterns
	// ("*.example.com", "localhost:5173") or, with a scheme, "https://app.example.com".
	AllowedOrigins []string

	// PingInterval is how often a WebSocket is pinged, or an SSE stream gets a comment line:
	// what finds a peer that vanished without closing, and keeps idle proxies from cutting the
	// stream. Every ping wakes its connection, so it is what idle connections cost.
	PingInterval time.Duration
	// SlowTimeout bounds a WebSocket client's answer to a ping and the write of one frame. A
	// client that does not answer is not reading, and one whose socket stays full that long
	// can be sent nothing more: both are closed with 1008 "client too slow".
	SlowTimeout time.Duration
	// QueryTimeout bounds one snapshot or leaderboard read from Redis.
	QueryTimeout time.Duration
	// Snapshots of one type asked for at the same time are read together: one read of at most
	// SnapshotBatch distinct subjects (a subscription is never split), and at most
	// SnapshotReads reads at a time.
	SnapshotBatch int
	SnapshotReads int

	ReadLimit        int64 // bytes of one client frame; more closes with 1009
	MaxSubscriptions int   // per connection
	MaxSubjects      int   // per connection, over all its subscriptions
	MaxTopLimit      int   // largest leaderboard a client may ask for
	// ErrorBudget is how many bad frames a connection may send in a burst, refilled at one
	// per second. A client past it is closed with 1008 "too many bad frames".
	ErrorBudget int

	// MaxConns caps the open connections (WebSocket and SSE together) of the hub: one more is
	// refused with 503 server_full and Retry-After. MaxConnsPerAddr caps those of one client
	// address (gin's ClientIP, so behind a proxy set the engine's trusted proxies): one more is
	// 429 too_many_connections. Negative: no cap.
	MaxConns        int
	MaxConnsPerAddr int

	// Presence shares the counts of watching connections between live processes (nil: this
	// process's own only); PresenceInterval is how often it is synced, so a tab that closes
	// leaves the totals everywhere within about two intervals.
	Presence         PresenceStore
	PresenceInterval time.Duration

	// Logger receives the hub's and the feed's logs (nil: slog.Default() when New runs).
	Logger *slog.Logger
	// Metrics receives the hub's metrics (nil: not registered anywhere).
	Metrics prometheus.Registerer
}

// DefaultConfig is a Hub's defaults (Windows have none).
func DefaultConfig() Config {
	return Config{
		Layout:           events.DefaultLayout(),
		Interval:         100 * time.Millisecond,
		PingInterval:     25 * time.Second,
		PresenceInterval: time.Second,
		SlowTimeout:      5 * time.Second,
		QueryTimeout:     2 * time.Second,
		SnapshotBatch:    2000,
		SnapshotReads:    4,
		ReadLimit:        64 << 10,
		MaxSubscriptions: 100,
		MaxSubjects:      1000,
		MaxTopLimit:      100,
		ErrorBudget:      20,
		MaxConns:         10_000,
		MaxConnsPerAddr:  100,
	}
}

func (c Config) withDefaults() (Config, error) {
	if len(c.Windows) == 0 {
		return c, errors.New("live: no windows configured")
	}
	c.Logger = cmp.Or(c.Logger, slog.Default())
	if err := mergo.Merge(&c, DefaultConfig()); err != nil {
		return c, err
	}
	if err := c.Layout.Check(); err != nil {
		return c, fmt.Errorf("live: %w", err)
	}
	var negative []string
	for name, v := range map[string]int64{
		"Interval": int64(c.Interval), "PingInterval": int64(c.PingInterval), "SlowTimeout": int64(c.SlowTimeout),
		"PresenceInterval": int64(c.PresenceInterval),
		"QueryTimeout":     int64(c.QueryTimeout), "SnapshotBatch": int64(c.SnapshotBatch), "SnapshotReads": int64(c.SnapshotReads),
		"ReadLimit": c.ReadLimit, "MaxSubscriptions": int64(c.MaxSubscriptions), "MaxSubjects": int64(c.MaxSubjects),
		"MaxTopLimit": int64(c.MaxTopLimit), "ErrorBudget": int64(c.ErrorBudget),
	} {
		if v < 0 {
			negative = append(negative, name)
		}
	}
	if len(negative) > 0 {
		slices.Sort(negative)
		return c, fmt.Errorf("live: negative settings %v: want 0 (the default) or more", negative)
	}
	return c, nil
}
