package archiver

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/pulsehq/pulse/internal/archive"
	"github.com/pulsehq/pulse/internal/events"
)

// roll is what a holder has read and not yet committed: the next files of its partition.
type roll struct {
	span    archive.Span
	ids     []string // every entry the commit acknowledges, in stream order
	hours   map[int64][]archive.Row
	done    map[int64]bool // hours whose file exists: a retried commit does not write them again
	bytes   int
	started time.Time
}

func (r *roll) add(id archive.ID, raw string, hour int64, ev events.Event) {
	if len(r.ids) == 0 {
		r.span.First, r.started = id, time.Now()
		r.hours, r.done = map[int64][]archive.Row{}, map[int64]bool{}
	}
	r.span.Last = id
	r.ids = append(r.ids, raw)
	if ev.Origin == events.OriginArchive {
		return // replayed from the archive, which holds it already
	}
	row := archive.RowOf(ev)
	r.hours[hour] = append(r.hours[hour], row)
	r.bytes += row.Size()
}

// due reports whether the roll must be committed now.
func (r *roll) due(cfg Config, now time.Time) bool {
	return len(r.ids) > 0 && (r.bytes >= cfg.RollBytes || !now.Before(r.started.Add(cfg.Roll)) || len(r.ids) >= maxRollEntries)
}

// maxRollEntries bounds a roll of replayed entries, which hold no bytes.
const maxRollEntries = 1_000_000

// commit writes the roll's files, then acknowledges its entries. The lease is renewed before
// each file so that no other holder can have begun while a file is renamed into place (unless
// this process stalls for more than half a lease between the two: docs/archive.md).
func (h *holder) commit(ctx context.Context) error {
	a, r := h.a, &h.roll
	start := time.Now()
	crash := func(step string) {
		if a.cfg.Crash != nil {
			a.cfg.Crash(step, h.p)
		}
	}
	for _, hour := range slices.Sorted(maps.Keys(r.hours)) {
		if r.done[hour] {
			continue
		}
		if err := h.holding(ctx); err != nil {
			return err
		}
		rows := r.hours[hour]
		key := archive.Key(hour, h.p, r.span)
		pctx, cancel := context.WithTimeout(ctx, a.cfg.Lease/2)
		var size int64
		err := a.cfg.Store.Put(pctx, key, func(w io.Writer) error {
			cw := &countWriter{w: w}
			if err := archive.WriteRows(cw, rows); err != nil {
				return err
			}
			size = cw.n
			crash("staged")
			return nil
		})
		cancel()
		if err != nil {
			return err
		}
		crash("put")
		r.done[hour] = true
		h.touched[hour] = true
		a.wrote.Store(true)
		a.m.files.Inc()
		a.m.rows.Add(float64(len(rows)))
		a.m.bytes.Add(float64(size))
	}
	crash("ack")
	for ids := range slices.Chunk(r.ids, 1000) {
		if err := a.rdb.XAck(ctx, h.stream, events.GroupArchiver, ids...).Err(); err != nil {
			return fmt.Errorf("xack: %w", err)
		}
	}
	crash("acked")
	a.m.skipped.WithLabelValues("replayed").Add(float64(len(r.ids) - r.rows()))
	a.m.buffered.Sub(float64(len(r.ids)))
	a.m.commit.Observe(time.Since(start).Seconds())
	*r = roll{}
	return nil
}

// holding renews the lease right before a file is put in place, and fails unless it was renewed
// within a quarter lease: no other holder can have begun since.
func (h *holder) holding(ctx context.Context) error {
	if err := h.renew(ctx); err != nil {
		return err
	}
	if time.Since(h.renewed) > h.a.cfg.Lease/4 {
		return fmt.Errorf("%w: redis did not renew it", errLeaseLost)
	}
	return nil
}

func (r *roll) rows() int {
	n := 0
	for _, rows := range r.hours {
		n += len(rows)
	}
	return n
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
