package indexer

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pulsehq/pulse/internal/search"
)

// gate is an engine whose Index calls announce themselves and wait to be released.
type gate struct {
	search.Engine
	calls   chan int // each call's document count
	release chan struct{}
	active  atomic.Int32
}

func (g *gate) Index(ctx context.Context, docs []search.Doc) error {
	g.active.Add(1)
	defer g.active.Add(-1)
	g.calls <- len(docs)
	select {
	case <-g.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *gate) next(t *testing.T, what string) int {
	t.Helper()
	select {
	case n := <-g.calls:
		return n
	case <-time.After(time.Minute):
		t.Fatalf("no engine call for %s", what)
		return 0
	}
}

// TestBatcherTwoInFlight: a second batch enters the engine while the first is in it, flushed
// at once when the only reader that can still submit has; a third waits for one of them; a
// stop returns only once the batches in the engine have settled.
func TestBatcherTwoInFlight(t *testing.T) {
	t.Parallel()
	g := &gate{calls: make(chan int), release: make(chan struct{})}
	b := newBatcher(g, 10, time.Hour, 2, newMetrics(nil, "events"))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	stopped := make(chan struct{})
	go func() {
		_ = b.run(ctx)
		close(stopped)
	}()
	submit := func(n int) {
		docs := make([]search.Doc, n)
		for i := range docs {
			docs[i].ID = fmt.Sprint(n, "-", i)
		}
		go func() { _, _ = b.submit(ctx, docs) }()
	}

	submit(10) // full by size
	if n := g.next(t, "a full batch"); n != 10 {
		t.Fatalf("first batch of %d documents, want 10", n)
	}
	submit(3) // the other reader: no one else can submit, so no reason to wait an hour
	if n := g.next(t, "the other reader's batch while the first is in the engine"); n != 3 {
		t.Fatalf("second batch of %d documents, want 3", n)
	}
	submit(10)
	select {
	case n := <-g.calls:
		t.Fatalf("a third batch (%d documents) entered the engine beside two", n)
	case <-time.After(100 * time.Millisecond):
	}
	g.release <- struct{}{}
	if n := g.next(t, "the third batch once one ended"); n != 10 {
		t.Fatalf("third batch of %d documents, want 10", n)
	}

	cancel()
	<-stopped
	if n := g.active.Load(); n != 0 {
		t.Errorf("run returned with %d engine calls in flight", n)
	}
}
