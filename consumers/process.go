package consumers

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/failures"
)

//go:embed deadack.lua
var deadAckSrc string

var deadAckScript = redis.NewScript(deadAckSrc)

// Backoff of transient retries.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// deadEntry is an entry on its way to the failure stream.
type deadEntry struct {
	Entry
	reason string
}

// process settles msgs: each one ends acknowledged (with its effect), dead-lettered, or left
// pending for a retry. redelivered says that the delivery counts must be looked up (own
// pending entries and reclaimed ones); new entries are on their first delivery.
func (g *Group) process(ctx context.Context, r *reader, msgs []redis.XMessage, redelivered bool) error {
	var gone []string
	entries := make([]Entry, 0, len(msgs))
	for _, m := range msgs {
		if m.Values == nil { // deleted from the stream while pending: nothing left to apply
			gone = append(gone, m.ID)
			continue
		}
		entries = append(entries, Entry{ID: m.ID, Values: m.Values, Deliveries: 1})
	}
	if len(gone) > 0 {
		if err := g.rdb.XAck(ctx, r.stream, g.cfg.Group, gone...).Err(); err != nil {
			return fmt.Errorf("xack deleted entries: %w", err)
		}
	}
	if len(entries) == 0 {
		return nil
	}
	if redelivered {
		if err := g.deliveries(ctx, r, entries); err != nil {
			return err
		}
	}
	return g.handle(ctx, r, entries)
}

// handle runs the handler over entries, retrying transient failures in place with backoff.
func (g *Group) handle(ctx context.Context, r *reader, entries []Entry) error {
	backoff := minBackoff
	for len(entries) > 0 {
		b := newBatch(r.p, r.stream, g.cfg.Group, entries)
		start := time.Now()
		err := g.call(ctx, b)
		g.metrics.batch.Observe(time.Since(start).Seconds())
		if ctx.Err() != nil {
			// Shutting down: a cancelled attempt is no verdict on the entries. Whatever was not
			// acknowledged stays pending and is replayed by the next run.
			return nil
		}
		if len(entries) > 1 && err != nil && !errors.Is(err, ErrTransient) && !errors.Is(err, ErrSkipRetry) {
			// The batch failed as a whole (an error or a panic, not per entry): one bad entry
			// must not fail the others, so each is tried alone, within this same delivery.
			for _, e := range entries {
				if err := g.handle(ctx, r, []Entry{e}); err != nil {
					return err
				}
			}
			return nil
		}
		v := classify(b, err, g.cfg.MaxDeliveries)
		m := g.metrics.handled
		m.WithLabelValues("ok").Add(float64(len(b.Entries) - len(v.retry) - len(v.dead) - v.failed))
		m.WithLabelValues("failed").Add(float64(v.failed + len(v.dead)))
		m.WithLabelValues("transient").Add(float64(len(v.retry)))
		if len(v.ack) > 0 {
			if err := g.rdb.XAck(ctx, r.stream, g.cfg.Group, v.ack...).Err(); err != nil {
				return fmt.Errorf("xack: %w", err) // still pending: redelivered, effects are idempotent
			}
		}
		if err := g.deadLetter(ctx, r, v.dead); err != nil {
			return err
		}
		if v.failed > 0 {
			g.log.Warn("entries failed; they stay pending for a retry", "partition", r.p, "entries", v.failed, "err", firstErr(b, err))
			if r.retryAt.IsZero() {
				r.retryAt = time.Now().Add(g.cfg.RetryDelay)
			}
		}
		if len(v.retry) == 0 {
			return nil
		}
		g.log.Warn("transient failure; retrying", "partition", r.p, "entries", len(v.retry), "backoff", backoff, "err", firstErr(b, err))
		Sleep(ctx, backoff)
		if ctx.Err() != nil {
			return nil
		}
		backoff = min(2*backoff, maxBackoff)
		entries = g.keepClaimed(ctx, r, v.retry)
	}
	return nil
}

// verdict sorts a handled batch's entries by what happens to them next.
type verdict struct {
	ack    []string    // done: acknowledge (unless the handler acknowledged them itself)
	dead   []deadEntry // failed for good: dead-letter
	retry  []Entry     // failed transiently: retry now, within this delivery
	failed int         // failed: left pending, retried after RetryDelay or redelivered
}

