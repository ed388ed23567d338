package app

import (
	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/ingest"
	"github.com/pulsehq/pulse/internal/httpapi"
)

// mountIngest wires the ingest role: POST /v1/events and /v1/videos/:id/likes (browser keys
// suffice), and the group-commit writer, which runs until HTTP has drained.
func (a *App) mountIngest() error {
	cfg := a.cfg.Ingest
	cfg.Layout, cfg.MaxFuture, cfg.Logger, cfg.Metrics = a.layout, a.cfg.MaxFuture, a.log, a.reg
	// Its own client: appends must never be re-sent by the client library (a lost reply could
	// double-append events without a client id, and answer a client id's first submission
	// "duplicate"). MaxRetries covers a single node and sentinel; a cluster client retries
	// pipelines on timeouts and EOF up to MaxRedirects times whatever MaxRetries says, so that
	// is off too: a MOVED reply then fails the commit (nothing ran) and the client retries.
	rdb := a.newRedis(func(o *redis.UniversalOptions) {
		o.MaxRetries = -1
		o.MaxRedirects = -1
		o.PoolSize = 4
	})
	in, err := ingest.New(rdb, cfg)
	if err != nil {
		return err
	}
	a.addRunner("ingest writer", in.Run)
	in.Mount(a.api.Group("", a.keys.Require(httpapi.AccessBrowser)))
	return nil
}
