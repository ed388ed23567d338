package indexer_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/consumers"
	"github.com/pulsehq/pulse/consumers/indexer"
	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/search"
	"github.com/pulsehq/pulse/internal/search/searchtest"
	"github.com/pulsehq/pulse/internal/testenv"
)

const partitions = 4

type fixture struct {
	t          *testing.T
	rdb        *redis.Client
	ev, failed *searchtest.Faulty // the engines, with a fault switch
	reg        *prometheus.Registry
}

// newFixture gives a private Redis and two embedded engines behind fault switches.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, rdb: testenv.StartRedis(t).Client(), reg: prometheus.NewRegistry()}
	open := func(name string) *searchtest.Faulty {
		e, err := search.OpenBleve(search.BleveConfig{Path: filepath.Join(t.TempDir(), name)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.Close() })
		return searchtest.NewFaulty(e)
	}
	f.ev, f.failed = open("events"), open("failures")
	return f
}

// start runs the indexer until the test ends; tune adjusts the short test settings.
func (f *fixture) start(tune func(*indexer.Config)) {
	f.t.Helper()
	cfg := indexer.Config{
		Batch: 100, Wait: 20 * time.Millisecond,
		Group: consumers.Config{
			Layout: events.Layout{Partitions: partitions, Tags: events.TagsNumbered}, ClaimIdle: 200 * time.Millisecond, MaxDeliveries: 2,
			Block: 50 * time.Millisecond, RetryDelay: 20 * time.Millisecond, Consumer: "test",
		},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Metrics: f.reg,
	}
	if tune != nil {
		tune(&cfg)
	}
	x, err := indexer.New(f.rdb, f.ev, f.failed, cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- x.Run(ctx) }()
	f.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			f.t.Errorf("indexer run: %v", err)
		}
	})
}

// add appends events the way ingest does, to their partition streams.
func (f *fixture) add(evs ...events.Event) {
	f.t.Helper()
	pipe := f.rdb.Pipeline()
	for _, e := range evs {
		pipe.XAdd(context.Background(), &redis.XAddArgs{Stream: testenv.Numbered.Stream(events.Partition(e.Type, e.Subject, partitions)), Values: e.Values()})
	}
	if _, err := pipe.Exec(context.Background()); err != nil {
		f.t.Fatal(err)
	}
}

func makeEvents(n int, at time.Time) []events.Event {
	evs := make([]events.Event, n)
	for i := range evs {
		evs[i] = events.Event{
			ID: fmt.Sprintf("e:%04d.%d", i, at.UnixNano()%1000), Type: []string{"video_liked", "video_viewed"}[i%2],
			Subject: fmt.Sprintf("v%d", i%17), Time: at.UnixMilli() + int64(i), Received: at.UnixMilli() + int64(i),
			Data: []byte(fmt.Sprintf(`{"n":%d,"word":"w%d"}`, i, i%5)),
		}
	}
	return evs
}

func (f *fixture) total(e search.Engine, q search.Query) int64 {
	f.t.Helper()
	res, err := e.Search(context.Background(), q)
	if err != nil {
		f.t.Fatal(err)
	}
	return res.Total
}

// pending is the number of entries of the group not yet acknowledged, over every partition.
func (f *fixture) pending(group string, streams ...string) int64 {
	f.t.Helper()
	var n int64
	for _, s := range streams {
		p, err := f.rdb.XPending(context.Background(), s, group).Result()
		if err != nil && !strings.HasPrefix(err.Error(), "NOGROUP") {
			f.t.Fatal(err)
		}
		if p != nil {
			n += p.Count
		}
	}
	return n
}

// unread is the number of entries not yet delivered to the indexer group (XINFO GROUPS lag).
func (f *fixture) unread() int64 {
	f.t.Helper()
	var n int64
	for _, s := range partitionStreams() {
		groups, err := f.rdb.XInfoGroups(context.Background(), s).Result()
		if err != nil {
			f.t.Fatal(err)
		}
		for _, g := range groups {
			if g.Name == events.GroupIndexer {
				n += g.Lag
			}
		}
	}
	return n
}

func partitionStreams() []string {
	s := make([]string, partitions)
	for p := range s {
		s[p] = testenv.Numbered.Stream(p)
	}
	return s
}

