package app

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/pulsehq/pulse/consumers/indexer"
	"github.com/pulsehq/pulse/internal/httpapi"
	"github.com/pulsehq/pulse/internal/search"
)

// mountIndexer wires the indexer role: the two search engines (Meilisearch when configured,
// else embedded Bleve indexes under DataDir/search), the consumer groups that feed them, and
// the search API.
func (a *App) mountIndexer() error {
	evs, fails, err := a.openSearch()
	if err != nil {
		return err
	}
	a.closers = append(a.closers, evs.Close, fails.Close)
	cfg := a.cfg.Indexer
	cfg.Logger, cfg.Metrics = a.log, a.reg
	cfg.Group = a.group(cfg.Group)
	x, err := indexer.New(a.rdb, evs, fails, cfg)
	if err != nil {
		return err
	}
	a.addRunner("indexer", x.Run)
	// Failure records hold what producers sent: searching them needs a full key, as listing does.
	x.Mount(a.api.Group("", a.keys.Require(httpapi.AccessBrowser)), a.api.Group("", a.keys.Require(httpapi.AccessFull)))
	return nil
}

// openSearch returns the events and failures engines.
func (a *App) openSearch() (evs, fails search.Engine, err error) {
	if a.cfg.Meili.URL != "" {
		a.log.Info("search: Meilisearch", "url", a.cfg.Meili.URL)
		open := func(index string) (search.Engine, error) {
			cfg := a.cfg.Meili
			cfg.Index = index
			return search.NewMeilisearch(cfg)
		}
		if evs, err = open("pulse-events"); err != nil {
			return nil, nil, err
		}
		if fails, err = open("pulse-failures"); err != nil {
			return nil, nil, errors.Join(err, evs.Close())
		}
		return evs, fails, nil
	}
	dir := filepath.Join(a.cfg.DataDir, "search")
	a.log.Info("search: embedded Bleve index", "dir", dir)
	open := func(name string) (search.Engine, error) {
		return search.OpenBleve(search.BleveConfig{Path: filepath.Join(dir, name)})
	}
	if evs, err = open("events"); err != nil {
		return nil, nil, fmt.Errorf("search: %w", err)
	}
	if fails, err = open("failures"); err != nil {
		return nil, nil, errors.Join(fmt.Errorf("search: %w", err), evs.Close())
	}
	return evs, fails, nil
}
