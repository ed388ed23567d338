package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/internal/events"
)

// Plan is where a deployment's partitions live: which Redis master holds which.
type Plan struct {
	Layout   events.Layout
	Recorded bool // the layout is the deployment's (pulse:meta); else the one a first start would record
	Cluster  bool
	Masters  []MasterPlan // by first slot
}

// MasterPlan is one master's share.
type MasterPlan struct {
	Addr       string
	Slots      []events.SlotRange
	Replicas   []string
	Partitions []int
}

// ClusterPlan reads the deployment's layout (or, before its first start, the one cfg would
// create) and the cluster's slot map, and says which master holds which partitions.
func ClusterPlan(ctx context.Context, cfg Config, log *slog.Logger) (Plan, error) {
	uo, err := connect(ctx, cfg.RedisURL, log)
	if err != nil {
		return Plan{}, fmt.Errorf("redis: %w", err)
	}
	rdb := redis.NewUniversalClient(&uo)
	defer rdb.Close()
	plan := Plan{Layout: events.Layout{Partitions: cfg.Partitions, Tags: events.TagsBalanced}, Cluster: uo.IsClusterMode}
	meta, err := rdb.HMGet(ctx, events.MetaKey, "partitions", "tags").Result()
	if err != nil {
		return plan, fmt.Errorf("read %s: %w", events.MetaKey, err)
	}
	if n, ok := meta[0].(string); ok {
		plan.Recorded = true
		plan.Layout.Partitions, _ = strconv.Atoi(n)
		plan.Layout.Tags = events.TagsNumbered // recorded before tag schemes
		if tags, ok := meta[1].(string); ok {
			plan.Layout.Tags = events.Tags(tags)
		}
	}
	if err := plan.Layout.Check(); err != nil {
		return plan, err
	}
	if !plan.Cluster {
		all := make([]int, plan.Layout.Partitions)
		for p := range all {
			all[p] = p
		}
		plan.Masters = []MasterPlan{{Addr: uo.Addrs[0], Partitions: all}}
		return plan, nil
	}
	slots, err := rdb.ClusterSlots(ctx).Result()
	if err != nil {
		return plan, fmt.Errorf("cluster slots: %w", err)
	}
	var ranges []events.SlotRange
	byAddr := map[string]*MasterPlan{}
	for _, s := range slots {
		addr := s.Nodes[0].Addr
		r := events.SlotRange{Start: s.Start, End: s.End, Master: addr}
		ranges = append(ranges, r)
		m := byAddr[addr]
		if m == nil {
			m = &MasterPlan{Addr: addr}
			byAddr[addr] = m
		}
		m.Slots = append(m.Slots, r)
		for _, n := range s.Nodes[1:] {
			if !slices.Contains(m.Replicas, n.Addr) {
				m.Replicas = append(m.Replicas, n.Addr)
			}
		}
	}
	for addr, parts := range plan.Layout.Spread(ranges) {
		byAddr[addr].Partitions = parts
	}
	for _, m := range byAddr {
		slices.SortFunc(m.Slots, func(a, b events.SlotRange) int { return a.Start - b.Start })
		plan.Masters = append(plan.Masters, *m)
	}
	slices.SortFunc(plan.Masters, func(a, b MasterPlan) int { return a.Slots[0].Start - b.Slots[0].Start })
	return plan, nil
}

// Write prints the plan for operators.
func (p Plan) Write(w io.Writer) {
	state := "recorded in " + events.MetaKey
	if !p.Recorded {
		state = "not created yet: what a first start would record"
	}
	fmt.Fprintf(w, "deployment: %d partitions, %s tags (%s)\n", p.Layout.Partitions, p.Layout.Tags, state)
	if !p.Cluster {
		fmt.Fprintf(w, "single redis %s holds every partition\n", p.Masters[0].Addr)
		return
	}
	fmt.Fprintf(w, "redis cluster: %d masters\n", len(p.Masters))
	lo, hi := p.Layout.Partitions, 0
	for _, m := range p.Masters {
		var slots []string
		for _, s := range m.Slots {
			slots = append(slots, fmt.Sprintf("%d-%d", s.Start, s.End))
		}
		fmt.Fprintf(w, "  %-21s slots %-12s %3d partitions %v  replicas %v\n", m.Addr, strings.Join(slots, ","), len(m.Partitions), m.Partitions, m.Replicas)
		lo, hi = min(lo, len(m.Partitions)), max(hi, len(m.Partitions))
	}
	fmt.Fprintf(w, "spread: %d to %d partitions per master\n", lo, hi)
}
