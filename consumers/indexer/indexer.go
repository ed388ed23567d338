// Package indexer is the indexer role: consumer groups that copy every event, and every
// failure record, into the search engine, acknowledging entries only once the engine has
// durably taken them. While the engine is down the entries stay pending: the stream is the
// buffer.
package indexer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"dario.cat/mergo"
	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/pulsehq/pulse/consumers"
	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/search"
)

// FailuresGroup is the consumer group (and failure stage) of the failure stream's indexer.
// Its rejections are not sent back to the failure stream, which would feed them to it again.
const FailuresGroup = "indexer-failures"

// Config configures the indexer. A zero field means its default (DefaultConfig); a negative
// one is refused.
type Config struct {
	// Batch is the most documents per engine call.
	Batch int
	// Wait is the longest a document waits for its batch to fill.
	Wait time.Duration
	// Retention deletes documents older than this, every RetentionEvery and at start.
	Retention      time.Duration
	RetentionEvery time.Duration
	// Group carries the runtime settings of both consumer groups: Partitions, Consumer,
	// ClaimIdle, MaxDeliveries, Block, RetryDelay, FailedMaxLen. The indexer sets Group, Stage,
	// Streams and Count itself.
	Group   consumers.Config
	Logger  *slog.Logger
	Metrics prometheus.Registerer
}

// DefaultConfig is the indexer's defaults.
func DefaultConfig() Config {
	return Config{
		Batch:          1000,
		Wait:           250 * time.Millisecond,
		Retention:      30 * 24 * time.Hour,
		RetentionEvery: time.Hour,
	}
}

func (c Config) withDefaults() (Config, error) {
	c.Logger = cmp.Or(c.Logger, slog.Default())
	if err := mergo.Merge(&c, DefaultConfig()); err != nil {
		return c, err
	}
	if c.Batch < 1 || c.Wait < 0 || c.Retention < 0 || c.RetentionEvery < 0 {
		return c, fmt.Errorf("indexer config: batch %d, wait %s, retention %s every %s: want batch ≥ 1 and no negative duration",
			c.Batch, c.Wait, c.Retention, c.RetentionEvery)
	}
	return c, nil
}

// Indexer runs the events pipeline (group events.GroupIndexer over every partition stream) and
// the failures pipeline (group FailuresGroup over the dead letters and the rejected input), each into its own
// engine, plus their retention sweeps.
type Indexer struct {
	pipes []*pipeline
	cfg   Config
}

// pipeline is one consumer group feeding one engine through a batcher.
type pipeline struct {
	name    string
	engine  search.Engine
	group   *consumers.Group
	batcher *batcher
	metrics *metrics
	decode  func(stream string, e consumers.Entry) (search.Doc, error)
	// loops names the stage whose records this pipeline must not send to the failure stream
	// again when the engine rejects them ("" for none).
	loops string
	log   *slog.Logger
}

// New builds the indexer over the events and failures engines; it owns neither.
func New(rdb redis.UniversalClient, eventsEngine, failuresEngine search.Engine, cfg Config) (*Indexer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	x := &Indexer{cfg: cfg}
	for _, p := range []struct {
		name   string
		engine search.Engine
		group  consumers.Config
		decode func(stream string, e consumers.Entry) (search.Doc, error)
		loops  string
	}{
		{"events", eventsEngine, withGroup(cfg, events.GroupIndexer, nil), eventDoc, ""},
		{"failures", failuresEngine, withGroup(cfg, FailuresGroup, []string{events.FailedStream, events.RejectedStream}), failureDoc, FailuresGroup},
	} {
		pl := &pipeline{name: p.name, engine: p.engine, decode: p.decode, loops: p.loops,
			metrics: newMetrics(cfg.Metrics, p.name), log: cfg.Logger.With("index", p.name)}
		g, err := consumers.New(rdb, p.group, consumers.HandlerFunc(pl.handle))
		if err != nil {
			return nil, fmt.Errorf("indexer %s: %w", p.name, err)
		}
		pl.batcher = newBatcher(p.engine, cfg.Batch, cfg.Wait, g.Config().Layout.Partitions, pl.metrics)
		pl.group = g
		x.pipes = append(x.pipes, pl)
	}
	return x, nil
}

func withGroup(cfg Config, group string, streams []string) consumers.Config {
	g := cfg.Group
	g.Group, g.Stage, g.Streams = group, group, streams
	g.Count = cfg.Batch // one partition with a backlog fills a batch by itself
	if g.Logger == nil {
		g.Logger = cfg.Logger
	}
	if g.Metrics == nil {
		g.Metrics = cfg.Metrics
	}
	return g
}

// Mount adds the search API over the indexer's engines: GET /search to events, GET
// /search/failures to failures (route groups behind the caller's key checks). It is served by
// the indexing process because an embedded index can be opened by one process only.
func (x *Indexer) Mount(events, failures gin.IRoutes) {
	api := &search.API{Events: x.pipes[0].engine, Failures: x.pipes[1].engine, Log: x.cfg.Logger}
	api.Mount(events, failures)
}

// Run indexes until ctx ends.
func (x *Indexer) Run(ctx context.Context) error {
	eg, ctx := errgroup.WithContext(ctx)
	for _, p := range x.pipes {
		eg.Go(func() error { return p.batcher.run(ctx) })
		eg.Go(func() error { return p.group.Run(ctx) })
		eg.Go(func() error { return p.sweep(ctx, x.cfg.Retention, x.cfg.RetentionEvery) })
	}
	return eg.Wait()
}

// handle is the consumer group handler: decode, index through the batcher, mark rejections.
func (p *pipeline) handle(ctx context.Context, b *consumers.Batch) error {
	docs := make([]search.Doc, 0, len(b.Entries))
	at := make([]int, 0, len(b.Entries)) // docs[j] is b.Entries[at[j]]
	for i, e := range b.Entries {
		d, err := p.decode(b.Stream, e)
		if err != nil {
			b.Fail(i, fmt.Errorf("%w: %v", consumers.ErrSkipRetry, err))
			continue
		}
		docs = append(docs, d)
		at = append(at, i)
	}
	if len(docs) == 0 {
		return nil
	}
	r, err := p.batcher.submit(ctx, docs)
	if err != nil {
		return err // shutting down: the runtime leaves the entries pending
	}
	if r.err != nil {
		return fmt.Errorf("%w: %s index: %v", consumers.ErrTransient, p.name, r.err)
	}
	for j, rerr := range r.errs {
		if rerr == nil {
			continue
		}
		if p.loops != "" && docs[j].Stage == p.loops {
			// A record of our own rejection, rejected again: it stays in the failure stream, only
			// unsearchable. Sending it back would loop.
			p.log.Error("search engine rejected a failure record of its own rejection; not indexed",
				"entry", b.Entries[at[j]].ID, "err", rerr)
			continue
		}
		b.Fail(at[j], fmt.Errorf("%w: %v", consumers.ErrSkipRetry, rerr))
	}
	return nil
}

// sweep deletes documents older than keep, at start and then every interval.
func (p *pipeline) sweep(ctx context.Context, keep, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		err := p.engine.DeleteBefore(ctx, time.Now().Add(-keep).UnixMilli())
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil && !errors.Is(err, context.Canceled):
			p.metrics.sweepErr.Inc()
			p.log.Warn("search retention sweep failed; retrying at the next run", "err", err)
		default:
			p.metrics.sweeps.Inc()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
