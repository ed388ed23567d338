package counter

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
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
	rdb  redis.UniversalClient
	wsec []int64
	log  *slog.Logger
	// onPublish counts the change sets published by expiry (nil: not counted).
	onPublish func()
}

// settle runs due.lua, then expire.lua for what is due, until the partition is settled at now.
func (s *settler) settle(ctx context.Context, p int) error {
	k := keysOf(p)
	wargs := make([]any, len(s.wsec))
	for i, w := range s.wsec {
		wargs[i] = w
	}
	for conflicts := 0; conflicts < maxSettleRounds; {
		res, err := dueScript.Run(ctx, s.rdb, []string{k.cursor(), k.sched(), k.types()}, wargs...).Slice()
		if err != nil {
			return fmt.Errorf("due script: %w", err)
		}
		if len(res) == 2 {
			return nil
		}
		x, now := res[0].(int64), res[1].(int64)
		secs, err := toInts(res[2])
		if err != nil {
			return err
		}
		types := toStrings(res[3])
		call, target := s.plan(p, x, now, secs, types)
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

// step is one operation of expire.lua: at second t, bucket second sec enters every window
// (kind 0) or leaves window kind (1-based).
type step struct {
	t, sec int64
	kind   int
	last   bool
}

// steps lists what happens to the buckets secs between X (excluded) and now, in time order.
func steps(wsec []int64, x, now int64, secs []int64) []step {
	var out []step
	for _, s := range secs {
		if s > x && s <= now {
			out = append(out, step{t: s, sec: s})
		}
		for i, w := range wsec {
			if t := s + w; t > x && t <= now {
				out = append(out, step{t: t, sec: s, kind: i + 1, last: i == len(wsec)-1})
			}
		}
	}
	slices.SortFunc(out, func(a, b step) int {
		return cmp.Or(cmp.Compare(a.t, b.t), cmp.Compare(a.kind, b.kind), cmp.Compare(a.sec, b.sec))
	})
	return out
}

// plan lays out expire.lua's input, cut at a second boundary when the keys would exceed
// maxExpireKeys. It returns the second the call settles to.
func (s *settler) plan(p int, x, now int64, secs []int64, types []string) (scriptCall, int64) {
	k := keysOf(p)
	all := steps(s.wsec, x, now, secs)
	nt := len(types)
	fixed := 4 + nt*len(s.wsec)
	room := max((maxExpireKeys-fixed)/max(nt, 1), 1)
	target, n := now, len(all)
	if n > room {
		// Stop before the first second that does not fit whole (take one second at least).
		n = room
		for n > 0 && all[n].t == all[n-1].t {
			n--
		}
		if n == 0 {
			for n < len(all) && all[n].t == all[0].t {
				n++
			}
		}
		if n < len(all) {
			target = all[n].t - 1
		}
	}
	c := scriptCall{keys: make([]string, 0, fixed+n*nt)}
	c.keys = append(c.keys, k.cursor(), k.version(), k.sched(), k.types())
	c.args = append(make([]any, 0, 8+len(s.wsec)+2*nt+4*n), x, target, events.Changes(p), p, len(s.wsec))
	for _, w := range s.wsec {
		c.args = append(c.args, w)
	}
	c.args = append(c.args, nt)
	for _, typ := range types {
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
		c.args = append(c.args, st.kind, st.sec, last, len(c.keys)+1)
		for _, typ := range types {
			if st.kind == 0 {
				c.keys = append(c.keys, k.future(typ, st.sec))
			} else {
				c.keys = append(c.keys, k.bucket(typ, st.sec))
			}
		}
	}
	return c, target
}

// run settles every partition every tick until ctx ends. Failures are logged when they start
// and when they stop, not on every tick.
func (s *settler) run(ctx context.Context, partitions int, tick time.Duration) error {
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
		for p := range partitions {
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

func toInts(v any) ([]int64, error) {
	items, _ := v.([]any)
	out := make([]int64, len(items))
	for i, it := range items {
		s, _ := it.(string)
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("counter schedule member %q: %w", s, err)
		}
		out[i] = n
	}
	return out, nil
}

func toStrings(v any) []string {
	items, _ := v.([]any)
	out := make([]string, len(items))
	for i, it := range items {
		out[i], _ = it.(string)
	}
	return out
}
