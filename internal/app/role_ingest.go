package app

import (
	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/ingest"
	"github.com/pulsehq/pulse/internal/httpapi"
)

// mountIngest wires the ingest role: POST /v1/events and /v1/videos/:id/likes (browser keys
// suffice), and the group-commit writer, which runs until HTTP has drained.
func (a *App) mountIngest() error {
	cfg := ingest.Config{
		Partitions:   a.cfg.Partitions,
		DedupeTTL:    a.cfg.DedupeTTL,
		MaxBody:      a.cfg.MaxBody,
		MaxBatch:     a.cfg.MaxBatch,
		MaxFuture:    a.cfg.MaxFuture,
		MaxBacklog:   a.cfg.MaxBacklog,
		FailedMaxLen: a.cfg.FailedMaxLen,
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	// Its own client: appends must never be retried blindly (a lost reply could double-append
	// events without a client id), and one committer needs few connections.
	rdb, err := newRedis(a.cfg.RedisURL, func(o *redis.UniversalOptions) {
		o.MaxRetries = -1
		o.PoolSize = 4
	})
	if err != nil {
		return err
	}
	a.closers = append(a.closers, rdb.Close)
	m, err := ingest.NewMetrics(a.reg)
	if err != nil {
		return err
	}
	w := ingest.NewWriter(rdb, cfg, m, a.log)
	a.addRunner("ingest writer", w.Run)
	ingest.NewHandler(w, cfg, m, a.log).Mount(a.api.Group("", a.keys.Require(httpapi.AccessBrowser)))
	return nil
}
