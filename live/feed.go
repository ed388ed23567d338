package live

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/pulsehq/pulse/internal/events"
)

// Feed follows the counter's change sets (sharded pub/sub, one channel per partition) and hands
// them to a hub. Pub/sub is at-most-once, so the feed watches each partition's Version: after
// a gap, and after every (re)subscription — Redis restarted or the connection dropped — the
// hub takes fresh snapshots of that partition instead of showing stale numbers.
type Feed struct {
	rdb redis.UniversalClient
	hub *Hub
	log *slog.Logger
}

// NewFeed returns a feed of hub from rdb.
func NewFeed(rdb redis.UniversalClient, hub *Hub, log *slog.Logger) *Feed {
	return &Feed{rdb: rdb, hub: hub, log: log}
}

// Run follows every partition until ctx ends.
func (f *Feed) Run(ctx context.Context) error {
	n := f.hub.cfg.Partitions
	var groups [][]int
	if _, cluster := f.rdb.(*redis.ClusterClient); cluster {
		// One SSUBSCRIBE names channels of one slot: a subscription per partition.
		for p := range n {
			groups = append(groups, []int{p})
		}
	} else {
		all := make([]int, n)
		for p := range all {
			all[p] = p
		}
		groups = [][]int{all}
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, parts := range groups {
		g.Go(func() error { return f.follow(gctx, parts) })
	}
	return g.Wait()
}

func (f *Feed) follow(ctx context.Context, parts []int) error {
	byChannel := make(map[string]int, len(parts))
	channels := make([]string, len(parts))
	for i, p := range parts {
		channels[i] = events.Changes(p)
		byChannel[channels[i]] = p
	}
	ps := f.rdb.SSubscribe(ctx, channels...)
	defer ps.Close()
	// Closing the PubSub is what ends the channel below (a blocked read ignores ctx).
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer stop()

	last := make(map[int]int64, len(parts)) // Version of the last set seen, per partition
	for msg := range ps.ChannelWithSubscriptions(redis.WithChannelSize(4096)) {
		switch m := msg.(type) {
		case *redis.Subscription:
			// The first confirmation, or one after a reconnect: anything published while not
			// subscribed is lost, and a snapshot taken meanwhile may be older than what follows.
			if p, ok := byChannel[m.Channel]; ok && m.Kind == "ssubscribe" {
				delete(last, p)
				f.hub.resync(p)
			}
		case *redis.Message:
			p, ok := byChannel[m.Channel]
			if !ok {
				continue
			}
			var cs events.ChangeSet
			if err := json.Unmarshal([]byte(m.Payload), &cs); err != nil {
				f.hub.m.badChanges.Inc()
				f.log.Warn("live: undecodable change set", "channel", m.Channel, "err", err)
				continue
			}
			if v, seen := last[p]; seen && cs.Version != v+1 {
				f.log.Info("live: change sets missed or reordered; resyncing", "partition", p, "after", v, "got", cs.Version)
				f.hub.resync(p)
			}
			last[p] = cs.Version
			f.hub.apply(&cs)
		}
	}
	return nil
}
