package app

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/pulsehq/pulse/internal/events"
)

// Roles a process can run. "all" is every role in one process, the local default.
var Roles = []string{"ingest", "counter", "live", "indexer"}

// Config is every setting of a pulse process. main fills it from PULSE_* variables and flags;
// the zero value of a field means its default (see Defaults).
type Config struct {
	Roles      []string
	Addr       string
	AdminAddr  string // pprof; empty = off
	RedisURL   string // one URL, or several comma-separated for a Redis Cluster
	Partitions int
	DataDir    string
	LogLevel   string

	APIKeys        []string
	BrowserKeys    []string
	AllowedOrigins []string // WebSocket/CORS origins besides the same origin

	// ingest
	DedupeTTL    time.Duration
	MaxBody      int64
	MaxBatch     int
	MaxFuture    time.Duration
	MaxBacklog   int64 // entries per partition stream before ingest answers 503
	FailedMaxLen int64

	// consumers
	ClaimIdle        time.Duration
	MaxDeliveries    int
	Windows          string
	HistoryRetention time.Duration

	// live
	LiveInterval time.Duration

	// search
	MeiliURL        string
	MeiliKey        string
	SearchRetention time.Duration
	IndexBatch      int
	IndexWait       time.Duration
}

// Defaults returns the defaults that run locally.
func Defaults() Config {
	return Config{
		Roles:            []string{"all"},
		Addr:             ":8080",
		RedisURL:         "redis://127.0.0.1:6379/0",
		Partitions:       events.DefaultPartitions,
		DataDir:          "./.data",
		LogLevel:         "info",
		DedupeTTL:        time.Hour,
		MaxBody:          1 << 20,
		MaxBatch:         1000,
		MaxFuture:        5 * time.Minute,
		MaxBacklog:       1_000_000,
		FailedMaxLen:     100_000,
		ClaimIdle:        30 * time.Second,
		MaxDeliveries:    5,
		Windows:          events.DefaultWindows,
		HistoryRetention: 7 * 24 * time.Hour,
		LiveInterval:     100 * time.Millisecond,
		SearchRetention:  30 * 24 * time.Hour,
		IndexBatch:       1000,
		IndexWait:        250 * time.Millisecond,
	}
}

// Validate checks the config and expands "all".
func (c *Config) Validate() error {
	var errs []error
	var roles []string
	for _, r := range c.Roles {
		switch {
		case r == "all":
			roles = append(roles, Roles...)
		case slices.Contains(Roles, r):
			roles = append(roles, r)
		default:
			errs = append(errs, fmt.Errorf("unknown role %q (want all, %v)", r, Roles))
		}
	}
	slices.Sort(roles)
	c.Roles = slices.Compact(roles)
	if len(c.Roles) == 0 {
		errs = append(errs, errors.New("no role to run"))
	}
	if c.Partitions < 1 || c.Partitions > 1024 {
		errs = append(errs, fmt.Errorf("partitions %d: want 1..1024", c.Partitions))
	}
	ws, err := events.ParseWindows(c.Windows)
	if err != nil {
		errs = append(errs, err)
	} else if longest := ws[len(ws)-1].D; c.DedupeTTL < longest {
		errs = append(errs, fmt.Errorf("dedupe TTL %s is shorter than the longest window %s", c.DedupeTTL, longest))
	}
	if c.MaxBatch < 1 || c.MaxBody < 1024 {
		errs = append(errs, errors.New("max batch must be ≥ 1 and max body ≥ 1 KiB"))
	}
	if c.MaxDeliveries < 1 {
		errs = append(errs, errors.New("max deliveries must be ≥ 1"))
	}
	return errors.Join(errs...)
}

// Has reports whether the process runs role.
func (c *Config) Has(role string) bool { return slices.Contains(c.Roles, role) }
