package app

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/httpapi"
)

// Roles a process can run. "all" is every role in one process, the local default.
var Roles = []string{"ingest", "counter", "live", "indexer"}

// Config is every setting of a pulse process. main fills it from PULSE_* variables and flags;
// the zero value of a field means its default (see Defaults).
type Config struct {
	Roles     []string
	Addr      string
	AdminAddr string // pprof; empty = off
	RedisURL  string // one URL, or several comma-separated for a Redis Cluster
	// RedisTimeout bounds one Redis read or write (a blocking read adds its block time). A
	// reply later than that is a lost one: the command may have run.
	RedisTimeout time.Duration
	Partitions   int
	DataDir      string
	LogLevel     string

	APIKeys        []string
	BrowserKeys    []string
	AllowedOrigins []string // WebSocket/CORS origins besides the same origin

	// ingest
	DedupeTTL      time.Duration
	MaxBody        int64
	MaxBatch       int
	MaxFuture      time.Duration
	MaxTypes       int   // distinct event types; negative = no limit
	MaxBacklog     int64 // entries per partition stream before ingest answers 503
	FailedMaxLen   int64 // dead letters kept; a full store refuses more (entries stay pending)
	RejectedMaxLen int64 // rejected input items kept, oldest trimmed first

	// consumers
	ClaimIdle        time.Duration
	MaxDeliveries    int
	ConsumerName     string // this process's name in the consumer groups; empty = the host name
	Windows          string
	HistoryRetention time.Duration

	// live
	LiveInterval time.Duration
	// LiveSlowTimeout: a live client that takes longer to answer a ping, or to take a frame,
	// is closed as too slow.
	LiveSlowTimeout time.Duration

	// search
	MeiliURL        string
	MeiliKey        string
	SearchRetention time.Duration
	IndexBatch      int
	IndexWait       time.Duration

	// edge: timeouts, connection caps, security
	TrustedProxies      []string      // IPs or CIDRs whose X-Forwarded-For names the client; none: the peer address
	BodyTimeout         time.Duration // to receive a request body, after its headers (else 408)
	WriteTimeout        time.Duration // to answer a request that is not a stream, after its headers (+ BodyTimeout with a body)
	IdleTimeout         time.Duration // a keep-alive connection waiting for its next request
	LiveMaxConns        int           // WebSocket + SSE connections per process (else 503)
	LiveMaxConnsPerAddr int           // of them from one client address (else 429)
}

// Defaults returns the defaults that run locally.
func Defaults() Config {
	return Config{
		Roles:            []string{"all"},
		Addr:             ":8080",
		RedisURL:         "redis://127.0.0.1:6379/0",
		RedisTimeout:     5 * time.Second,
		Partitions:       events.DefaultPartitions,
		DataDir:          "./.data",
		LogLevel:         "info",
		DedupeTTL:        time.Hour,
		MaxBody:          1 << 20,
		MaxBatch:         1000,
		MaxFuture:        5 * time.Minute,
		MaxTypes:         1000,
		MaxBacklog:       1_000_000,
		FailedMaxLen:     100_000,
		RejectedMaxLen:   100_000,
		ClaimIdle:        30 * time.Second,
		MaxDeliveries:    5,
		Windows:          events.DefaultWindows,
		HistoryRetention: 7 * 24 * time.Hour,
		LiveInterval:     100 * time.Millisecond,
		LiveSlowTimeout:  5 * time.Second,
		SearchRetention:  30 * 24 * time.Hour,
		IndexBatch:       1000,
		IndexWait:        250 * time.Millisecond,

		BodyTimeout:  30 * time.Second,
		WriteTimeout: 30 * time.Second,
		// Longer than a proxy's keep-alive to its upstreams (Caddy: 2 min), so the proxy closes
		// an idle connection first and never sends a request into one pulse is closing.
		IdleTimeout:         3 * time.Minute,
		LiveMaxConns:        10_000,
		LiveMaxConnsPerAddr: 100,
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
	if err := events.CheckPartitions(c.Partitions); err != nil {
		errs = append(errs, err)
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
	if c.RedisTimeout < time.Millisecond {
		errs = append(errs, errors.New("redis timeout must be ≥ 1ms"))
	}
	if c.MaxDeliveries < 1 {
		errs = append(errs, errors.New("max deliveries must be ≥ 1"))
	}
	errs = append(errs, c.validateEdge())
	return errors.Join(errs...)
}

// validateEdge checks the edge settings; a zero timeout or cap means its default.
func (c *Config) validateEdge() error {
	d := Defaults()
	errs := []error{
		orDefault(&c.BodyTimeout, d.BodyTimeout, "body timeout"),
		orDefault(&c.WriteTimeout, d.WriteTimeout, "write timeout"),
		orDefault(&c.IdleTimeout, d.IdleTimeout, "idle timeout"),
		orDefault(&c.LiveMaxConns, d.LiveMaxConns, "live max conns"),
		orDefault(&c.LiveMaxConnsPerAddr, d.LiveMaxConnsPerAddr, "live max conns per addr"),
	}
	for _, p := range c.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				errs = append(errs, fmt.Errorf("trusted proxy %q: want an IP or a CIDR", p))
			}
		}
	}
	if _, err := httpapi.NewOrigins(c.AllowedOrigins); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// orDefault sets a zero setting to its default and refuses a negative one.
func orDefault[T time.Duration | int](v *T, def T, name string) error {
	switch {
	case *v == 0:
		*v = def
	case *v < 0:
		return fmt.Errorf("%s %v: want > 0", name, *v)
	}
	return nil
}

// Has reports whether the process runs role.
func (c *Config) Has(role string) bool { return slices.Contains(c.Roles, role) }
