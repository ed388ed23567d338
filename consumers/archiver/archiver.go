// Package archiver is the archiver stage: a third consumer group that writes every event,
// exactly once, into the archive's Parquet files (internal/archive), by event hour.
//
// Exactly once, whatever fails. Per partition one process at a time holds a lease and reads
// the stream as the group's single consumer. Entries gather in memory into a roll; when the
// roll is due (PULSE_ARCHIVE_ROLL, or its size) every event hour of it becomes one file named
// "<partition>-<first id>-<last id>.parquet" after the roll's span of stream ids. A file is
// written under a temporary name, made durable, and only then renamed (a bucket: its upload
// completed); once every file of the roll is there, the roll's entries are acknowledged. A
// crash anywhere leaves the entries not acknowledged: the next holder reads them again as
// pending entries and keeps out of its roll each one that some file already holds: a file of
// the entry's hour and partition whose span holds the entry's id (a roll's file holds every
// entry of its hour and span that no earlier file holds). Nothing is lost, nothing is written
// twice.
package archiver

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/pulsehq/pulse/consumers"
	"github.com/pulsehq/pulse/internal/archive"
	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/failures"
)

//go:embed lease.lua
var leaseSrc string

var leaseScript = redis.NewScript(leaseSrc)

// consumer is the group's only consumer name: the lease, not the name, says who reads, so a
// new holder finds the pending entries of the last one under its own name.
const consumer = "archiver"

// errLeaseLost ends a holder's turn: what it has read but not committed is dropped, and the
// next holder takes it from the pending entries.
var errLeaseLost = errors.New("archive lease lost")

// Archiver writes the archive of every partition whose lease it holds.
type Archiver struct {
	rdb   redis.UniversalClient
	cfg   Config
	log   *slog.Logger
	m     *metrics
	token string
	first atomic.Bool // holds partition 0: lists the archive for the stats
	wrote atomic.Bool // wrote files since the last listing
}

// New checks cfg and returns an Archiver.
func New(rdb redis.UniversalClient, cfg Config) (*Archiver, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("archiver config: %w", err)
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	host, _ := os.Hostname()
	return &Archiver{
		rdb: rdb, cfg: cfg, m: newMetrics(cfg.Metrics),
		log:   cfg.Logger.With("stage", events.GroupArchiver),
		token: host + "/" + hex.EncodeToString(b),
	}, nil
}

// Run archives until ctx ends: then each held partition commits what it has read, acknowledges
// it and gives its lease up, so that another process takes over at once.
func (a *Archiver) Run(ctx context.Context) error {
	eg, ctx := errgroup.WithContext(ctx)
	for p := range a.cfg.Layout.Partitions {
		eg.Go(func() error { a.partition(ctx, p); return nil })
	}
	eg.Go(func() error { a.publishStats(ctx); return nil })
	return eg.Wait()
}

func (a *Archiver) leaseKey(p int) string { return a.cfg.Layout.Prefix(p) + "archiver:lease" }

// lease runs lease.lua in mode.
func (a *Archiver) lease(ctx context.Context, p int, mode string) (bool, error) {
	n, err := leaseScript.Run(ctx, a.rdb, []string{a.leaseKey(p)}, a.token, mode, a.cfg.Lease.Milliseconds()).Int()
	return n == 1, err
}

// partition takes partition p's lease whenever it is free and archives p while holding it.
func (a *Archiver) partition(ctx context.Context, p int) {
	for ctx.Err() == nil {
		held, err := a.lease(ctx, p, "take")
		if err != nil || !held {
			consumers.Sleep(ctx, a.cfg.Lease/3)
			continue
		}
		a.m.leases.Inc()
		if p == 0 {
			a.first.Store(true)
		}
		h := &holder{a: a, p: p, stream: a.cfg.Layout.Stream(p), renewed: time.Now()}
		err = h.run(ctx)
		a.m.leases.Dec()
		if p == 0 {
			a.first.Store(false)
		}
		a.m.buffered.Sub(float64(len(h.roll.ids)))
		if ctx.Err() != nil {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			_, _ = a.lease(dctx, p, "drop")
			cancel()
			return
		}
		a.log.Warn("archiving paused", "partition", p, "err", err)
		consumers.Sleep(ctx, time.Second)
	}
}

// holder archives one partition during one lease.
type holder struct {
	a       *Archiver
	p       int
	stream  string
	renewed time.Time // last renewal of the lease
	roll    roll
	// files is, during the pending pass, the spans of the files of each event hour, as listed
	// when first needed.
	files map[int64][]archive.Span
	// touched are the event hours this holder may have to compact (compact.go).
	touched   map[int64]bool
	compacted time.Time // last compaction pass
}

