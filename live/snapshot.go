package live

import (
	"context"
	"sync"
	"time"
)

// snapshotter reads the snapshots subscriptions wait for, coalesced: the subscriptions of one
// type that wait at the same time share one Source.Windows read (of at most SnapshotBatch
// distinct subjects), and at most SnapshotReads reads run at once. Requests that arrive while
// every read slot is busy wait for the next batch, so a thousand clients subscribing at once,
// or a resync of every subscription, cost a handful of reads instead of a read each.
//
// A subscription is in the queue or in a read at most once (snapReading or snapStale meanwhile), so the
// queue is bounded by the subscriptions. Lock order: snapshotter.mu, then client.mu.
type snapshotter struct {
	h    *Hub
	wake chan struct{}

	mu     sync.Mutex
	byType map[string][]snapRequest
	order  []string // types with waiting requests, the longest waiting first
}

type snapRequest struct {
	sub   *subscription
	asked time.Time
}

// snapBatch is one read: subs of typ, and the union of their subjects.
type snapBatch struct {
	typ      string
	reqs     []snapRequest
	subjects []string
}

// snapRead is a read's outcome, shared read-only by the subscriptions of its batch.
type snapRead struct {
	snap Snapshot
	err  error
}

func newSnapshotter(h *Hub) *snapshotter {
	return &snapshotter{h: h, wake: make(chan struct{}, 1), byType: make(map[string][]snapRequest)}
}

// ask queues subscriptions for a read. The client's writer calls it without holding client.mu.
func (s *snapshotter) ask(subs []*subscription, now time.Time) {
	s.mu.Lock()
	for _, sub := range subs {
		q, ok := s.byType[sub.typ]
		if !ok {
			s.order = append(s.order, sub.typ)
		}
		s.byType[sub.typ] = append(q, snapRequest{sub, now})
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// run reads batches until ctx ends, at most SnapshotReads at a time.
func (s *snapshotter) run(ctx context.Context) {
	slots := make(chan struct{}, s.h.cfg.SnapshotReads)
	var reads sync.WaitGroup
	defer reads.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		}
		for {
			// A slot first, then the batch: what is asked while every slot is busy joins it.
			select {
			case <-ctx.Done():
				return
			case slots <- struct{}{}:
			}
			b := s.next()
			if b == nil {
				<-slots
				break
			}
			reads.Go(func() {
				defer func() { <-slots }()
				s.read(ctx, b)
			})
		}
	}
}

// next takes the batch of the type that has waited longest (nil: nothing waits). A type with
// more than one batch waiting goes to the back, so that a busy type does not starve others.
func (s *snapshotter) next() *snapBatch {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.order) > 0 {
		typ := s.order[0]
		s.order = s.order[1:]
		q := s.byType[typ]
		b := &snapBatch{typ: typ}
		seen := make(map[string]struct{})
		taken := 0
		for _, r := range q {
			if len(b.reqs) > 0 && len(seen)+len(r.sub.subjects) > s.h.cfg.SnapshotBatch {
				break // whole subscriptions only: each snapshot comes from one read
			}
			taken++
			if r.sub.isRemoved() {
				continue
			}
			b.reqs = append(b.reqs, r)
			for _, st := range r.sub.subjects {
				if _, ok := seen[st.name]; !ok {
					seen[st.name] = struct{}{}
					b.subjects = append(b.subjects, st.name)
				}
			}
		}
		clear(q[:taken])
		if q = q[taken:]; len(q) > 0 {
			s.byType[typ] = q
			s.order = append(s.order, typ)
		} else {
			delete(s.byType, typ)
		}
		if len(b.reqs) > 0 {
			return b
		}
	}
	return nil
}

// read reads one batch and hands the outcome to its subscriptions' writers, which merge it
// (or retry) when they send the snapshot.
func (s *snapshotter) read(ctx context.Context, b *snapBatch) {
	h := s.h
	start := time.Now()
	qctx, cancel := context.WithTimeout(ctx, h.cfg.QueryTimeout)
	snap, err := h.src.Windows(qctx, b.typ, b.subjects)
	cancel()
	end := time.Now()
	h.m.snapshot.Observe(end.Sub(start).Seconds())
	if err != nil && ctx.Err() == nil {
		h.m.queryErrors.Inc()
		h.log.Warn("live: read snapshot", "type", b.typ, "subscriptions", len(b.reqs), "subjects", len(b.subjects), "err", err)
	}
	res := &snapRead{snap: snap, err: err}
	for _, r := range b.reqs {
		h.m.snapshotWait.Observe(end.Sub(r.asked).Seconds())
		r.sub.c.offerSnapshot(r.sub, res)
	}
}
