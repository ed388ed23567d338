package app

import (
	"github.com/pulsehq/pulse/consumers"
	"github.com/pulsehq/pulse/consumers/counter"
	"github.com/pulsehq/pulse/internal/failures"
	"github.com/pulsehq/pulse/internal/httpapi"
)

// mountCounter wires the counter role: the consumer of group "counter" with its expiry ticker,
// the stream trimmer, the count queries and the failure stream's API.
func (a *App) mountCounter() error {
	c, err := counter.New(a.rdb, counter.Config{
		Partitions:       a.cfg.Partitions,
		Windows:          a.windows,
		HistoryRetention: a.cfg.HistoryRetention,
		MaxFuture:        a.cfg.MaxFuture,
		Group:            a.groupConfig(),
		Logger:           a.log,
		Metrics:          a.reg,
	})
	if err != nil {
		return err
	}
	a.addRunner("counter", c.Run)

	// Every counter process trims: passes are idempotent and never cut what a group still needs.
	// The alarm cap is twice ingest's backlog limit; without a limit (negative), the default.
	tr, err := consumers.NewTrimmer(a.rdb, consumers.TrimConfig{
		Partitions: a.cfg.Partitions,
		MaxLen:     2 * max(a.cfg.MaxBacklog, 0),
		Logger:     a.log,
		Metrics:    a.reg,
	})
	if err != nil {
		return err
	}
	a.addRunner("trimmer", tr.Run)

	read := a.api.Group("", a.keys.Require(httpapi.AccessBrowser))
	full := a.api.Group("", a.keys.Require(httpapi.AccessFull))
	api := &counter.API{
		Reader:    counter.NewReader(a.rdb, a.cfg.Partitions, a.windows),
		Retention: a.cfg.HistoryRetention,
		MaxFuture: a.cfg.MaxFuture,
	}
	api.Mount(read)
	// Failure records hold what producers sent (bodies, ids, data): operators' business, not
	// something a key handed to web pages may read.
	failures.NewAPI(a.rdb, a.cfg.Partitions).Mount(full, full)
	return nil
}
