package archiver

import (
	"context"
	"time"

	"github.com/pulsehq/pulse/consumers"
	"github.com/pulsehq/pulse/internal/archive"
)

// publishStats lists the archive every StatsEvery and publishes its size, while this process
// holds partition 0 (one lister per deployment: a listing of a large bucket is many requests).
func (a *Archiver) publishStats(ctx context.Context) {
	for ctx.Err() == nil {
		if !a.first.Load() {
			consumers.Sleep(ctx, time.Second)
			continue
		}
		if err := a.listStats(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("archive stats", "err", err)
		}
		consumers.Sleep(ctx, a.cfg.StatsEvery)
	}
}

func (a *Archiver) listStats(ctx context.Context) error {
	objs, err := a.cfg.Store.List(ctx, archive.Root)
	if err != nil {
		return err
	}
	s := archive.Stats{Files: int64(len(objs)), At: time.Now().UnixMilli()}
	for _, o := range objs {
		s.Bytes += o.Size
	}
	if len(objs) > 0 {
		// Keys sort by hour folder (fixed-width fields): the last one is in the newest hour.
		if h, ok := archive.HourOfKey(objs[len(objs)-1].Key); ok {
			s.Newest = h * 3_600_000
		}
	}
	a.m.count.Set(float64(s.Files))
	a.m.size.Set(float64(s.Bytes))
	a.m.newest.Set(float64(s.Newest / 1000))
	return a.rdb.HSet(ctx, archive.StatsKey, s).Err()
}
