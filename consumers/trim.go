package consumers

import (
	"cmp"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"dario.cat/mergo"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/telemetry"
)

//go:embed trim.lua
var trimLua string

var trimScript = redis.NewScript(trimLua)

// TrimConfig configures a Trimmer. A zero field means its default (DefaultTrimConfig).
type TrimConfig struct {
	// Layout names the partition streams (default events.DefaultLayout()).
	Layout events.Layout
	// Groups must all exist on a stream, and have acknowledged an entry, before it is trimmed
	// (default: counter and indexer).
	Groups []string
	// Interval between two trimming passes (default 10 s).
	Interval time.Duration
	// MaxLen is the hard retention cap of one partition stream (default 2,000,000, twice
	// ingest's default backlog limit, at which ingest already answers 503). A stream still
	// longer than MaxLen after trimming holds entries some group has not acknowledged: they
	// are kept, and the excess is reported as a metric and a warning, never trimmed.
	MaxLen int64
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Metrics registers the trimmer's metrics; nil registers none.
	Metrics prometheus.Registerer
}

// DefaultTrimConfig is a Trimmer's defaults.
func DefaultTrimConfig() TrimConfig {
	return TrimConfig{
		Layout:   events.DefaultLayout(),
		Groups:   []string{events.GroupCounter, events.GroupIndexer},
		Interval: 10 * time.Second,
		MaxLen:   2_000_000,
	}
}

func (c TrimConfig) withDefaults() (TrimConfig, error) {
	c.Logger = cmp.Or(c.Logger, slog.Default())
	if err := mergo.Merge(&c, DefaultTrimConfig()); err != nil {
		return c, err
	}
	var errs []error
	if err := c.Layout.Check(); err != nil {
		errs = append(errs, err)
	}
	if c.Interval < time.Millisecond {
		errs = append(errs, fmt.Errorf("interval %s: want ≥ 1ms", c.Interval))
	}
	if c.MaxLen < 1 {
		errs = append(errs, fmt.Errorf("max len %d: want ≥ 1", c.MaxLen))
	}
	return c, errors.Join(errs...)
}

// Trimmer keeps the partition streams short: it trims every stream below what all consumer
// groups have acknowledged (see trim.lua), so memory follows the consumers' progress, and it
// never drops an entry a group still needs. Several trimmers (one per counter process) may
// run at once: each pass is one atomic script per stream, and trimming twice is harmless.
type Trimmer struct {
	rdb     redis.UniversalClient
	cfg     TrimConfig
	log     *slog.Logger
	metrics *trimMetrics
}

// NewTrimmer validates cfg and returns a Trimmer.
func NewTrimmer(rdb redis.UniversalClient, cfg TrimConfig) (*Trimmer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("trimmer config: %w", err)
	}
	return &Trimmer{rdb: rdb, cfg: cfg, log: cfg.Logger.With("component", "trimmer"), metrics: newTrimMetrics(cfg.Metrics)}, nil
}

// Run trims at once, then every Interval, until ctx ends; then it returns nil. A failed pass
// (Redis unreachable) is logged and retried at the next tick.
func (t *Trimmer) Run(ctx context.Context) error {
	tick := time.NewTicker(t.cfg.Interval)
	defer tick.Stop()
	for {
		if _, err := t.Trim(ctx); err != nil && ctx.Err() == nil {
			t.log.Warn("trim pass failed; retrying at the next tick", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// Trim does one pass over every partition and returns how many entries it removed.
func (t *Trimmer) Trim(ctx context.Context) (int64, error) {
	var total int64
	var errs []error
	for p := range t.cfg.Layout.Partitions {
		n, err := t.trim(ctx, p)
		total += n
		if err != nil {
			errs = append(errs, err)
		}
	}
	return total, errors.Join(errs...)
}

func (t *Trimmer) trim(ctx context.Context, p int) (int64, error) {
	stream := t.cfg.Layout.Stream(p)
	args := make([]any, len(t.cfg.Groups))
	for i, g := range t.cfg.Groups {
		args[i] = g
	}
	res, err := trimScript.Run(ctx, t.rdb, []string{stream}, args...).Slice()
	if err != nil {
		return 0, fmt.Errorf("trim %s: %w", stream, err)
	}
	if len(res) != 4 {
		return 0, fmt.Errorf("trim %s: unexpected reply %v", stream, res)
	}
	trimmed, _ := res[0].(int64)
	length, _ := res[1].(int64)
	missing, _ := res[2].(string)
	floor, _ := res[3].(string)

	part := strconv.Itoa(p)
	t.metrics.trimmed.Add(float64(trimmed))
	t.metrics.length.WithLabelValues(part).Set(float64(length))
	if missing != "" {
		// Groups are created at start-up; until then nobody has acked anything for that group.
		t.log.Debug("stream not trimmed: a consumer group does not exist yet", "stream", stream, "group", missing)
	}
	over := max(length-t.cfg.MaxLen, 0)
	t.metrics.overCap.WithLabelValues(part).Set(float64(over))
	if over > 0 {
		t.log.Warn("stream over its retention cap with entries not yet acknowledged by every group: kept, not trimmed",
			"stream", stream, "length", length, "max_len", t.cfg.MaxLen, "over", over, "floor", floor, "missing_group", missing)
	}
	return trimmed, nil
}

type trimMetrics struct {
	trimmed prometheus.Counter
	length  *prometheus.GaugeVec // partition
	overCap *prometheus.GaugeVec // partition
}

func newTrimMetrics(reg prometheus.Registerer) *trimMetrics {
	f := promauto.With(reg)
	return &trimMetrics{
		trimmed: f.NewCounter(prometheus.CounterOpts{
			Namespace: telemetry.Namespace, Subsystem: "trim", Name: "entries_total",
			Help: "Stream entries trimmed after every consumer group acknowledged them.",
		}),
		length: f.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: telemetry.Namespace, Subsystem: "trim", Name: "stream_entries",
			Help: "Length of a partition stream after the last trimming pass.",
		}, []string{"partition"}),
		overCap: f.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: telemetry.Namespace, Subsystem: "trim", Name: "over_cap_entries",
			Help: "Entries a partition stream holds beyond its retention cap because some group has not acknowledged them (kept, not trimmed).",
		}, []string{"partition"}),
	}
}
