package counter

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/consumers"
	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/failures"
	"github.com/pulsehq/pulse/internal/httpapi"
)

// errBrokenKey fails the entries whose counter keys hold a value of the wrong type.
var errBrokenKey = errors.New("a counter key of this entry's type holds a value of the wrong type")

// decoded is a batch entry ready to apply.
type decoded struct {
	pos      int // position in the batch
	id       string
	ev       events.Event
	replayOf string // entry id of the dead-lettered original, for a replayed entry
}

var streamIDRe = regexp.MustCompile(`^[0-9]{1,20}-[0-9]{1,20}$`)

// decode reads an entry as ingest wrote it and checks it as ingest did (with the receive time
// as "now"). An entry that fails can never be applied: it is poison.
func (c *Counter) decode(e consumers.Entry) (decoded, error) {
	ev, err := events.FromValues(e.Values)
	if err != nil {
		return decoded{}, err
	}
	if verr := ev.Validate(time.UnixMilli(ev.Received), c.cfg.MaxFuture); verr != nil {
		return decoded{}, fmt.Errorf("%w: %w", events.ErrMalformed, verr)
	}
	d := decoded{id: e.ID, ev: ev}
	if r, ok := e.Values[failures.FieldReplayOf].(string); ok {
		if !streamIDRe.MatchString(r) {
			return decoded{}, fmt.Errorf("%w: %s %q is not a stream entry id", events.ErrMalformed, failures.FieldReplayOf, r)
		}
		d.replayOf = r
	}
	return d, nil
}

// applyCall is counter.lua's input for one batch: see the script for the layout.
type applyCall struct {
	scriptCall
	pos []int // batch position of the script's i-th entry
}

type groupKey struct {
	typ     int
	subject string
	sec     int64
}

// plan lays out a batch for counter.lua. Entries are grouped by (type, subject, second), so the
// script writes once per group; every key the script may touch is in KEYS, each once.
func (c *Counter) plan(p int, ds []decoded) *applyCall {
	k := keysOf(c.cfg.Layout, p)
	call := &applyCall{pos: make([]int, 0, len(ds))}
	call.keys = append(make([]string, 0, 8+2*len(ds)), c.cfg.Layout.Stream(p), k.cursor(), k.version(), k.due())
	index := map[string]int{}
	key := func(name string) int {
		i, ok := index[name]
		if !ok {
			call.keys = append(call.keys, name)
			i = len(call.keys) // Lua indexes from 1
			index[name] = i
		}
		return i
	}

	args := make([]any, 0, 16+4*len(ds))
	args = append(args, events.GroupCounter, c.cfg.Layout.Changes(p), p, int64(c.cfg.HistoryRetention/time.Second), len(c.wsec))
	for _, w := range c.wsec {
		args = append(args, w)
	}

	types := map[string]int{}
	var typeArgs []any
	groups := map[groupKey]int{}
	var groupArgs []any
	entryArgs := make([]any, 0, 3*len(ds))
	for _, d := range ds {
		t, ok := types[d.ev.Type]
		if !ok {
			t = len(types) + 1
			types[d.ev.Type] = t
			base := len(call.keys) + 1
			for _, w := range c.wsec {
				key(k.top(w, d.ev.Type))
			}
			typeArgs = append(typeArgs, d.ev.Type, base)
		}
		sec := floorDiv(d.ev.Time, 1000)
		gk := groupKey{t, d.ev.Subject, sec}
		g, ok := groups[gk]
		if !ok {
			g = len(groups) + 1
			groups[gk] = g
			hour := floorDiv(sec, 3600)
			groupArgs = append(groupArgs, t, d.ev.Subject, sec,
				key(k.bucket(d.ev.Type, sec)), key(k.future(d.ev.Type, sec)),
				key(k.typeHistory(d.ev.Type, hour)), key(k.subjectHistory(d.ev.Type, hour, d.ev.Subject)))
		}
		dead := 0
		if d.replayOf != "" {
			dead = key(consumers.DeadMarker(c.cfg.Layout.Stream(p), events.GroupCounter, d.replayOf))
		}
		entryArgs = append(entryArgs, d.id, g, dead)
		call.pos = append(call.pos, d.pos)
	}
	args = append(args, len(types))
	args = append(args, typeArgs...)
	args = append(args, len(groups))
	args = append(args, groupArgs...)
	args = append(args, len(ds))
	args = append(args, entryArgs...)
	call.args = args
	return call
}

// applied is counter.lua's answer.
type applied struct {
	applied, skipped, late int64
	published              bool
	bad                    []int // script entry positions (1-based) left pending
}

// apply runs the batch, settling the partition's windows first whenever the script finds
// them behind the clock (once per second and partition at most, under steady traffic).
func (c *Counter) apply(ctx context.Context, p int, call *applyCall) (applied, error) {
	for range maxSettleRounds {
		res, err := applyScript.Run(ctx, c.rdb, call.keys, call.args...).Int64Slice()
		if err != nil {
			return applied{}, fmt.Errorf("counter script: %w", err)
		}
		if res[0] == 0 {
			if err := c.settler.settle(ctx, p); err != nil {
				return applied{}, err
			}
			continue
		}
		out := applied{applied: res[1], skipped: res[2], late: res[3], published: res[4] == 1}
		for _, i := range res[5:] {
			out.bad = append(out.bad, int(i))
		}
		return out, nil
	}
	return applied{}, fmt.Errorf("%w: partition %d", errContention, p)
}

// classify marks failures of Redis itself (unreachable, loading, out of memory, busy) as
// transient: they say nothing about the entries, which must not be dead-lettered for them.
func classify(err error) error {
	var rerr redis.Error
	if errors.Is(err, errContention) || !errors.As(err, &rerr) || httpapi.RedisUnavailable(err) {
		return fmt.Errorf("%w: %w", err, consumers.ErrTransient)
	}
	return err
}

// floorDiv is a/b rounded toward minus infinity (event times before 1970 stay consistent).
func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
