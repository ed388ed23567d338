package counter

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/client"
	"github.com/pulsehq/pulse/internal/events"
)

// Reader answers count queries, exact at the second they report: before reading a partition
// it settles the partition's windows up to now (the same step the counter's ticker takes), so
// a read never waits for the ticker and never sees a bucket that should have left a window.
// A Reader is safe for concurrent use.
type Reader struct {
	rdb     redis.UniversalClient
	layout  events.Layout
	windows []events.Window
	settler *settler
}

// NewReader returns a Reader of a deployment with that layout and those windows
// (the ones the counter runs with).
func NewReader(rdb redis.UniversalClient, layout events.Layout, windows []events.Window) *Reader {
	wsec := windowSeconds(windows)
	return &Reader{
		rdb: rdb, layout: layout, windows: windows,
		settler: &settler{rdb: rdb, layout: layout, wsec: wsec, log: slog.Default()},
	}
}

// Count is a subject's counts, in window order.
type Count struct {
	Type    string
	Subject string
	Counts  []int64
}

// Windows returns exact counts at `at` (unix ms, Redis TIME) and, per partition touched, the
// change-set Version the counts include (changes with Version <= that are already reflected).
// Subjects never seen count 0.
func (r *Reader) Windows(ctx context.Context, typ string, subjects []string) (at int64, counts []Count, versions map[int]int64, err error) {
	if len(subjects) == 0 {
		now, err := r.rdb.Time(ctx).Result()
		if err != nil {
			return 0, nil, nil, fmt.Errorf("read counts: %w", err)
		}
		return now.UnixMilli(), []Count{}, map[int]int64{}, nil
	}
	byPart := map[int][]int{} // partition → positions in subjects
	var parts []int
	for i, s := range subjects {
		p := r.layout.Partition(typ, s)
		if _, ok := byPart[p]; !ok {
			parts = append(parts, p)
		}
		byPart[p] = append(byPart[p], i)
	}
	calls := make([]scriptCall, len(parts))
	for i, p := range parts {
		k := keysOf(r.layout, p)
		keys := []string{k.cursor(), k.version()}
		for _, w := range r.settler.wsec {
			keys = append(keys, k.top(w, typ))
		}
		args := make([]any, len(byPart[p]))
		for j, pos := range byPart[p] {
			args[j] = subjects[pos]
		}
		calls[i] = scriptCall{keys: keys, args: args}
	}
	results, at, err := r.read(ctx, windowsScript, parts, calls)
	if err != nil {
		return 0, nil, nil, err
	}
	nw := len(r.windows)
	counts = make([]Count, len(subjects))
	versions = make(map[int]int64, len(parts))
	for i, p := range parts {
		res := results[i] // {1, at, version, counts...}
		versions[p] = res[2]
		for j, pos := range byPart[p] {
			counts[pos] = Count{Type: typ, Subject: subjects[pos], Counts: res[3+j*nw : 3+(j+1)*nw : 3+(j+1)*nw]}
		}
	}
	return at, counts, versions, nil
}

// Top returns the limit subjects of typ with the highest count in window (an index into the
// windows), exact at `at`: merged across partitions, ties ordered by subject ascending.
func (r *Reader) Top(ctx context.Context, typ string, window, limit int) (at int64, entries []client.Entry, err error) {
	if window < 0 || window >= len(r.windows) || limit < 1 {
		return 0, nil, fmt.Errorf("top: window %d of %d, limit %d", window, len(r.windows), limit)
	}
	parts := make([]int, r.layout.Partitions)
	calls := make([]scriptCall, r.layout.Partitions)
	for p := range r.layout.Partitions {
		k := keysOf(r.layout, p)
		parts[p] = p
		calls[p] = scriptCall{keys: []string{k.cursor(), k.top(r.settler.wsec[window], typ)}, args: []any{limit}}
	}
	var raw [][]any
	at, err = r.readRaw(ctx, topScript, parts, calls, func(res [][]any) { raw = res })
	if err != nil {
		return 0, nil, err
	}
	for _, res := range raw { // {1, at, subject, count, ...}
		for j := 2; j+1 < len(res); j += 2 {
			subject, _ := res[j].(string)
			score, _ := res[j+1].(string)
			n, err := strconv.ParseInt(score, 10, 64)
			if err != nil {
				return 0, nil, fmt.Errorf("top: score %q: %w", score, err)
			}
			entries = append(entries, client.Entry{Subject: subject, Count: n})
		}
	}
	slices.SortFunc(entries, func(a, b client.Entry) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Subject, b.Subject))
	})
	return at, entries[:min(limit, len(entries))], nil
}

// read runs a read script whose answer is all integers on every partition of parts.
func (r *Reader) read(ctx context.Context, s *redis.Script, parts []int, calls []scriptCall) ([][]int64, int64, error) {
	var out [][]int64
	at, err := r.readRaw(ctx, s, parts, calls, func(res [][]any) {
		out = make([][]int64, len(res))
		for i, items := range res {
			out[i] = make([]int64, len(items))
			for j, it := range items {
				out[i][j], _ = it.(int64)
			}
		}
	})
	return out, at, err
}

// readRaw runs the calls in one round trip until every partition answered settled and in the
// same second: stale partitions are settled, and a read that straddles a second boundary is
// read again, so that all counts describe one second. keep gets the answers.
func (r *Reader) readRaw(ctx context.Context, s *redis.Script, parts []int, calls []scriptCall, keep func([][]any)) (int64, error) {
	for range maxSettleRounds {
		cmds, err := runPipelined(ctx, r.rdb, s, calls)
		if err != nil {
			return 0, fmt.Errorf("read counts: %w", err)
		}
		res := make([][]any, len(cmds))
		var stale []int
		var at int64
		sameSecond := true
		for i, c := range cmds {
			items, _ := c.Val().([]any)
			if len(items) < 2 || items[0] != int64(1) {
				stale = append(stale, parts[i])
				continue
			}
			res[i] = items
			ms, _ := items[1].(int64)
			if at != 0 && ms/1000 != at/1000 {
				sameSecond = false
			}
			at = max(at, ms)
		}
		if len(stale) == 0 && sameSecond {
			keep(res)
			return at, nil
		}
		for _, p := range stale {
			if err := r.settler.settle(ctx, p); err != nil {
				return 0, err
			}
		}
	}
	return 0, fmt.Errorf("read counts: %w", errContention)
}
