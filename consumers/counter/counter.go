// Package counter is the counter role: it turns the partition streams into exact rolling
// window counts per (type, subject), per-type leaderboards per window and per-minute history,
// and publishes every change of a count (new events and decay) for the live role.
//
// Exactness rests on two rules. An entry's effect and its XACK happen in one script call, so
// redelivery cannot count twice. And windows are settled to one clock (Redis TIME): a
// partition's state is exact at its settled second X, every write and read first brings X up
// to now, and a bucket leaves a window exactly once, when X passes its second plus the window.
package counter

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"dario.cat/mergo"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/pulsehq/pulse/consumers"
	"github.com/pulsehq/pulse/internal/events"
)

// Config configures a Counter. A zero field means its default (DefaultConfig).
type Config struct {
	// Layout names the partition streams and their keys.
	Layout events.Layout
	// Windows are the rolling windows, shortest first. They are recorded in Redis on first
	// start: a deployment cannot change them afterwards (the leaderboards of other windows
	// would be wrong), and a counter configured otherwise refuses to start.
	Windows []events.Window
	// HistoryRetention is how long per-minute history is kept.
	HistoryRetention time.Duration
	// MaxFuture is how far ingest lets an event's time lead its receive time; an entry
	// beyond it is poison.
	MaxFuture time.Duration
	// Tick is the period of expiry without new events.
	Tick time.Duration
	// Group configures the consumer group; the counter sets its Group, Layout, Stage and
	// DeadMarkerTTL.
	Group   consumers.Config
	Logger  *slog.Logger
	Metrics prometheus.Registerer // registers the counter's metrics; nil registers none
}

// DefaultConfig is the counter's defaults. Its group reads more entries per call than
// consumers' default: the script's cost per call is amortised over the batch, and grouping by
// (subject, second) pays off with more events per call.
func DefaultConfig() Config {
	ws, _ := events.ParseWindows(events.DefaultWindows)
	g := consumers.DefaultConfig()
	g.Count = 1000
	return Config{
		Layout:           events.DefaultLayout(),
		Windows:          ws,
		HistoryRetention: 7 * 24 * time.Hour,
		MaxFuture:        events.DefaultMaxFuture,
		Tick:             250 * time.Millisecond,
		Group:            g,
	}
}

func (c Config) withDefaults() (Config, error) {
	// The group's logger and metrics are the counter's unless set. The default logger is the
	// one at New: main sets it after building configs.
	c.Logger = cmp.Or(c.Logger, slog.Default())
	c.Group.Logger = cmp.Or(c.Group.Logger, c.Logger)
	if c.Group.Metrics == nil {
		c.Group.Metrics = c.Metrics
	}
	if err := mergo.Merge(&c, DefaultConfig()); err != nil {
		return c, err
	}
	var errs []error
	if err := c.Layout.Check(); err != nil {
		errs = append(errs, err)
	}
	for i, w := range c.Windows {
		if w.D < time.Second || w.D%time.Second != 0 || (i > 0 && w.D <= c.Windows[i-1].D) {
			errs = append(errs, fmt.Errorf("window %q: want whole seconds, shortest first", w.Name))
		}
	}
	if c.HistoryRetention < time.Hour || c.MaxFuture < 0 || c.Tick < time.Millisecond {
		errs = append(errs, errors.New("history retention must be ≥ 1h, max future ≥ 0 and tick ≥ 1ms"))
	}
	c.Group.Group, c.Group.Layout, c.Group.Stage = events.GroupCounter, c.Layout, "counter"
	// A replay counts an entry by consuming its dead marker: the marker must outlive any delay
	// before an operator replays (a marker gone would make the replay count nothing).
	c.Group.DeadMarkerTTL = -1
	return c, errors.Join(errs...)
}

// Counter is one consumer of the counter group: a consumers.Handler plus the expiry ticker.
type Counter struct {
	rdb     redis.UniversalClient
	cfg     Config
	wsec    []int64
	settler *settler
	group   *consumers.Group
	metrics *metrics
}

var _ consumers.Handler = (*Counter)(nil)

// New validates cfg and builds a Counter; Run starts it.
func New(rdb redis.UniversalClient, cfg Config) (*Counter, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("counter config: %w", err)
	}
	c := &Counter{rdb: rdb, cfg: cfg, wsec: windowSeconds(cfg.Windows), metrics: newMetrics(cfg.Metrics)}
	c.settler = &settler{rdb: rdb, layout: cfg.Layout, wsec: c.wsec, log: cfg.Logger, onPublish: c.metrics.published.WithLabelValues("expiry").Inc}
	if c.group, err = consumers.New(rdb, cfg.Group, c); err != nil {
		return nil, err
	}
	return c, nil
}

// Run checks the deployment's windows, then consumes and expires until ctx ends.
func (c *Counter) Run(ctx context.Context) error {
	d := events.Deployment{Layout: c.cfg.Layout, Windows: c.cfg.Windows}
	if _, err := d.Await(ctx, c.rdb, c.cfg.Logger); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return c.group.Run(ctx) })
	g.Go(func() error { return c.settler.run(ctx, c.cfg.Tick) })
	return g.Wait()
}

// Handle applies a batch: poison entries are failed for the failure stream, the rest go through
// counter.lua, which acknowledges them itself.
func (c *Counter) Handle(ctx context.Context, b *consumers.Batch) error {
	ds := make([]decoded, 0, len(b.Entries))
	for i, e := range b.Entries {
		d, err := c.decode(e)
		if err != nil {
			b.Fail(i, fmt.Errorf("%w: %w", err, consumers.ErrSkipRetry))
			continue
		}
		d.pos = i
		ds = append(ds, d)
	}
	b.Acked()
	if len(ds) == 0 {
		return nil
	}
	res, err := c.apply(ctx, b.Partition, c.plan(b.Partition, ds))
	if err != nil {
		return classify(err)
	}
	for _, i := range res.bad {
		b.Fail(ds[i-1].pos, errBrokenKey)
	}
	c.metrics.events.WithLabelValues("applied").Add(float64(res.applied))
	c.metrics.events.WithLabelValues("skipped").Add(float64(res.skipped))
	c.metrics.late.Add(float64(res.late))
	if res.published {
		c.metrics.published.WithLabelValues("apply").Inc()
	}
	return nil
}

func windowSeconds(ws []events.Window) []int64 {
	out := make([]int64, len(ws))
	for i, w := range ws {
		out[i] = int64(w.D / time.Second)
	}
	return out
}

func canonicalWindows(wsec []int64) string {
	s := make([]string, len(wsec))
	for i, w := range wsec {
		s[i] = strconv.FormatInt(w, 10)
	}
	return strings.Join(s, ",")
}
