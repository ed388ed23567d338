package archiver

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"dario.cat/mergo"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pulsehq/pulse/internal/archive"
	"github.com/pulsehq/pulse/internal/events"
)

// Config configures an Archiver. A zero field means its default (DefaultConfig).
type Config struct {
	Layout events.Layout
	// Store receives the files. Required.
	Store *archive.Store
	// Roll is the longest time an entry waits in memory before its file is written, so that a
	// quiet stream still lands within minutes (PULSE_ARCHIVE_ROLL).
	Roll time.Duration
	// RollBytes rolls a partition's files earlier, once its entries hold this many bytes in
	// memory (PULSE_ARCHIVE_ROLL_BYTES): what bounds the archiver's memory.
	RollBytes int
	// CompactAfter is how long after an event hour ends its small files are merged into one
	// (PULSE_ARCHIVE_COMPACT_AFTER): late events of the hour usually have come by then; later
	// ones make a new small file, merged at the next pass while the hour is recent.
	CompactAfter time.Duration
	// CompactBytes bounds the files merged at once (their size on disk): larger hours were
	// written in large files already.
	CompactBytes int64
	// CompactGrace is how long merged files outlive the compacted file that supersedes them:
	// longer than a query takes from listing the files to opening them.
	CompactGrace time.Duration
	// Lease is how long a partition stays with an archiver process that stopped renewing it.
	Lease time.Duration
	// Count is the most entries per read.
	Count int
	// Block bounds a blocking read.
	Block time.Duration
	// FailedMaxLen bounds the dead-letter store (malformed entries go there).
	FailedMaxLen int64
	// StatsEvery is how often the archive's size is listed and published (GET /v1/pipeline).
	StatsEvery time.Duration
	Logger     *slog.Logger
	Metrics    prometheus.Registerer
	// Crash, when set, is called at every step of a commit ("staged", "put", "ack", "acked")
	// and of a compaction ("compacted": the merged file in place, the files it merges not yet
	// removed) with the partition: the crash tests kill the process there.
	Crash func(step string, partition int)
}

// DefaultConfig is an Archiver's defaults.
func DefaultConfig() Config {
	return Config{
		Layout:       events.DefaultLayout(),
		Roll:         5 * time.Minute,
		RollBytes:    32 << 20,
		CompactAfter: 10 * time.Minute,
		CompactBytes: 64 << 20,
		CompactGrace: time.Minute,
		Lease:        30 * time.Second,
		Count:        1000,
		Block:        time.Second,
		StatsEvery:   time.Minute,
	}
}

func (c Config) withDefaults() (Config, error) {
	c.Logger = cmp.Or(c.Logger, slog.Default())
	if err := mergo.Merge(&c, DefaultConfig()); err != nil {
		return c, err
	}
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("no archive store"))
	}
	if err := c.Layout.Check(); err != nil {
		errs = append(errs, err)
	}
	if c.Roll < time.Second || c.RollBytes < 1<<10 {
		errs = append(errs, fmt.Errorf("roll %s / %d bytes: want ≥ 1s and ≥ 1 KiB", c.Roll, c.RollBytes))
	}
	if c.Lease < 3*time.Second || c.Block > c.Lease/3 {
		errs = append(errs, fmt.Errorf("lease %s, block %s: want a lease ≥ 3s and a block at most a third of it", c.Lease, c.Block))
	}
	return c, errors.Join(errs...)
}
