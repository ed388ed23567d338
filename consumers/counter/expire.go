package counter

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/internal/events"
)

const (
	// maxSettleRounds bounds the compare-and-set retries of one settle (or read): they only
	// repeat when another process settled the same partition meanwhile, or a second passed.
	maxSettleRounds = 20
	// maxExpireKeys bounds one expire.lua call; catching up after a long stop takes several.
	maxExpireKeys = 4096
)

// errContention: a partition could not be settled in maxSettleRounds rounds.
var errContention = errors.New("windows of a partition kept moving while settling them")

// settler brings a partition's windows up to now: buckets whose second has come enter every
// window, buckets older than a window leave it. The counter's ticker calls it so that counts
// fall with no new event; appliers and readers call it when they find a partition behind.
type settler struct {
	rdb    redis.UniversalClient
	layout events.Layout
	wsec   []int64
	log    *slog.Logger
	// onPublish counts the change sets published by expiry (nil: not counted).
	onPublish func()
}

// settle runs due.lua, then expire.lua for what is due, until the partition is settled at now.
func (s *settler) settle(ctx context.Context, p int) error {
	k := keysOf(s.layout, p)
	wargs := make([]any, len(s.wsec))
	for i, w := range s.wsec {
		wargs[i] = w
	}
	for conflicts := 0; conflicts < maxSettleRounds; {
		res, err := dueScript.Run(ctx, s.rdb, []string{k.cursor(), k.due(), k.oldSched(), k.oldTypes()}, wargs...).Slice()
		if err != nil {
			return fmt.Errorf("due script: %w", err)
		}
		if len(res) == 2 {
			return nil
		}
		x, now := res[0].(int64), res[1].(int64)
		buckets, err := parseBuckets(res[2:])
		if err != nil {
			return err
		}
		call, target := s.plan(p, x, now, buckets)
		out, err := expireScript.Run(ctx, s.rdb, call.keys, call.args...).Slice()
		if err != nil {
			return fmt.Errorf("expire script: %w", err)
		}
		if out[0].(int64) == 0 {
			conflicts++
			continue
		}
		if len(out) > 2 {
			s.log.Error("counter keys hold values of the wrong type: skipped by expiry, their counts are wrong until repaired",
				"partition", p, "keys", out[2:])
		}
		if s.onPublish != nil && out[1].(int64) > 0 {
			s.onPublish()
		}
		if target == now {
			return nil
		}
	}
	return fmt.Errorf("%w: partition %d", errContention, p)
}

// bucket is one schedule member: the buckets of a type at a second.
type bucket struct {
	sec int64
	typ string
}

// parseBuckets reads due.lua's "<second>:<type>" members.
func parseBuckets(members []any) ([]bucket, error) {
	out := make([]bucket, len(members))
	for i, m := range members {
		s, _ := m.(string)
		sec, typ, ok := strings.Cut(s, ":")
		n, err := strconv.ParseInt(sec, 10, 64)
		if !ok || err != nil || typ == "" {
			return nil, fmt.Errorf("counter schedule member %q is not <second>:<type>", s)
		}
		out[i] = bucket{n, typ}
	}
	return out, nil
}

// step is one operation of expire.lua: at second t, bucket b enters every window (kind 0) or
// leaves window kind (1-based).
type step struct {
	t    int64
	b    bucket
	kind int
	last bool
}

// steps lists what happens to the buckets between X (excluded) and now, in time order.
func steps(wsec []int64, x, now int64, buckets []bucket) []step {
	var out []step
	for _, b := range buckets {
		if b.sec > x && b.sec <= now {
			out = append(out, step{t: b.sec, b: b})
		}
		for i, w := range wsec {
			if t := b.sec + w; t > x && t <= now {
				out = append(out, step{t: t, b: b, kind: i + 1, last: i == len(wsec)-1})
			}
		}
	}
	slices.SortFunc(out, func(a, b step) int {
		return cmp.Or(cmp.Compare(a.t, b.t), cmp.Compare(a.kind, b.kind), cmp.Compare(a.b.sec, b.b.sec), cmp.Compare(a.b.typ, b.b.typ))
	})
	return out
}

// plan lays out expire.lua's input, cut at a second boundary when the keys would exceed
// maxExpireKeys. It returns the second the call settles to.
func (s *settler) plan(p int, x, now int64, buckets []bucket) (scriptCall, int64) {
	k := keysOf(s.layout, p)
	all := steps(s.wsec, x, now, buckets)
	const fixed = 3
	nw := len(s.wsec)
	// Keys of the first n steps: one each, plus nw leaderboards per type not seen before.
	types := map[string]int{}
	var order []string
	n, used := 0, fixed
	for n < len(all) {
		cost := 1
		if _, ok := types[all[n].b.typ]; !ok {
			cost += nw
		}
		if used+cost > maxExpireKeys && n > 0 {
			break
		}
		if _, ok := types[all[n].b.typ]; !ok {
			types[all[n].b.typ] = len(order) + 1
			order = append(order, all[n].b.typ)
		}
		used += cost
		n++
	}
	target := now
	if n < len(all) {
		// Stop before the first second that does not fit whole (take one second at least).
		cut := n
		for cut > 0 && all[cut].t == all[cut-1].t {
			cut--
		}
		if cut == 0 {
			for cut < len(all) && all[cut].t == all[0].t {
				cut++
			}
		}
		n = cut
		if n < len(all) {
			target = all[n].t - 1
		}
		// Keep only the types the kept steps use.
		types, order = map[string]int{}, order[:0]
		for _, st := range all[:n] {
			if _, ok := types[st.b.typ]; !ok {
				types[st.b.typ] = len(order) + 1
				order = append(order, st.b.typ)
			}
		}
	}
	c := scriptCall{keys: make([]string, 0, fixed+nw*len(order)+n)}
	c.keys = append(c.keys, k.cursor(), k.version(), k.due())
	c.args = append(make([]any, 0, 8+nw+2*len(order)+5*n), x, target, s.layout.Changes(p), p, nw)
	for _, w := range s.wsec {
		c.args = append(c.args, w)
	}
	c.args = append(c.args, len(order))
	for _, typ := range order {
		c.args = append(c.args, typ, len(c.keys)+1)
		for _, w := range s.wsec {
			c.keys = append(c.keys, k.top(w, typ))
		}
	}
	c.args = append(c.args, n)
	for _, st := range all[:n] {
		last := 0
		if st.last {
			last = 1
		}
		key := k.bucket(st.b.typ, st.b.sec)
		if st.kind == 0 {
			key = k.future(st.b.typ, st.b.sec)
		}
		c.keys = append(c.keys, key)
		c.args = append(c.args, st.kind, st.b.sec, last, types[st.b.typ], len(c.keys))
	}
	return c, target
}

// run settles every partition every tick until ctx ends. Failures are logged when they start
// and when they stop, not on every tick.
func (s *settler) run(ctx context.Context, tick time.Duration) error {
	t := time.NewTicker(tick)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		var errs []error
		for p := range s.layout.Partitions {
			if err := s.settle(ctx, p); err != nil && ctx.Err() == nil {
				errs = append(errs, err)
			}
		}
		switch err := errors.Join(errs...); {
		case err != nil && !failing:
			s.log.Warn("counter expiry failing; counts stop falling until it recovers", "err", err)
			failing = true
		case err == nil && failing:
			s.log.Info("counter expiry recovered")
			failing = false
		}
	}
}
