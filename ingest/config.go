// Package ingest is Pulse's intake: the HTTP API that decodes and validates events
// (POST /v1/events, POST /v1/videos/:id/likes) and the group-commit writer that appends them to
// the partition streams, deduplicating client ids atomically with the append.
package ingest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"dario.cat/mergo"
	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/failures"
)

// Config of the ingest role. A zero field means its default (DefaultConfig); a negative one
// is refused unless its comment says what it means.
type Config struct {
	Layout         events.Layout // of the deployment
	DedupeTTL      time.Duration // how long a client id is remembered, rounded up to seconds
	MaxBody        int64         // request body bytes after decompression
	MaxBatch       int           // events per request
	MaxFuture      time.Duration // how far event time may lead the server clock
	MaxTypes       int           // distinct event types of the deployment; negative = no limit
	MaxBacklog     int64         // entries per partition stream before 503 backlog_full; negative = no limit
	RejectedMaxLen int64         // cap of the rejected-input store
	MaxCommit      int           // events (and failure records) per group commit
	Committers     int           // group commits in flight at once
	RetryAfter     time.Duration // Retry-After of 503 answers
	// WaitReplicas > 0 answers an event accepted only once WAIT has confirmed its append on
	// that many replicas of its master, within WaitTimeout (else it is unconfirmed: 503, may
	// be stored). An asynchronous replica promoted by a failover lacks what it had not
	// received yet: with WaitReplicas ≥ 1, nothing an answer called stored is among it.
	WaitReplicas int
	WaitTimeout  time.Duration

	Logger  *slog.Logger          // nil: slog.Default() when New runs
	Metrics prometheus.Registerer // receives the ingest metrics; nil: not registered anywhere
}

// DefaultConfig is the ingest role's defaults.
func DefaultConfig() Config {
	return Config{
		Layout:         events.DefaultLayout(),
		DedupeTTL:      time.Hour,
		MaxBody:        1 << 20,
		MaxBatch:       1000,
		MaxFuture:      events.DefaultMaxFuture,
		MaxTypes:       1000,
		MaxBacklog:     1_000_000,
		RejectedMaxLen: failures.DefaultMaxLen,
		MaxCommit:      4096,
		Committers:     2,
		RetryAfter:     time.Second,
		WaitTimeout:    time.Second,
	}
}

// withDefaults fills the zero fields and checks the result.
func (c Config) withDefaults() (Config, error) {
	c.Logger = cmp.Or(c.Logger, slog.Default())
	if err := mergo.Merge(&c, DefaultConfig()); err != nil {
		return c, err
	}
	var errs []error
	if err := c.Layout.Check(); err != nil {
		errs = append(errs, err)
	}
	if c.DedupeTTL < time.Second {
		errs = append(errs, errors.New("dedupe TTL must be ≥ 1s"))
	}
	if c.MaxBody < 1024 {
		errs = append(errs, errors.New("max body must be ≥ 1 KiB"))
	}
	if c.MaxBatch < 1 || c.MaxCommit < 1 || c.Committers < 1 || c.RejectedMaxLen < 1 {
		errs = append(errs, errors.New("max batch, max commit, committers and rejected max len must be ≥ 1"))
	}
	if c.WaitReplicas < 0 || c.WaitTimeout < time.Millisecond {
		errs = append(errs, errors.New("wait replicas must not be negative, and wait timeout ≥ 1ms"))
	}
	if c.MaxFuture < 0 || c.RetryAfter < 0 {
		errs = append(errs, errors.New("max future and retry after must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("ingest config: %w", err)
	}
	return c, nil
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
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m := newMetrics(cfg.Metrics)
	w := newWriter(rdb, cfg, m)
	return &Ingest{w: w, h: newHandler(w, cfg, m)}, nil
}

// Run commits what requests queue until ctx ends, then what is still queued (see Writer.Run).
func (in *Ingest) Run(ctx context.Context) error { return in.w.Run(ctx) }

// Mount adds the routes to r (see Handler.Mount).
func (in *Ingest) Mount(r gin.IRoutes) { in.h.Mount(r) }

// Replay appends events replayed from the archive as they were (ids, times, receive times),
// marked events.OriginArchive so that the archiver does not write them again. Their ids' dedupe
// keys make a repeated replay append nothing new within the dedupe horizon. It returns how many
// events were appended and how many were duplicates; err is the first failure (those events
// may or may not be stored: replaying them again is safe).
func (in *Ingest) Replay(ctx context.Context, evs []events.Event) (appended, duplicates int, err error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	cfg := in.w.cfg
	j := &job{done: make(chan struct{}, 1), items: make([]item, len(evs))}
	for i, e := range evs {
		it := &j.items[i]
		it.ev, it.ev.Origin = e, events.OriginArchive
		it.part = cfg.Layout.Partition(e.Type, e.Subject)
		it.key = cfg.Layout.DedupeKey(it.part, e.Type, e.Subject, e.ID)
	}
	if err := in.w.submit(j); err != nil {
		return 0, 0, err
	}
	for i := range j.items {
		switch it := &j.items[i]; it.status {
		case accepted:
			appended++
		case duplicate:
			duplicates++
		default:
			if err == nil {
				err = it.err
			}
		}
	}
	return appended, duplicates, err
}
