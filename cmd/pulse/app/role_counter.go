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
	cfg := a.cfg.Counter
	cfg.Layout, cfg.Windows, cfg.MaxFuture, cfg.Logger, cfg.Metrics = a.layout, a.windows, a.cfg.MaxFuture, a.log, a.reg
	cfg.Group = a.group(cfg.Group)
	c, err := counter.New(a.rdb, cfg)
	if err != nil {
		return err
	}
	a.addRunner("counter", c.Run)

	// Every counter process trims: passes are idempotent and never cut what a group still needs.
	// The alarm cap is twice ingest's backlog limit; without a limit (negative), the default.
	tr, err := consumers.NewTrimmer(a.rdb, consumers.TrimConfig{
		Layout:  a.layout,
		Groups:  a.cfg.Groups(),
		MaxLen:  2 * max(a.cfg.Ingest.MaxBacklog, 0),
		Logger:  a.log,
		Metrics: a.reg,
	})
	if err != nil {
		return err
	}
	a.addRunner("trimmer", tr.Run)

	read := a.api.Group("", a.keys.Require(httpapi.AccessBrowser))
	full := a.api.Group("", a.keys.Require(httpapi.AccessFull))
	eng, err := a.archiveEngine()
	if err != nil {
		return err
	}
	c.Mount(read, eng)
	// Failure records hold what producers sent (bodies, ids, data): operators' business, not
	// something a key handed to web pages may read.
	fa, err := failures.NewAPI(a.rdb, failures.APIConfig{Layout: a.layout})
	if err != nil {
		return err
	}
	fa.Mount(full, full)
	return nil
}