func (h *holder) run(ctx context.Context) error {
	a := h.a
	if err := a.cfg.Store.CleanStaging(archive.FilePrefix(h.p)); err != nil {
		return fmt.Errorf("clean staging: %w", err)
	}
	if err := h.ensureGroup(ctx); err != nil {
		return err
	}
	// The pending pass: entries read before, by this or another process, and not acknowledged.
	h.files = map[int64][]archive.Span{}
	for cursor := "0"; ctx.Err() == nil; {
		msgs, err := h.read(ctx, cursor, -1)
		if err != nil {
			return err
		}
		if len(msgs) == 0 {
			break
		}
		cursor = msgs[len(msgs)-1].ID
		if err := h.add(ctx, msgs, true); err != nil {
			return err
		}
	}
	h.files = nil
	h.touched = recentHours(time.Now())
	for ctx.Err() == nil {
		if time.Since(h.renewed) >= a.cfg.Lease/10 {
			if err := h.renew(ctx); err != nil {
				return err
			}
		}
		// Compaction needs an empty roll: then every entry read so far is in a file.
		if len(h.roll.ids) == 0 && time.Since(h.compacted) >= a.cfg.Roll {
			if err := h.compact(ctx); err != nil {
				if errors.Is(err, errLeaseLost) {
					return err
				}
				if ctx.Err() == nil {
					a.log.Warn("archive compaction failed; retrying later", "partition", h.p, "err", err)
				}
			}
			h.compacted = time.Now()
		}
		if h.roll.due(a.cfg, time.Now()) {
			if err := h.commit(ctx); err != nil {
				if errors.Is(err, errLeaseLost) {
					return err
				}
				a.log.Warn("archive commit failed; retrying", "partition", h.p, "err", err)
				consumers.Sleep(ctx, time.Second)
				continue
			}
		}
		block := a.cfg.Block
		if len(h.roll.ids) > 0 {
			block = max(min(block, time.Until(h.roll.started.Add(a.cfg.Roll))), time.Millisecond)
		}
		msgs, err := h.read(ctx, ">", block)
		if err != nil {
			if ctx.Err() == nil {
				a.log.Warn("archive read failed; retrying", "partition", h.p, "err", err)
				consumers.Sleep(ctx, time.Second)
			}
			continue
		}
		if err := h.add(ctx, msgs, false); err != nil {
			return err
		}
	}
	// Stopping: commit what was read, so a restart has nothing to redo.
	if len(h.roll.ids) > 0 {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.Lease/2)
		defer cancel()
		return h.commit(cctx)
	}
	return nil
}

// renew extends the lease; errLeaseLost if it is no longer held.
func (h *holder) renew(ctx context.Context) error {
	ok, err := h.a.lease(ctx, h.p, "renew")
	switch {
	case err != nil && time.Since(h.renewed) > h.a.cfg.Lease/2:
		// Redis has not answered for half a lease: by the time it does, the lease may have
		// expired and another holder begun.
		return fmt.Errorf("%w: %w", errLeaseLost, err)
	case err != nil:
		return nil
	case !ok:
		return errLeaseLost
	}
	h.renewed = time.Now()
	return nil
}

func (h *holder) ensureGroup(ctx context.Context) error {
	err := h.a.rdb.XGroupCreateMkStream(ctx, h.stream, events.GroupArchiver, "0").Err()
	if err != nil && !redis.HasErrorPrefix(err, "BUSYGROUP") {
		return fmt.Errorf("create group: %w", err)
	}
	return nil
}

// read reads the group's entries after id ("0": pending ones; ">": new ones).
func (h *holder) read(ctx context.Context, id string, block time.Duration) ([]redis.XMessage, error) {
	res, err := h.a.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: events.GroupArchiver, Consumer: consumer, Streams: []string{h.stream, id},
		Count: int64(h.a.cfg.Count), Block: block,
	}).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, nil
	case err != nil && redis.HasErrorPrefix(err, "NOGROUP"):
		// The stream was deleted (Redis lost its data): start over on the new one.
		return nil, errors.Join(h.ensureGroup(ctx), errors.New("consumer group was missing"))
	case err != nil:
		return nil, fmt.Errorf("xreadgroup %s: %w", h.stream, err)
	}
	if len(res) == 0 {
		return nil, nil
	}
	return res[0].Messages, nil
}

// add puts msgs into the roll. On the pending pass, entries a file already holds are
// acknowledged instead.
func (h *holder) add(ctx context.Context, msgs []redis.XMessage, pending bool) error {
	var ack []string
	var dead []events.Failure
	for _, m := range msgs {
		id, err := archive.ParseID(m.ID)
		if err != nil {
			return err
		}
		if m.Values == nil { // deleted while pending: nothing left to archive
			ack = append(ack, m.ID)
			continue
		}
		ev, err := events.FromValues(m.Values)
		if err != nil {
			dead = append(dead, events.Failure{
				Stage: events.GroupArchiver, Reason: err.Error(), At: time.Now().UnixMilli(),
				Stream: h.stream, EntryID: m.ID, Record: failures.RecordOf(m.Values),
			})
			ack = append(ack, m.ID)
			continue
		}
		hour := archive.HourOf(ev.Time)
		if pending {
			in, err := h.inFile(ctx, hour, id)
			if err != nil {
				return err
			}
			if in {
				h.a.m.skipped.WithLabelValues("committed").Inc()
				ack = append(ack, m.ID)
				continue
			}
		}
		h.roll.add(id, m.ID, hour, ev)
		h.a.m.buffered.Inc()
	}
	if len(dead) > 0 {
		if _, err := failures.DeadLetter(ctx, h.a.rdb, dead, h.a.cfg.FailedMaxLen); err != nil {
			return fmt.Errorf("dead-letter malformed entries: %w", err)
		}
		h.a.log.Warn("malformed entries sent to the failure stream", "partition", h.p, "entries", len(dead))
	}
	if len(ack) > 0 {
		if err := h.a.rdb.XAck(ctx, h.stream, events.GroupArchiver, ack...).Err(); err != nil {
			return fmt.Errorf("xack: %w", err)
		}
	}
	return nil
}

// inFile reports whether some file of hour holds entry id of this partition.
func (h *holder) inFile(ctx context.Context, hour int64, id archive.ID) (bool, error) {
	spans, ok := h.files[hour]
	if !ok {
		files, err := h.a.cfg.Store.Files(ctx, archive.HourPrefix(hour)+archive.FilePrefix(h.p))
		if err != nil {
			return false, err
		}
		spans = []archive.Span{}
		for _, f := range files {
			if f.Partition == h.p {
				spans = append(spans, f.Span)
			}
		}
		h.files[hour] = spans
	}
	return slices.ContainsFunc(spans, func(s archive.Span) bool { return s.Contains(id) }), nil
}
