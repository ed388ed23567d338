package live

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pulsehq/pulse/internal/events"
)

// Config tunes a Hub. Windows and Partitions describe the deployment and are required; every
// other zero field means its default, and a negative one is refused.
type Config struct {
	Windows    []events.Window // the counts' windows, in wire order
	Partitions int             // N of the deployment: a subject's partition orders its changes

	// Interval is the least time between two frames of one subscription (default 100ms).
	// Changes in between are conflated: the next frame carries only the latest counts.
	Interval time.Duration
	// AllowedOrigins are Origin patterns allowed besides the same origin: host patterns
	// ("*.example.com", "localhost:5173") or, with a scheme, "https://app.example.com".
	AllowedOrigins []string

	// PingInterval is how often a WebSocket is pinged, or an SSE stream gets a comment line
	// (default 5s). PongTimeout is how long a WebSocket client may take to answer (default 5s):
	// one that does not answer is not reading, and is closed with 1008 "client too slow".
	PingInterval time.Duration
	PongTimeout  time.Duration
	// WriteTimeout bounds one frame's write (default 5s). A client whose socket stays full for
	// that long is dropped: nothing more can be written to it, not even a close frame.
	WriteTimeout time.Duration
	// QueryTimeout bounds one snapshot or leaderboard read from Redis (default 2s).
	QueryTimeout time.Duration
	// Snapshots of one type asked for at the same time are read together: one read of at most
	// SnapshotBatch distinct subjects (default 2000; a subscription is never split), and at
	// most SnapshotReads reads at a time (default 4).
	SnapshotBatch int
	SnapshotReads int

	ReadLimit        int64 // bytes of one client frame (default 64 KiB); more closes with 1009
	MaxSubscriptions int   // per connection (default 100)
	MaxSubjects      int   // per connection, over all its subscriptions (default 1000)
	MaxTopLimit      int   // largest leaderboard a client may ask for (default 100)
	// ErrorBudget is how many bad frames a connection may send in a burst (default 20), refilled
	// at one per second. A client past it is closed with 1008 "too many bad frames".
	ErrorBudget int

	// MaxConns caps the open connections (WebSocket and SSE together) of the hub: one more is
	// refused with 503 server_full and Retry-After. MaxConnsPerAddr caps those of one client
	// address (gin's ClientIP, so behind a proxy set the engine's trusted proxies): one more is
	// 429 too_many_connections. 0 means no cap: the process decides (pulse's defaults are
	// 10,000 and 100).
	MaxConns        int
	MaxConnsPerAddr int

	// Logger receives the hub's and the feed's logs (default slog.Default()).
	Logger *slog.Logger
	// Metrics receives the hub's metrics (nil: not registered anywhere).
	Metrics prometheus.Registerer
}

func (c Config) withDefaults() (Config, error) {
	if len(c.Windows) == 0 {
		return c, errors.New("live: no windows configured")
	}
	if err := events.CheckPartitions(c.Partitions); err != nil {
		return c, fmt.Errorf("live: %w", err)
	}
	if c.MaxConns < 0 || c.MaxConnsPerAddr < 0 {
		return c, errors.New("live: connection caps must be ≥ 0")
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	var negative []string
	set := func(name string, d *time.Duration, def time.Duration) {
		if *d < 0 {
			negative = append(negative, name)
		}
		if *d == 0 {
			*d = def
		}
	}
	set("Interval", &c.Interval, 100*time.Millisecond)
	set("PingInterval", &c.PingInterval, 5*time.Second)
	set("PongTimeout", &c.PongTimeout, 5*time.Second)
	set("WriteTimeout", &c.WriteTimeout, 5*time.Second)
	set("QueryTimeout", &c.QueryTimeout, 2*time.Second)
	if c.SnapshotBatch < 0 {
		negative = append(negative, "SnapshotBatch")
	}
	if c.SnapshotBatch == 0 {
		c.SnapshotBatch = 2000
	}
	if c.SnapshotReads < 0 {
		negative = append(negative, "SnapshotReads")
	}
	if c.SnapshotReads == 0 {
		c.SnapshotReads = 4
	}
	if c.ReadLimit < 0 {
		negative = append(negative, "ReadLimit")
	}
	if c.ReadLimit == 0 {
		c.ReadLimit = 64 << 10
	}
	if c.MaxSubscriptions < 0 {
		negative = append(negative, "MaxSubscriptions")
	}
	if c.MaxSubscriptions == 0 {
		c.MaxSubscriptions = 100
	}
	if c.MaxSubjects < 0 {
		negative = append(negative, "MaxSubjects")
	}
	if c.MaxSubjects == 0 {
		c.MaxSubjects = 1000
	}
	if c.MaxTopLimit < 0 {
		negative = append(negative, "MaxTopLimit")
	}
	if c.MaxTopLimit == 0 {
		c.MaxTopLimit = 100
	}
	if c.ErrorBudget < 0 {
		negative = append(negative, "ErrorBudget")
	}
	if c.ErrorBudget == 0 {
		c.ErrorBudget = 20
	}
	if len(negative) > 0 {
		return c, fmt.Errorf("live: negative settings %v: want 0 (the default) or more", negative)
	}
	return c, nil
}
