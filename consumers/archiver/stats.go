package archiver

import (
	"context"
	"time"

	"github.com/pulsehq/pulse/consumers"
	"github.com/pulsehq/pulse/internal/archive"
)

// publishStats lists the archive and publishes its size while this process holds partition 0
// (one lister per deployment: listing a large bucket is many requests): every StatsEvery, and
// within seconds of this process writing files, so that a new archive shows at once.
func (a *Archiver) publishStats(ctx context.Context) {
	var last time.Time
	for ctx.Err() == nil {
		if a.first.Load() && (a.wrote.Swap(false) || time.Since(last) >= a.cfg.StatsEvery) {
			if err := a.listStats(ctx); err != nil && ctx.Err() == nil {
				a.log.Warn("archive stats", "err", err)
			}
			last = time.Now()
		}
		consumers.Sleep(ctx, statsPoll)
	}
}

// statsPoll is how often publishStats looks whether to list.
const statsPoll = 5 * time.Second

func (a *Archiver) listStats(ctx context.Context) error {
	files, err := a.cfg.Store.Files(ctx, archive.Root)
	if err != nil {
		return err
	}
	live, _ := archive.Live(files)
	s := archive.Stats{Files: int64(len(live)), At: time.Now().UnixMilli()}
	for _, f := range live {
		s.Bytes += f.Size
		s.Newest = max(s.Newest, f.Hour*3_600_000)
	}
	a.m.count.Set(float64(s.Files))
	a.m.size.Set(float64(s.Bytes))
	a.m.newest.Set(float64(s.Newest / 1000))
	return a.rdb.HSet(ctx, archive.StatsKey, s).Err()
}
