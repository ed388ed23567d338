package indexer

import (
	"context"
	"errors"
	"time"

	"github.com/pulsehq/pulse/internal/search"
)

// batcher gathers the documents of every partition's handler into few large engine calls:
// it flushes when max documents are waiting, when wait has passed since the first one arrived,
// or when every reader that can still submit is waiting on it (no more documents can come). A
// handler blocks until its documents' batch is settled, so it acknowledges only what the
// engine took; meanwhile its partition is not read, which is why waiting for a full window
// would only add latency.
//
// Up to inFlight batches are in the engine at once: an embedded engine builds one batch's
// segment while it syncs the previous one to disk, which indexed 15–40% more events per second
// than one batch at a time (BenchmarkBleve). Batches in flight may hold the same document (a
// redelivery); either write is the same document.
type batcher struct {
	engine  search.Engine
	max     int
	wait    time.Duration
	readers int // handlers that can submit at once: one per stream
	in      chan *request
	metrics *metrics
}

// inFlight is the most batches in the engine at once.
const inFlight = 2

// request is one handler's documents. The batcher fills errs (per document: nil, or why the
// engine rejected it for good) or err (the engine failed: every document is to be retried),
// then closes done.
type request struct {
	docs []search.Doc
	errs []error
	err  error
	done chan struct{}
}

func newBatcher(e search.Engine, maxDocs int, wait time.Duration, readers int, m *metrics) *batcher {
	return &batcher{engine: e, max: maxDocs, wait: wait, readers: readers, in: make(chan *request), metrics: m}
}

// submit hands docs to the batch being built and waits for its outcome.
func (b *batcher) submit(ctx context.Context, docs []search.Doc) (*request, error) {
	r := &request{docs: docs, errs: make([]error, len(docs)), done: make(chan struct{})}
	select {
	case b.in <- r:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case <-r.done:
		return r, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// run builds and flushes batches until ctx ends, and returns once no flush is in flight.
func (b *batcher) run(ctx context.Context) error {
	var (
		pending  []*request
		n        int
		due      bool // wait has passed since pending's first document came
		flushing int  // batches in the engine
		blocked  int  // requests in those batches: their readers cannot submit
		settled  = make(chan int, inFlight)
		timer    = time.NewTimer(time.Hour)
		expired  <-chan time.Time
	)
	timer.Stop()
	defer timer.Stop()
	defer func() {
		for ; flushing > 0; flushing-- {
			<-settled
		}
	}()
	for {
		full := n >= b.max || len(pending) > 0 && len(pending) >= b.readers-blocked
		if len(pending) > 0 && (full || due) && flushing < inFlight {
			timer.Stop()
			expired, due = nil, false
			flushing++
			blocked += len(pending)
			go func(reqs []*request, n int) {
				b.flush(ctx, reqs, n)
				settled <- len(reqs)
			}(pending, n)
			pending, n = nil, 0
			continue
		}
		in := b.in
		if full { // the batch waits for a flush to end: take no more into it
			in = nil
		}
		select {
		case <-ctx.Done():
			return nil // waiting handlers see ctx too; their entries stay pending
		case r := <-in:
			if len(pending) == 0 {
				timer.Reset(b.wait)
				expired = timer.C
			}
			pending = append(pending, r)
			n += len(r.docs)
		case <-expired:
			expired, due = nil, true
		case k := <-settled:
			flushing--
			blocked -= k
		}
	}
}

// flush indexes the documents of reqs in one call and settles every request.
func (b *batcher) flush(ctx context.Context, reqs []*request, n int) {
	docs := make([]search.Doc, 0, n)
	errs := make([]error, n)
	for _, r := range reqs {
		docs = append(docs, r.docs...)
	}
	start := time.Now()
	err := b.index(ctx, docs, errs)
	b.metrics.observeBatch(time.Since(start), docs, errs, err)
	off := 0
	for _, r := range reqs {
		r.err = err
		copy(r.errs, errs[off:off+len(r.docs)])
		off += len(r.docs)
		close(r.done)
	}
}

// index writes docs; when the engine rejects the batch for its content, it splits the batch
// to find the documents at fault (errs), so that the others are still indexed. It returns an
// error only for an outage.
func (b *batcher) index(ctx context.Context, docs []search.Doc, errs []error) error {
	err := b.engine.Index(ctx, docs)
	if err == nil || !errors.Is(err, search.ErrRejected) {
		return err
	}
	if len(docs) == 1 {
		errs[0] = err
		return nil
	}
	mid := len(docs) / 2
	if err := b.index(ctx, docs[:mid], errs[:mid]); err != nil {
		return err
	}
	return b.index(ctx, docs[mid:], errs[mid:])
}
