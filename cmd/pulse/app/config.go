package app

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/pulsehq/pulse/consumers"
	"github.com/pulsehq/pulse/consumers/archiver"
	"github.com/pulsehq/pulse/consumers/counter"
	"github.com/pulsehq/pulse/consumers/indexer"
	"github.com/pulsehq/pulse/ingest"
	"github.com/pulsehq/pulse/ingest/mqtt"
	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/httpapi"
	"github.com/pulsehq/pulse/internal/search"
	"github.com/pulsehq/pulse/live"
)

// Roles a process can run. "all" is every role in one process, the local default.
var Roles = []string{"ingest", "counter", "live", "indexer", "archiver", "mqtt"}

// Config is every setting of a pulse process. main fills it from PULSE_* variables and flags
// whose defaults are Defaults(); a zero field means its default. Each role's settings are that
// package's own Config, whose defaults the package keeps; the app sets in each the facts of the
// deployment (Partitions, Windows, MaxFuture), the consumer-group settings and the logger and
// metrics registerer.
type Config struct {
	Roles     []string
	Addr      string
	AdminAddr string // pprof; empty = off
	RedisURL  string // one URL, or several comma-separated for a Redis Cluster
	// RedisTimeout bounds one Redis read or write (a blocking read adds its block time). A
	// reply later than that is a lost one: the command may have run.
	RedisTimeout time.Duration
	Partitions   int
	Windows      string
	MaxFuture    time.Duration // how far an event's time may lead its receive time
	DataDir      string
	LogLevel     string

	APIKeys        []string
	BrowserKeys    []string
	AllowedOrigins []string // WebSocket/CORS origins besides the same origin

	Ingest ingest.Config
	// Consumers holds what every consumer group of the process shares: Consumer (empty: the
	// host name), ClaimIdle, MaxDeliveries, FailedMaxLen.
	Consumers consumers.Config
	Counter   counter.Config
	Live      live.Config
	Indexer   indexer.Config
	Meili     search.MeiliConfig // URL and Key; no URL: the embedded Bleve index
	// ArchiveURL is where the archive goes (internal/archive.Open; empty: the folder archive in
	// DataDir); "off": no archive, no
	// archiver group, and counts answer from the per-minute history only. Every process of a
	// deployment must agree on it.
	ArchiveURL string
	Archiver   archiver.Config
	// MQTT is the broker intake; "all" includes the mqtt role only when its URL is set.
	MQTT mqtt.Config

	// edge: timeouts, security
	TrustedProxies []string      // IPs or CIDRs whose X-Forwarded-For names the client; none: the peer address
	BodyTimeout    time.Duration // to receive a request body, after its headers (else 408)
	WriteTimeout   time.Duration // to answer a request that is not a stream, after its headers (+ BodyTimeout with a body)
	IdleTimeout    time.Duration // a keep-alive connection waiting for its next request
}

// Defaults returns the defaults that run locally.
func Defaults() Config {
	return Config{
		Roles:        []string{"all"},
		Addr:         ":8080",
		RedisURL:     "redis://127.0.0.1:6379/0",
		RedisTimeout: 5 * time.Second,
		Partitions:   events.DefaultPartitions,
		Windows:      events.DefaultWindows,
		MaxFuture:    events.DefaultMaxFuture,
		DataDir:      "./.data",
		LogLevel:     "info",

		Ingest:    ingest.DefaultConfig(),
		Consumers: consumers.DefaultConfig(),
		Counter:   counter.DefaultConfig(),
		Live:      live.DefaultConfig(),
		Indexer:   indexer.DefaultConfig(),
		Archiver:  archiver.DefaultConfig(),
		MQTT:      mqtt.DefaultConfig(),

		BodyTimeout:  30 * time.Second,
		WriteTimeout: 30 * time.Second,
		// Longer than a proxy's keep-alive to its upstreams (Caddy: 2 min), so the proxy closes
		// an idle connection first and never sends a request into one pulse is closing.
		IdleTimeout: 3 * time.Minute,
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
			if c.MQTT.URL == "" {
				roles = slices.DeleteFunc(roles, func(r string) bool { return r == "mqtt" })
			}
		case slices.Contains(Roles, r):
			roles = append(roles, r)
		default:
			errs = append(errs, fmt.Errorf("unknown role %q (want all, %v)", r, Roles))
		}
	}
	if c.ArchiveOff() {
		roles = slices.DeleteFunc(roles, func(r string) bool { return r == "archiver" })
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
	} else if ttl, longest := cmp.Or(c.Ingest.DedupeTTL, ingest.DefaultConfig().DedupeTTL), ws[len(ws)-1].D; (c.Has("ingest") || c.Has("mqtt")) && ttl < longest {
		errs = append(errs, fmt.Errorf("dedupe TTL %s is shorter than the longest window %s", ttl, longest))
	}
	if c.Has("mqtt") && c.MQTT.URL == "" {
		errs = append(errs, errors.New("the mqtt role needs an MQTT URL (PULSE_MQTT_URL)"))
	}
	if c.RedisTimeout < time.Millisecond {
		errs = append(errs, errors.New("redis timeout must be ≥ 1ms"))
	}
	// WAIT's reply comes after its timeout at worst: a read timeout shorter than that would
	// turn every slow confirmation into a lost reply.
	if wt := cmp.Or(c.Ingest.WaitTimeout, ingest.DefaultConfig().WaitTimeout); c.Ingest.WaitReplicas > 0 && wt >= c.RedisTimeout {
		errs = append(errs, fmt.Errorf("ingest wait timeout %s must be shorter than the redis timeout %s", wt, c.RedisTimeout))
	}
	errs = append(errs, c.validateEdge())
	return errors.Join(errs...)
}

// validateEdge checks the edge settings; a zero timeout means its default.
func (c *Config) validateEdge() error {
	d := Defaults()
	errs := []error{
		orDefault(&c.BodyTimeout, d.BodyTimeout, "body timeout"),
		orDefault(&c.WriteTimeout, d.WriteTimeout, "write timeout"),
		orDefault(&c.IdleTimeout, d.IdleTimeout, "idle timeout"),
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
func orDefault(v *time.Duration, def time.Duration, name string) error {
	switch {
	case *v == 0:
		*v = def
	case *v < 0:
		return fmt.Errorf("%s %v: want > 0", name, *v)
	}
	return nil
}

// ArchiveOff reports whether the deployment keeps no archive.
func (c *Config) ArchiveOff() bool { return c.ArchiveURL == "off" }

// Groups are the consumer groups of the deployment: each partition stream is trimmed only
// below what all of them have acknowledged.
func (c *Config) Groups() []string {
	if c.ArchiveOff() {
		return []string{events.GroupCounter, events.GroupIndexer}
	}
	return []string{events.GroupCounter, events.GroupIndexer, events.GroupArchiver}
}

// Has reports whether the process runs role.
func (c *Config) Has(role string) bool { return slices.Contains(c.Roles, role) }
