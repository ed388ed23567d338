package app

import (
	"cmp"
	"context"
	"path/filepath"

	"github.com/pulsehq/pulse/consumers/archiver"
	"github.com/pulsehq/pulse/internal/archive"
)

func (a *App) mountArchiver() error {
	st, err := a.archiveStore()
	if err != nil {
		return err
	}
	cfg := a.cfg.Archiver
	cfg.Layout, cfg.Store, cfg.Logger, cfg.Metrics = a.layout, st, a.log, a.reg
	cfg.FailedMaxLen = a.cfg.Consumers.FailedMaxLen
	x, err := archiver.New(a.rdb, cfg)
	if err != nil {
		return err
	}
	a.addRunner("archiver", x.Run)
	return nil
}

// archiveStore opens the archive once per process (the archiver writes it, the count queries
// read it), or returns nil when the deployment keeps none.
func (a *App) archiveStore() (*archive.Store, error) {
	if a.cfg.ArchiveOff() {
		return nil, nil
	}
	if a.store == nil {
		st, err := OpenArchive(context.Background(), a.cfg)
		if err != nil {
			return nil, err
		}
		a.log.Info("archive", "store", st.String())
		a.store = st
		a.closers = append(a.closers, st.Close)
	}
	return a.store, nil
}

// archiveEngine returns the process's query engine over the archive (made once), or nil when
// the deployment keeps none.
func (a *App) archiveEngine() (*archive.Engine, error) {
	if a.engineArchive != nil {
		return a.engineArchive, nil
	}
	st, err := a.archiveStore()
	if st == nil || err != nil {
		return nil, err
	}
	eng, err := archive.NewEngine(st)
	if err != nil {
		return nil, err
	}
	a.engineArchive = eng
	a.closers = append(a.closers, eng.Close)
	return eng, nil
}

// OpenArchive opens the archive cfg names (pulse replay and rebuild use it too).
func OpenArchive(ctx context.Context, cfg Config) (*archive.Store, error) {
	url := cmp.Or(cfg.ArchiveURL, filepath.Join(cfg.DataDir, "archive"))
	return archive.Open(ctx, url, filepath.Join(cfg.DataDir, "archive-cache"))
}
