// Package ingest is Pulse's intake: the HTTP API that decodes and validates events
// (POST /v1/events, POST /v1/videos/:id/likes) and the group-commit writer that appends them to
// the partition streams, deduplicating client ids atomically with the append.
package ingest

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/failures"
)

// Config of the ingest role. The zero value of every field means its default.
type Config struct {
	Partitions     int           // N of the deployment; default events.DefaultPartitions
	DedupeTTL      time.Duration // how long a client id is remembered; default 1 h, rounded up to seconds
	MaxBody        int64         // request body bytes after decompression; default 1 MiB
	MaxBatch       int           // events per request; default 1000
	MaxFuture      time.Duration // how far event time may lead the server clock; default 5 min
	MaxTypes       int           // distinct event types of the deployment; default 1000, negative = no limit
	MaxBacklog     int64         // entries per partition stream before 503 backlog_full; default 1,000,000, negative = no limit
	RejectedMaxLen int64         // cap of the rejected-input store; default failures.DefaultMaxLen
	MaxCommit      int           // events (and failure records) per group commit; default 4096
	Committers     int           // group commits in flight at once; default 2
	RetryAfter     time.Duration // Retry-After of 503 answers; default 1 s

	Logger  *slog.Logger          // default slog.Default()
	Metrics prometheus.Registerer // receives the ingest metrics; nil: not registered anywhere
}

func (c Config) withDefaults() Config {
	if c.Partitions == 0 {
		c.Partitions = events.DefaultPartitions
	}
	if c.DedupeTTL == 0 {
		c.DedupeTTL = time.Hour
	}
	if c.MaxBody == 0 {
		c.MaxBody = 1 << 20
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = 1000
	}
	if c.MaxFuture == 0 {
		c.MaxFuture = 5 * time.Minute
	}
	if c.MaxTypes == 0 {
		c.MaxTypes = 1000
	}
	if c.MaxBacklog == 0 {
		c.MaxBacklog = 1_000_000
	}
	if c.RejectedMaxLen == 0 {
		c.RejectedMaxLen = failures.DefaultMaxLen
	}
	if c.MaxCommit == 0 {
		c.MaxCommit = 4096
	}
	if c.Committers == 0 {
		c.Committers = 2
	}
	if c.RetryAfter == 0 {
		c.RetryAfter = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// validate reports settings that no default can fix.
func (c Config) validate() error {
	c = c.withDefaults()
	var errs []error
	if err := events.CheckPartitions(c.Partitions); err != nil {
		errs = append(errs, err)
	}
	if c.DedupeTTL < time.Second {
		errs = append(errs, errors.New("dedupe TTL must be ≥ 1s"))
	}
	if c.MaxBody < 1 || c.MaxBatch < 1 || c.MaxCommit < 1 || c.Committers < 1 || c.RejectedMaxLen < 1 {
		errs = append(errs, errors.New("max body, max batch, max commit, committers and rejected max len must be ≥ 1"))
	}
	if c.MaxFuture < 0 || c.RetryAfter < 0 {
		errs = append(errs, errors.New("max future and retry after must not be negative"))
	}
	return errors.Join(errs...)
}

// Ingest is the intake: the group-commit writer (Run) and the HTTP API in front of it (Mount).
type Ingest struct {
	w *Writer
	h *Handler
}

// New checks cfg and returns the intake on rdb. rdb must not retry commands on its own
// (MaxRetries -1, and MaxRedirects -1 on a cluster): a blind retry of an append whose reply
// was lost could double-append events without a client id. The writer answers such losses as
// unconfirmed instead.
func New(rdb redis.UniversalClient, cfg Config) (*Ingest, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	reg := cfg.Metrics
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	w := newWriter(rdb, cfg, m)
	return &Ingest{w: w, h: newHandler(w, cfg, m)}, nil
}

// Run commits what requests queue until ctx ends, then what is still queued (see Writer.Run).
func (in *Ingest) Run(ctx context.Context) error { return in.w.Run(ctx) }

// Mount adds the routes to r (see Handler.Mount).
func (in *Ingest) Mount(r gin.IRoutes) { in.h.Mount(r) }
