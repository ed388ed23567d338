package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/consumers"
	"github.com/pulsehq/pulse/consumers/counter"
	"github.com/pulsehq/pulse/ingest"
	"github.com/pulsehq/pulse/internal/archive"
	"github.com/pulsehq/pulse/internal/events"
)

// Progress hears how far a long command is: done of total events.
type Progress func(done int64)

// ArchiveTotal counts the archived events f selects (for a progress bar's total).
func (a *App) ArchiveTotal(ctx context.Context, f archive.Filter) (int64, error) {
	eng, err := a.mustArchive()
	if err != nil {
		return 0, err
	}
	return eng.Count(ctx, f)
}

func (a *App) mustArchive() (*archive.Engine, error) {
	eng, err := a.archiveEngine()
	if err == nil && eng == nil {
		err = errors.New("the deployment keeps no archive (PULSE_ARCHIVE_URL=off)")
	}
	return eng, err
}

// ReplayResult is what a replay appended.
type ReplayResult struct{ Appended, Duplicates int64 }

// replayBatch is the events appended per call.
const replayBatch = 1000

// Replay re-appends the archived events f selects to their partition streams with their own
// ids (pulse replay): the counter and the indexer take them as new, the archiver skips them,
// and their dedupe keys make a repeated replay append nothing within the dedupe horizon. A
// batch Redis did not take is sent again until it is, or ctx ends.
func (a *App) Replay(ctx context.Context, f archive.Filter, progress Progress) (ReplayResult, error) {
	var res ReplayResult
	eng, err := a.mustArchive()
	if err != nil {
		return res, err
	}
	cfg := a.cfg.Ingest
	cfg.Layout, cfg.MaxFuture, cfg.Logger = a.layout, a.cfg.MaxFuture, a.log
	rdb := a.newRedis(func(o *redis.UniversalOptions) { o.MaxRetries, o.MaxRedirects = -1, -1 })
	in, err := ingest.New(rdb, cfg)
	if err != nil {
		return res, err
	}
	wctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- in.Run(wctx) }()
	defer func() { stop(); <-done }()

	var batch []events.Event
	var n int64
	send := func() error {
		// Events a failed attempt appended come back as duplicates of the next one: they are
		// counted appended once, not duplicates.
		var earlier int
		for {
			app, dup, err := in.Replay(ctx, batch)
			res.Appended += int64(app)
			if err == nil {
				res.Duplicates += int64(dup - earlier)
				break
			}
			earlier += app
			a.log.Warn("replay: redis did not take a batch; sending it again", "err", err)
			if consumers.Sleep(ctx, time.Second); ctx.Err() != nil {
				return ctx.Err()
			}
		}
		n += int64(len(batch))
		progress(n)
		batch = batch[:0]
		return nil
	}
	err = eng.Rows(ctx, f, func(r archive.Row) error {
		batch = append(batch, r.Event())
		if len(batch) == replayBatch {
			return send()
		}
		return nil
	})
	if err == nil && len(batch) > 0 {
		err = send()
	}
	return res, err
}

// RebuildHistory recomputes the per-minute history of the events f selects straight from the
// archive (pulse rebuild history): each minute's count is set to the archive's. It returns how
// many (type, subject, minute) counts it wrote.
func (a *App) RebuildHistory(ctx context.Context, f archive.Filter, progress Progress) (int64, error) {
	eng, err := a.mustArchive()
	if err != nil {
		return 0, err
	}
	rb := counter.NewHistoryRebuild(a.rdb, a.layout, cmp.Or(a.cfg.Counter.HistoryRetention, counter.DefaultConfig().HistoryRetention))
	var n int64
	err = eng.Minutes(ctx, f, func(m archive.MinuteCount) error {
		n += m.Count
		progress(n)
		return rb.Add(ctx, m)
	})
	if err == nil {
		err = rb.Flush(ctx)
	}
	if err != nil {
		return rb.Minutes, fmt.Errorf("rebuild history: %w", err)
	}
	return rb.Minutes, nil
}