// classify reads each entry's outcome: its own error, else the batch's err.
func classify(b *Batch, err error, maxDeliveries int) verdict {
	var v verdict
	for i, e := range b.Entries {
		eerr := b.errs[i]
		if eerr == nil {
			eerr = err
		}
		switch {
		case eerr == nil:
			if !b.acked {
				v.ack = append(v.ack, e.ID)
			}
		case errors.Is(eerr, ErrTransient):
			v.retry = append(v.retry, e)
		case errors.Is(eerr, ErrSkipRetry) || e.Deliveries >= int64(maxDeliveries):
			v.dead = append(v.dead, deadEntry{e, reason(eerr, e.Deliveries)})
		default:
			v.failed++
		}
	}
	return v
}

// call runs the handler, turning a panic into an error of the batch: an entry that crashes
// the handler fails like any other and reaches the failure stream after MaxDeliveries,
// instead of taking the process down again on every redelivery.
func (g *Group) call(ctx context.Context, b *Batch) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panic: %v", p)
			g.log.Error("handler panicked", "partition", b.Partition, "panic", p, "stack", string(debug.Stack()))
		}
	}()
	return g.h.Handle(ctx, b)
}

// keepClaimed re-claims entries being retried after a transient failure: it resets their idle
// time (so that no other consumer reclaims them while this one waits) without counting a
// delivery (JUSTID), and drops those no longer pending (acknowledged elsewhere).
func (g *Group) keepClaimed(ctx context.Context, r *reader, entries []Entry) []Entry {
	ids := make([]string, len(entries))
	for i, e := range entries {
		ids[i] = e.ID
	}
	claimed, err := g.rdb.XClaimJustID(ctx, &redis.XClaimArgs{
		Stream: r.stream, Group: g.cfg.Group, Consumer: g.cfg.Consumer, Messages: ids,
	}).Result()
	if err != nil {
		return entries // Redis is down too: try the handler again, it will tell
	}
	still := make(map[string]bool, len(claimed))
	for _, id := range claimed {
		still[id] = true
	}
	kept := entries[:0]
	for _, e := range entries {
		if still[e.ID] {
			kept = append(kept, e)
		}
	}
	return kept
}

// deliveries fills in the delivery counts of entries that this consumer holds (XPENDING).
// Entries no longer found were taken over by another consumer meanwhile; they keep count 1.
func (g *Group) deliveries(ctx context.Context, r *reader, entries []Entry) error {
	want := make(map[string]int, len(entries))
	lo, hi := entries[0].ID, entries[0].ID
	for i, e := range entries {
		want[e.ID] = i
		if lessID(e.ID, lo) {
			lo = e.ID
		}
		if lessID(hi, e.ID) {
			hi = e.ID
		}
	}
	for start := lo; len(want) > 0; {
		page := int64(len(want) + 64)
		pe, err := g.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{
			Stream: r.stream, Group: g.cfg.Group, Start: start, End: hi, Count: page, Consumer: g.cfg.Consumer,
		}).Result()
		if err != nil {
			return fmt.Errorf("xpending %s: %w", r.stream, err)
		}
		for _, x := range pe {
			if i, ok := want[x.ID]; ok {
				entries[i].Deliveries = x.RetryCount
				delete(want, x.ID)
			}
		}
		if int64(len(pe)) < page {
			break
		}
		start = "(" + pe[len(pe)-1].ID
	}
	return nil
}

// deadLetter appends entries to the dead-letter store, then acknowledges them. An entry that
// another consumer acknowledged in between (it took effect there) gets its record removed.
// Should the acknowledgement fail, the entries stay pending and are dead-lettered again
// later: a record can be duplicated, never lost, and replay counts each entry once. Entries the
// store refuses (full) stay pending and are tried again after RetryDelay.
func (g *Group) deadLetter(ctx context.Context, r *reader, dead []deadEntry) error {
	if len(dead) == 0 {
		return nil
	}
	at := time.Now().UnixMilli()
	fs := make([]events.Failure, len(dead))
	for i, d := range dead {
		fs[i] = events.Failure{
			Stage: g.cfg.Stage, Reason: d.reason, At: at, Stream: r.stream, EntryID: d.ID,
			Record: failures.RecordOf(d.Values),
		}
	}
	recs, err := failures.DeadLetter(ctx, g.rdb, fs, g.cfg.FailedMaxLen)
	if err != nil && !errors.Is(err, failures.ErrFull) {
		return err
	}
	g.storeFull(r, len(dead)-countSet(recs), err)
	var ids, stored []string
	for i, d := range dead {
		if recs[i] != "" {
			ids, stored = append(ids, d.ID), append(stored, recs[i])
		}
	}
	if len(ids) == 0 {
		return nil
	}
	acked, err := g.ackDead(ctx, r, ids)
	if err != nil {
		return fmt.Errorf("ack dead-lettered entries: %w", err)
	}
	var undo []string
	for i, ok := range acked {
		if !ok {
			undo = append(undo, stored[i])
		}
	}
	if len(undo) > 0 {
		if err := g.rdb.XDel(ctx, events.FailedStream, undo...).Err(); err != nil {
			return fmt.Errorf("remove failure records of applied entries: %w", err)
		}
	}
	n := len(ids) - len(undo)
	g.metrics.deadLettered.Add(float64(n))
	if n > 0 {
		g.log.Warn("entries sent to the failure stream", "partition", r.p, "entries", n, "reason", dead[0].reason)
	}
	return nil
}

