// Package consumers runs Redis Streams consumer groups over Pulse's partition streams: reading,
// replaying a consumer's own pending entries, reclaiming idle ones, retrying and sending poison
// entries to the failure stream. Roles plug their effect in as a Handler (counter, indexer).
package consumers

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/pulsehq/pulse/internal/events"
)

//go:embed forget.lua
var forgetSrc string

var forgetScript = redis.NewScript(forgetSrc)

// Group is one consumer of a consumer group, reading every partition stream.
//
// Per partition, one reader goroutine:
//  1. replays the consumer's own pending entries (ID "0": left by a previous run or a failed
//     attempt), then reads new ones (">"), with a short BLOCK so that cancellation is seen;
//  2. every ClaimIdle/2 reclaims entries idle for ClaimIdle with other consumers (XAUTOCLAIM,
//     cursor followed to "0-0"; entries deleted from the stream are dropped from the pending
//     list by Redis and counted), and removes consumers idle for ForgetIdle that hold nothing;
//  3. hands each batch to the Handler, acknowledges what took effect, leaves failed entries
//     pending for a retry after RetryDelay, and sends to the failure stream, before
//     acknowledging them, entries that fail with ErrSkipRetry or fail on their MaxDeliveries-th
//     delivery or later. Deliveries without a verdict (the consumer stopped or crashed
//     mid-batch) are never held against an entry: only a failed attempt dead-letters, and a
//     handler panic is such a failure.
type Group struct {
	rdb     redis.UniversalClient
	cfg     Config
	h       Handler
	log     *slog.Logger
	metrics *metrics
	full    atomic.Bool // the dead-letter store refused records: log transitions only
}

// New validates cfg and returns a Group that hands batches to h.
func New(rdb redis.UniversalClient, cfg Config, h Handler) (*Group, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("consumer group config: %w", err)
	}
	return &Group{
		rdb:     rdb,
		cfg:     cfg,
		h:       h,
		log:     cfg.Logger.With("group", cfg.Group, "consumer", cfg.Consumer),
		metrics: newMetrics(cfg.Metrics, cfg.Group),
	}, nil
}

// Config returns the effective configuration (defaults filled in).
func (g *Group) Config() Config { return g.cfg }

// Run consumes every partition until ctx ends, then returns nil. It returns an error only if
// a reader cannot go on (it never does for Redis being unreachable: it waits and retries).
func (g *Group) Run(ctx context.Context) error {
	eg, ctx := errgroup.WithContext(ctx)
	for p := range g.cfg.Layout.Partitions {
		eg.Go(func() error {
			// A new deployment has no group yet: make it before the first read instead of
			// reporting it missing. Redis may be down; the reader then makes it later.
			_ = createGroup(ctx, g.rdb, g.stream(p), g.cfg.Group)
			return g.consume(ctx, p)
		})
	}
	if err := eg.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// stream is the stream of reader p.
func (g *Group) stream(p int) string {
	if len(g.cfg.Streams) > 0 {
		return g.cfg.Streams[p]
	}
	return g.cfg.Layout.Stream(p)
}

// reader is the state of one partition's loop.
type reader struct {
	p       int
	stream  string
	own     string    // next ID of the own-pending pass; "" while reading new entries
	retryAt time.Time // when to start the next own-pending pass (failed entries wait for it)
	ownAt   time.Time // the next periodic own-pending pass
	claimAt time.Time // next XAUTOCLAIM pass
}

func (g *Group) consume(ctx context.Context, p int) error {
	r := &reader{p: p, stream: g.stream(p), own: "0"}
	for ctx.Err() == nil {
		now := time.Now()
		if !now.Before(r.claimAt) {
			if err := g.reclaim(ctx, r); err != nil {
				r.own = "0" // a lost reply may have claimed entries for this consumer
				g.pause(ctx, "reclaim", p, err)
				continue
			}
			g.observe(ctx, r)
			g.forget(ctx, r)
			r.claimAt = time.Now().Add(g.cfg.ClaimIdle / 2)
		}
		if r.own == "" && (!r.retryAt.IsZero() && !now.Before(r.retryAt) || !now.Before(r.ownAt)) {
			r.own, r.retryAt, r.ownAt = "0", time.Time{}, now.Add(ownPassEvery)
		}
		if err := g.read(ctx, r); err != nil {
			// The read may have delivered entries whose reply was lost, or a batch may have
			// stopped before its ack: those entries are pending for this consumer, and only
			// this consumer would see them before ClaimIdle. Re-read the own pending list
			// first, so that they count within seconds of the fault, not half a minute.
			r.own = "0"
			g.pause(ctx, "read", p, err)
		}
	}
	return nil
}

// ownPassEvery is the period of own-pending passes. A read whose reply was lost has delivered
// entries that now wait, pending for this consumer, where only it looks before ClaimIdle. The
// read's error says so and starts a pass at once, but a client library that retries the read
// by itself hides the error (go-redis does, MaxRetries times): the periodic pass bounds how
// long such entries wait, whatever the client did.
const ownPassEvery = time.Second

// read does one XREADGROUP: an own-pending page while r.own is set, else new entries.
func (g *Group) read(ctx context.Context, r *reader) error {
	id, block := ">", g.cfg.Block
	if r.own != "" {
		id, block = r.own, -1 // history reads never block
	} else if wait := min(time.Until(r.claimAt), time.Until(r.ownAt)); wait < block {
		block = max(wait, time.Millisecond) // wake up for the next reclaim or own pass
	}
	res, err := g.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: g.cfg.Group, Consumer: g.cfg.Consumer, Streams: []string{r.stream, id},
		Count: int64(g.cfg.Count), Block: block,
	}).Result()
	switch {
	case errors.Is(err, redis.Nil):
		r.own = ""
		return nil
	case err != nil && redis.HasErrorPrefix(err, "NOGROUP"):
		return g.recreateGroup(ctx, r)
	case err != nil:
		return fmt.Errorf("xreadgroup %s: %w", r.stream, err)
	}
	var msgs []redis.XMessage
	if len(res) > 0 {
		msgs = res[0].Messages
	}
	if r.own != "" {
		if len(msgs) == 0 {
			r.own = "" // own pending list drained: switch to new entries
			return nil
		}
		r.own = msgs[len(msgs)-1].ID
		return g.process(ctx, r, msgs, true)
	}
	return g.process(ctx, r, msgs, false)
}

