package live

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

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
func NewFeed(rdb redis.UniversalClient, hub *Hub) *Feed {
	return &Feed{rdb: rdb, hub: hub, log: hub.log}
}

// Run follows every partition until ctx ends.
func (f *Feed) Run(ctx context.Context) error {
	n := f.hub.cfg.Layout.Partitions
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
	fl := &follower{f: f, byChannel: make(map[string]int, len(parts)), last: make(map[int]int64, len(parts))}
	channels := make([]string, len(parts))
	for i, p := range parts {
		channels[i] = f.hub.cfg.Layout.Changes(p)
		fl.byChannel[channels[i]] = p
	}
	for {
		f.subscribe(ctx, fl, channels)
		if ctx.Err() != nil {
			return nil
		}
		// The server ended the subscription: its slot moved to another node (a failover, a
		// resharding). go-redis keeps such a connection open and silent, so subscribe again on
		// the slot's master now, with a fresh slot map, after a pause that keeps a node still
		// settling its role from being asked in a tight loop.
		f.log.Info("live: the server ended the subscription (its slot moved); subscribing again", "channels", channels)
		if cc, ok := f.rdb.(*redis.ClusterClient); ok {
			cc.ReloadState(ctx)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(resubscribePause):
		}
	}
}

// resubscribePause is the wait before subscribing again after the server ended a subscription.
const resubscribePause = 100 * time.Millisecond

// subscribe follows channels until ctx ends or the server ends the subscription of one of them.
func (f *Feed) subscribe(ctx context.Context, fl *follower, channels []string) {
	ps := f.rdb.SSubscribe(ctx, channels...)
	defer ps.Close()
	// Closing the PubSub is what ends the channel below (a blocked read ignores ctx).
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer stop()

	ch := ps.ChannelWithSubscriptions(redis.WithChannelSize(4096))
	for msg := range ch {
		ended := fl.handle(msg)
		// What is already waiting is applied in one pass, the latest change per subject: a
		// hub that falls behind (thousands of subscribers, a busy CPU) conflates change sets
		// instead of working through a backlog that only grows.
	drain:
		for !ended && len(fl.sets) < maxConflated {
			select {
			case msg, ok := <-ch:
				if !ok {
					break drain
				}
				ended = fl.handle(msg)
			default:
				break drain
			}
		}
		fl.apply()
		if ended {
			return
		}
	}
}

// maxConflated bounds the change sets applied in one pass (and so the pass).
const maxConflated = 512

// follower is the state of one follow loop.
type follower struct {
	f         *Feed
	byChannel map[string]int
	last      map[int]int64       // Version of the last set seen, per partition
	sets      []*events.ChangeSet // decoded, not applied yet
}

// handle takes one message of the subscription: a (re)subscription resyncs its partition, a
// change set is decoded and kept for the next pass, after a resync when versions were missed.
// It reports whether the server ended the subscription of one of the channels.
func (fl *follower) handle(msg any) (ended bool) {
	h := fl.f.hub
	switch m := msg.(type) {
	case *redis.Subscription:
		p, ok := fl.byChannel[m.Channel]
		switch {
		case !ok:
		case m.Kind == "ssubscribe":
			// The first confirmation, or one after a reconnect: anything published while not
			// subscribed is lost, and a snapshot taken meanwhile may be older than what follows.
			fl.apply()
			delete(fl.last, p)
			h.resync(p)
		case m.Kind == "sunsubscribe":
			// Never sent by the feed: the node gave the channel's slot away.
			return true
		}
	case *redis.Message:
		p, ok := fl.byChannel[m.Channel]
		if !ok {
			return
		}
		var cs events.ChangeSet
		if err := json.Unmarshal([]byte(m.Payload), &cs); err != nil {
			h.m.badChanges.Inc()
			fl.f.log.Warn("live: undecodable change set", "channel", m.Channel, "err", err)
			return
		}
		if v, seen := fl.last[p]; seen && cs.Version != v+1 {
			fl.f.log.Info("live: change sets missed or reordered; resyncing", "partition", p, "after", v, "got", cs.Version)
			fl.apply()
			h.resync(p)
		}
		fl.last[p] = cs.Version
		fl.sets = append(fl.sets, &cs)
	}
	return false
}

// apply hands the decoded change sets to the hub, in one pass.
func (fl *follower) apply() {
	if len(fl.sets) > 0 {
		fl.f.hub.apply(fl.sets...)
		clear(fl.sets)
		fl.sets = fl.sets[:0]
	}
}
