package live

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pulsehq/pulse/internal/testenv"
)

// Subscriptions that wait for a snapshot at the same time share reads: one per type, split
// only when the union of their subjects passes SnapshotBatch, never inside a subscription.
func TestSnapshotReadsCoalesced(t *testing.T) {
	t.Parallel()
	const clients, perSub = 200, 100
	for _, tc := range []struct {
		name    string
		typ     func(i int) string
		subject func(i, j int) string
		reads   int64
	}{
		{"same subjects, one read", func(int) string { return "t" },
			func(_, j int) string { return fmt.Sprint("s", j) }, 1},
		{"one read per type", func(i int) string { return []string{"t", "u"}[i%2] },
			func(_, j int) string { return fmt.Sprint("s", j) }, 2},
		// 20,000 distinct subjects: 20 subscriptions (2,000 subjects) per read.
		{"distinct subjects, split by SnapshotBatch", func(int) string { return "t" },
			func(i, j int) string { return fmt.Sprint("s", i*perSub+j) }, clients * perSub / 2000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h, src := newBareHub(t, time.Millisecond)
			ctx := context.Background()
			cs := make([]*client, clients)
			want := make(map[subjectKey]int64) // the last count set wins
			for i := range cs {
				cs[i] = h.newClient("test")
				subjects := make([]string, perSub)
				for j := range subjects {
					subjects[j] = tc.subject(i, j)
				}
				src.set(tc.typ(i), subjects[i%perSub], int64(i), int64(i), int64(i))
				want[subjectKey{tc.typ(i), subjects[i%perSub]}] = int64(i)
				subscribeBare(t, h, cs[i], "s1", tc.typ(i), subjects...)
				if _, err := cs[i].flush(ctx, discardSink{}, time.Now()); err != nil { // asks
					t.Fatal(err)
				}
			}
			readSnapshots(ctx, h)
			if got := src.windowsCalls.Load(); got != tc.reads {
				t.Errorf("%d reads for %d subscriptions, want %d", got, clients, tc.reads)
			}
			if got := src.largestRead; got > h.cfg.SnapshotBatch {
				t.Errorf("a read of %d subjects, more than SnapshotBatch %d", got, h.cfg.SnapshotBatch)
			}
			for i, c := range cs {
				rec := &recordSink{}
				if _, err := c.flush(ctx, rec, time.Now()); err != nil {
					t.Fatal(err)
				}
				fs := rec.take()
				if len(fs) != 1 || fs[0].Op != "snapshot" || len(fs[0].Counts) != perSub {
					t.Fatalf("client %d: %+v, want one snapshot of %d subjects", i, fs, perSub)
				}
				name := tc.subject(i, i%perSub)
				n := want[subjectKey{tc.typ(i), name}]
				if got := fs[0].counts()[name]; !slices.Equal(got, []int64{n, n, n}) {
					t.Fatalf("client %d: %s counts %v, want %d", i, name, got, n)
				}
			}
		})
	}
}

// A resync of a partition asks every subscription with a subject in it for a snapshot: one
// read for all of them.
func TestResyncReadsOnce(t *testing.T) {
	t.Parallel()
	h, src := newBareHub(t, time.Millisecond)
	ctx := context.Background()
	cs := make([]*client, 200)
	for i := range cs {
		cs[i] = h.newClient("test")
		h.register(cs[i])
		subscribeBare(t, h, cs[i], "s1", "t", "a", "b", "c")
		for range 2 {
			if _, err := cs[i].flush(ctx, discardSink{}, time.Now()); err != nil {
				t.Fatal(err)
			}
			readSnapshots(ctx, h)
		}
	}
	before := src.windowsCalls.Load()
	h.resync(src.set("t", "a", 7, 7, 7).Partition)
	for _, c := range cs {
		if _, err := c.flush(ctx, discardSink{}, time.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	readSnapshots(ctx, h)
	if got := src.windowsCalls.Load() - before; got != 1 {
		t.Errorf("%d reads after a resync of %d subscriptions, want 1", got, len(cs))
	}
	for i, c := range cs {
		rec := &recordSink{}
		if _, err := c.flush(ctx, rec, time.Now().Add(2*time.Second)); err != nil {
			t.Fatal(err)
		}
		fs := rec.take()
		if len(fs) != 1 || fs[0].Op != "snapshot" || fs[0].Seq != 2 || !slices.Equal(fs[0].counts()["a"], []int64{7, 7, 7}) {
			t.Fatalf("client %d after resync: %+v", i, fs)
		}
	}
}

// The load-test failure this guards against: a thousand WebSockets subscribing at once each
// read their own snapshot, overran Redis, timed out and retried in a storm. Here reads are held
// until every subscription waits; then all of them are served by the reads in flight plus one.
func TestManySubscribersAtOnceGetSnapshots(t *testing.T) {
	t.Parallel()
	const n, perSub = 1000, 100
	h := startHub(t, nil)
	subjects := make([]string, perSub)
	for j := range subjects {
		subjects[j] = fmt.Sprint("s", j)
		h.src.set("t", subjects[j], int64(j), int64(j), 1)
	}
	release := make(chan struct{})
	var once sync.Once
	open := func() { once.Do(func() { close(release) }) }
	t.Cleanup(open) // before the hub's cleanup, which waits for the reads
	h.src.mu.Lock()
	h.src.hold = func() { <-release }
	h.src.mu.Unlock()

	conns := make([]*wsClient, n)
	var g errgroup.Group
	g.SetLimit(32)
	for i := range conns {
		g.Go(func() error {
			conns[i] = dial(t, h.url, nil)
			conns[i].send(subscribeMsg("s1", "t", subjects...))
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 30*time.Second, "every subscription to ask for its snapshot", func() bool {
		return h.asking() == n
	})
	held := h.src.windowsCalls.Load()
	open()

	for i, c := range conns {
		f := c.next()
		if f.Op != "snapshot" || f.Seq != 1 || len(f.Counts) != perSub || !slices.Equal(f.counts()["s7"], []int64{7, 7, 1}) {
			t.Fatalf("connection %d: %+v, want its snapshot", i, f)
		}
	}
	if got := h.src.windowsCalls.Load(); got > held+1 || held > int64(h.cfg.SnapshotReads) {
		t.Errorf("%d reads (%d held) for %d subscriptions, want at most SnapshotReads %d + 1", got, held, n, h.cfg.SnapshotReads)
	}
	if got := counterValue(h.m.queryErrors); got != 0 {
		t.Errorf("%v failed reads", got)
	}
}