// reclaim takes over entries idle for ClaimIdle, whoever holds them, and processes them.
func (g *Group) reclaim(ctx context.Context, r *reader) error {
	cursor := "0-0"
	for ctx.Err() == nil {
		msgs, next, deleted, err := g.rdb.XAutoClaimWithDeleted(ctx, &redis.XAutoClaimArgs{
			Stream: r.stream, Group: g.cfg.Group, Consumer: g.cfg.Consumer,
			MinIdle: g.cfg.ClaimIdle, Start: cursor, Count: int64(g.cfg.Count),
		}).Result()
		if err != nil {
			if redis.HasErrorPrefix(err, "NOGROUP") {
				return g.recreateGroup(ctx, r)
			}
			return fmt.Errorf("xautoclaim %s: %w", r.stream, err)
		}
		if len(deleted) > 0 {
			// Redis has already removed them from the pending list: nothing to ack.
			g.log.Debug("reclaim dropped entries deleted from the stream", "partition", r.p, "entries", len(deleted))
		}
		if len(msgs) > 0 {
			g.metrics.reclaimed.Add(float64(len(msgs)))
			if err := g.process(ctx, r, msgs, true); err != nil {
				return err
			}
		}
		if next == "0-0" || next == "" {
			return nil
		}
		cursor = next
	}
	return nil
}

// forget removes the group's consumers that are idle past ForgetIdle and hold nothing
// (forget.lua), so that the lists of a deployment whose processes come and go stay short.
func (g *Group) forget(ctx context.Context, r *reader) {
	names, err := forgetScript.Run(ctx, g.rdb, []string{r.stream},
		g.cfg.Group, g.cfg.ForgetIdle.Milliseconds(), g.cfg.Consumer).StringSlice()
	if err != nil || len(names) == 0 {
		return
	}
	g.metrics.removed.Add(float64(len(names)))
	g.log.Info("removed idle consumers without pending entries", "partition", r.p, "consumers", names)
}

// observe refreshes the pending and lag gauges of the partition.
func (g *Group) observe(ctx context.Context, r *reader) {
	pipe := g.rdb.Pipeline()
	info := pipe.XInfoStream(ctx, r.stream)
	groups := pipe.XInfoGroups(ctx, r.stream)
	if _, err := pipe.Exec(ctx); err != nil {
		return
	}
	for _, gi := range groups.Val() {
		if gi.Name == g.cfg.Group {
			part := strconv.Itoa(r.p)
			g.metrics.pending.WithLabelValues(part).Set(float64(gi.Pending))
			g.metrics.lag.WithLabelValues(part).Set(float64(Lag(info.Val().LastGeneratedID, gi)))
		}
	}
}

// Lag is how many entries of the stream (whose last id is lastID) the group has not been
// delivered yet, -1 when Redis cannot tell. Redis derives XINFO GROUPS' lag from a count of
// entries read, which Redis 7.0 can get wrong after loading an append-only file (seen: a lag
// of 3,750 that never moved, with every entry delivered): a group whose last delivered id is
// the stream's last id is not behind, whatever that count says.
func Lag(lastID string, g redis.XInfoGroup) int64 {
	if g.LastDeliveredID == lastID {
		return 0
	}
	return g.Lag
}

// groupNames are Pulse's consumer groups of the partition streams, in display order.
var groupNames = [...]string{events.GroupCounter, events.GroupIndexer, events.GroupArchiver}

// CreateGroups makes every partition stream and each of groups, so that entries appended
// before a consumer first starts are still delivered to it (groups start at 0).
func CreateGroups(ctx context.Context, rdb redis.Cmdable, layout events.Layout, groups []string) error {
	for p := range layout.Partitions {
		for _, g := range groups {
			if err := createGroup(ctx, rdb, layout.Stream(p), g); err != nil {
				return err
			}
		}
	}
	return nil
}

// createGroup makes stream and its group at "0" unless the group exists.
func createGroup(ctx context.Context, rdb redis.Cmdable, stream, group string) error {
	err := rdb.XGroupCreateMkStream(ctx, stream, group, "0").Err()
	if err != nil && !redis.HasErrorPrefix(err, "BUSYGROUP") {
		return fmt.Errorf("create group %s on %s: %w", group, stream, err)
	}
	return nil
}

// recreateGroup recreates a group (and stream) that disappeared, e.g. after the stream key was
// deleted. It starts at "0", like the groups created at start-up, so nothing appended since is
// skipped.
func (g *Group) recreateGroup(ctx context.Context, r *reader) error {
	g.log.Warn("consumer group missing: recreating it", "stream", r.stream)
	if err := createGroup(ctx, g.rdb, r.stream, g.cfg.Group); err != nil {
		return err
	}
	r.own = "0"
	return nil
}

// pause logs err and waits a second (go-redis has already retried), unless ctx has ended.
func (g *Group) pause(ctx context.Context, what string, p int, err error) {
	if ctx.Err() != nil {
		return
	}
	g.log.Warn("consumer "+what+" failed; retrying", "partition", p, "err", err)
	Sleep(ctx, time.Second)
}

// Sleep waits d or until ctx ends.
func Sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
