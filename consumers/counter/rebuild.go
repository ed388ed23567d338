package counter

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/internal/archive"
	"github.com/pulsehq/pulse/internal/events"
)

// HistoryRebuild writes per-minute history from counts taken elsewhere (the archive: pulse
// rebuild history). Each minute it is given replaces what the history held for that minute,
// so a rebuild can be repeated; minutes older than the retention are skipped, since the
// history would not hold them.
type HistoryRebuild struct {
	rdb       redis.UniversalClient
	layout    events.Layout
	retention time.Duration
	types     map[typeMinute]int64 // per-type history sums its subjects: written by Flush
	pipe      redis.Pipeliner
	queued    int
	Minutes   int64 // (type, subject, minute) fields written so far
}

type typeMinute struct {
	p      int
	typ    string
	minute int64
}

// NewHistoryRebuild returns a rebuild of the history kept for retention.
func NewHistoryRebuild(rdb redis.UniversalClient, layout events.Layout, retention time.Duration) *HistoryRebuild {
	return &HistoryRebuild{rdb: rdb, layout: layout, retention: retention, types: map[typeMinute]int64{}, pipe: rdb.Pipeline()}
}

// Add sets the count of one (type, subject, minute).
func (r *HistoryRebuild) Add(ctx context.Context, m archive.MinuteCount) error {
	if m.Minute*60 < time.Now().Add(-r.retention).Unix()-60 {
		return nil
	}
	p := r.layout.Partition(m.Type, m.Subject)
	r.types[typeMinute{p, m.Type, m.Minute}] += m.Count
	hour := floorDiv(m.Minute, 60)
	r.set(ctx, keysOf(r.layout, p).subjectHistory(m.Type, hour, m.Subject), hour, m.Minute, m.Count)
	r.Minutes++
	return r.maybeFlush(ctx)
}

// Flush writes the per-type sums and whatever is queued.
func (r *HistoryRebuild) Flush(ctx context.Context) error {
	for k, n := range r.types {
		hour := floorDiv(k.minute, 60)
		r.set(ctx, keysOf(r.layout, k.p).typeHistory(k.typ, hour), hour, k.minute, n)
		if err := r.maybeFlush(ctx); err != nil {
			return err
		}
	}
	clear(r.types)
	return r.exec(ctx)
}

// set queues one minute's count in a history hash, with the expiry the counter gives it.
func (r *HistoryRebuild) set(ctx context.Context, key string, hour, minute, n int64) {
	r.pipe.HSet(ctx, key, strconv.FormatInt(minute-hour*60, 10), n)
	r.pipe.ExpireAt(ctx, key, time.Unix((hour+1)*3600, 0).Add(r.retention))
	r.queued += 2
}

func (r *HistoryRebuild) maybeFlush(ctx context.Context) error {
	if r.queued < 2000 {
		return nil
	}
	return r.exec(ctx)
}

func (r *HistoryRebuild) exec(ctx context.Context) error {
	r.queued = 0
	if _, err := r.pipe.Exec(ctx); err != nil {
		return fmt.Errorf("write history: %w", err)
	}
	return nil
}