// TestOutageKeepsEntriesPending: while the engine fails, every entry stays pending, past the
// claim idle time and the delivery limit, and nothing is dead-lettered; after recovery every
// event is searchable exactly once.
func TestOutageKeepsEntriesPending(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.ev.SetDown(true)
	f.start(nil)
	evs := makeEvents(600, time.Now())
	f.add(evs...)

	start := time.Now()
	testenv.WaitFor(t, 20*time.Second, "failed attempts past the claim idle time and the delivery limit", func() bool {
		return f.ev.Failures() > 4 && time.Since(start) > 1200*time.Millisecond
	})
	// Nothing was acknowledged: entries are pending (read, retried) or not yet read.
	if p, u := f.pending(events.GroupIndexer, partitionStreams()...), f.unread(); p == 0 || p+u != 600 {
		t.Fatalf("%d pending + %d unread entries, want 600 with some pending", p, u)
	}
	if n, _ := f.rdb.XLen(context.Background(), events.FailedStream).Result(); n != 0 {
		t.Fatalf("%d entries dead-lettered during the outage, want none", n)
	}
	f.add(evs[:50]...) // clients retrying the same ids meanwhile

	f.ev.SetDown(false)
	testenv.WaitFor(t, 20*time.Second, "every entry indexed and acknowledged", func() bool {
		return f.pending(events.GroupIndexer, partitionStreams()...) == 0 && f.total(f.ev, search.Query{}) == 600
	})
	seen := map[string]int{}
	for off := 0; off < 600; off += 100 {
		res, err := f.ev.Search(context.Background(), search.Query{Limit: 100, Offset: off, Asc: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range res.Hits {
			seen[h.ID]++
		}
	}
	for _, e := range evs {
		if seen[e.ID] != 1 {
			t.Fatalf("event %s found %d times, want once", e.ID, seen[e.ID])
		}
	}
	if n, _ := f.rdb.XLen(context.Background(), events.FailedStream).Result(); n != 0 {
		t.Fatalf("%d entries dead-lettered, want none", n)
	}
	if got := f.total(f.ev, search.Query{Text: "w3", Types: []string{"video_viewed"}}); got != 60 {
		t.Fatalf("q=w3 type=video_viewed: %d, want 60", got)
	}
}

// TestRejectedAndMalformedGoToFailures: a malformed entry and a document the engine refuses
// for good are dead-lettered (the rest of their batch is indexed), and the failure stream is
// indexed in turn, searchable by stage, reason and type.
func TestRejectedAndMalformedGoToFailures(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.ev.Reject(func(d search.Doc) bool { return d.Subject == "poison" })
	f.start(nil)
	evs := makeEvents(200, time.Now())
	evs[77].Subject = "poison"
	f.add(evs...)
	if err := f.rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: testenv.Numbered.Stream(1), Values: []string{"id", "x", "time", "nope"}}).Err(); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 20*time.Second, "199 events indexed, 2 failures indexed", func() bool {
		return f.total(f.ev, search.Query{}) == 199 && f.total(f.failed, search.Query{}) == 2 &&
			f.pending(events.GroupIndexer, partitionStreams()...) == 0
	})
	for _, tc := range []struct {
		q    search.Query
		want int64
	}{
		{search.Query{Stages: []string{events.GroupIndexer}}, 2},
		{search.Query{Subject: "poison", Types: []string{evs[77].Type}}, 1},
		{search.Query{Text: "rejected"}, 1},
		{search.Query{Text: "malformed"}, 1},
	} {
		if got := f.total(f.failed, tc.q); got != tc.want {
			t.Errorf("failures %+v: %d, want %d", tc.q, got, tc.want)
		}
	}
	testenv.WaitFor(t, 5*time.Second, "failure stream acknowledged", func() bool {
		return f.pending(indexer.FailuresGroup, events.FailedStream) == 0
	})
}

// TestBatchesBySizeAndTime: a full batch goes at once, whatever Wait says; a lone event goes
// after Wait.
func TestBatchesBySizeAndTime(t *testing.T) {
	t.Parallel()
	t.Run("size", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.add(makeEvents(1000, time.Now())...) // 250 per partition: the four reads make one batch
		f.start(func(c *indexer.Config) { c.Batch, c.Wait = 1000, time.Minute })
		testenv.WaitFor(t, 15*time.Second, "1000 events indexed and acknowledged", func() bool {
			return f.pending(events.GroupIndexer, partitionStreams()...) == 0 && f.total(f.ev, search.Query{}) == 1000
		})
		batches := histogramCount(t, f.reg, "events")
		if batches != 1 {
			t.Fatalf("%d engine calls for 1000 events with batch 1000, want 1", batches)
		}
	})
	t.Run("time", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.start(func(c *indexer.Config) { c.Batch, c.Wait = 1000, 30*time.Millisecond })
		f.add(makeEvents(3, time.Now())...)
		testenv.WaitFor(t, 10*time.Second, "3 events indexed", func() bool { return f.total(f.ev, search.Query{}) == 3 })
	})
}

func histogramCount(t *testing.T, reg *prometheus.Registry, index string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "pulse_search_batch_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "index" && l.GetValue() == index {
					return m.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	return 0
}

// TestRetention deletes documents older than the retention, keeps the others.
func TestRetention(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.add(makeEvents(30, time.Now().Add(-3*time.Hour))...)
	f.add(makeEvents(20, time.Now())...)
	f.start(func(c *indexer.Config) { c.Retention, c.RetentionEvery = time.Hour, 20*time.Millisecond })
	testenv.WaitFor(t, 15*time.Second, "only the recent events left", func() bool {
		return f.pending(events.GroupIndexer, partitionStreams()...) == 0 && f.total(f.ev, search.Query{}) == 20
	})
}

// Ingest counts one client id once per (type, subject): events that share an id across types
// or subjects are all stored and counted, so search must find every one of them.
func TestSharedClientIDsAreDistinctDocuments(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.start(nil)
	now := time.Now().UnixMilli()
	f.add(
		events.Event{ID: "order-1", Type: "order_placed", Subject: "shop-1", Time: now, Received: now},
		events.Event{ID: "order-1", Type: "order_placed", Subject: "shop-2", Time: now, Received: now},
		events.Event{ID: "order-1", Type: "order_paid", Subject: "shop-1", Time: now, Received: now},
	)
	testenv.WaitFor(t, 10*time.Second, "the three events indexed", func() bool {
		return f.total(f.ev, search.Query{}) == 3
	})
	// Indexing them again (a redelivery) replaces, never adds.
	f.add(events.Event{ID: "order-1", Type: "order_paid", Subject: "shop-1", Time: now, Received: now})
	testenv.WaitFor(t, 10*time.Second, "the redelivery indexed", func() bool {
		return f.pending(events.GroupIndexer, partitionStreams()...) == 0 && f.unread() == 0
	})
	if n := f.total(f.ev, search.Query{}); n != 3 {
		t.Errorf("%d documents, want 3", n)
	}
}