// storeFull reports entries the dead-letter store refused: an alarm (logged when the store
// fills and when it takes records again, counted always); the entries are retried later.
func (g *Group) storeFull(r *reader, refused int, err error) {
	if refused == 0 {
		if g.full.CompareAndSwap(true, false) {
			g.log.Info("the dead-letter store takes records again")
		}
		return
	}
	g.metrics.deadRefused.Add(float64(refused))
	if g.full.CompareAndSwap(false, true) {
		g.log.Error("dead-letter store full: failing entries stay pending until failures are replayed (PULSE_FAILED_MAX_LEN)",
			"partition", r.p, "entries", refused, "err", err)
	}
	if r.retryAt.IsZero() {
		r.retryAt = time.Now().Add(g.cfg.RetryDelay)
	}
}

func countSet(ss []string) int {
	n := 0
	for _, s := range ss {
		if s != "" {
			n++
		}
	}
	return n
}

// ackDead acknowledges dead-lettered entries and leaves their markers (deadack.lua); it reports
// per id whether the entry is dead-lettered (true) or took effect elsewhere (false).
func (g *Group) ackDead(ctx context.Context, r *reader, ids []string) ([]bool, error) {
	keys := make([]string, 0, 1+len(ids))
	keys = append(keys, r.stream)
	args := make([]any, 0, 2+len(ids))
	args = append(args, g.cfg.Group, int64(max(g.cfg.DeadMarkerTTL, 0)/time.Second))
	for _, id := range ids {
		keys = append(keys, DeadMarker(r.stream, g.cfg.Group, id))
		args = append(args, id)
	}
	res, err := deadAckScript.Run(ctx, g.rdb, keys, args...).Int64Slice()
	if err != nil {
		return nil, err
	}
	out := make([]bool, len(ids))
	for i := range out {
		out[i] = i < len(res) && res[i] == 1
	}
	return out, nil
}

// DeadMarker is the key marking entry id of stream as dead-lettered by group. It carries the
// stream's hash tag (a stream without one is wrapped in braces, whose slot is the stream's),
// so the marker and the stream share a cluster slot.
func DeadMarker(stream, group, id string) string {
	if i := strings.IndexByte(stream, '{'); i < 0 || !strings.Contains(stream[i+1:], "}") || stream[i+1] == '}' {
		stream = "{" + stream + "}"
	}
	return stream + ":dead:" + group + ":" + id
}

// reason is the failure record's reason, bounded: it is stored once per dead entry.
func reason(err error, deliveries int64) string {
	s := err.Error()
	if !errors.Is(err, ErrSkipRetry) {
		s = fmt.Sprintf("failed %d times: %s", deliveries, s)
	}
	if len(s) > 1000 {
		s = s[:1000] + "…"
	}
	return s
}

func firstErr(b *Batch, err error) error {
	for _, e := range b.errs {
		if e != nil {
			return e
		}
	}
	return err
}

// lessID orders stream ids ("ms-seq") numerically.
func lessID(a, b string) bool {
	am, as := splitID(a)
	bm, bs := splitID(b)
	if am != bm {
		return am < bm
	}
	return as < bs
}

func splitID(id string) (ms, seq uint64) {
	i := 0
	for i < len(id) && id[i] != '-' {
		ms = ms*10 + uint64(id[i]-'0')
		i++
	}
	for i++; i < len(id); i++ {
		seq = seq*10 + uint64(id[i]-'0')
	}
	return ms, seq
}
