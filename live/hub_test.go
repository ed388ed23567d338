package live

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/pulsehq/pulse/internal/events"
)

// recordSink keeps what a client writes, for tests that drive the writer by hand.
type recordSink struct{ frames []frame }

func (r *recordSink) send(_ context.Context, b []byte) error {
	var f frame
	if err := jsonUnmarshal(b, &f); err != nil {
		return err
	}
	r.frames = append(r.frames, f)
	return nil
}
func (r *recordSink) keepalive() error                   { return nil }
func (r *recordSink) close(websocket.StatusCode, string) {}
func (r *recordSink) take() []frame                      { f := r.frames; r.frames = nil; return f }
func (d discardSink) send(context.Context, []byte) error { return nil }
func (d discardSink) keepalive() error                   { return nil }
func (d discardSink) close(websocket.StatusCode, string) {}

type discardSink struct{}

func newBareHub(t testing.TB, interval time.Duration) (*Hub, *memSource) {
	t.Helper()
	src := newMemSource()
	h, err := New(src, Config{Windows: testWindows, Layout: events.Layout{Partitions: testPartitions, Tags: events.TagsNumbered}, Interval: interval,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return h, src
}

func subscribeBare(t testing.TB, h *Hub, c *client, id, typ string, subjects ...string) {
	t.Helper()
	s, e := h.parseSpec(&request{Op: opSubscribe, ID: id, Type: typ, Subjects: subjects})
	if e == nil {
		e = c.subscribe(s)
	}
	if e != nil {
		t.Fatalf("subscribe: %v", e)
	}
}

// The writer sends the first change after a quiet period at once, and conflates changes that
// follow within Interval into one frame when the interval has passed: its timing follows the
// subscription's last frame, not a fixed tick.
func TestUpdateScheduling(t *testing.T) {
	t.Parallel()
	const interval = 100 * time.Millisecond
	h, src := newBareHub(t, interval)
	c := h.newClient("test")
	subscribeBare(t, h, c, "s1", "t", "a")
	rec := &recordSink{}
	ctx := context.Background()
	t0 := time.Unix(1_790_000_000, 0)
	flush := func(at time.Duration) time.Duration {
		t.Helper()
		wait, err := c.flush(ctx, rec, t0.Add(at))
		if err != nil {
			t.Fatal(err)
		}
		return wait
	}

	flush(0) // asks for the snapshot
	readSnapshots(ctx, h)
	flush(0)
	if fs := rec.take(); len(fs) != 1 || fs[0].Op != "snapshot" {
		t.Fatalf("first flush: %+v", fs)
	}
	h.apply(src.set("t", "a", 1, 1, 1))
	if wait := flush(10 * time.Millisecond); wait != 90*time.Millisecond || len(rec.frames) != 0 {
		t.Fatalf("change 10ms after the snapshot: wait %v, frames %+v; want to wait 90ms", wait, rec.frames)
	}
	h.apply(src.set("t", "a", 2, 2, 2))
	flush(interval)
	if fs := rec.take(); len(fs) != 1 || fs[0].counts()["a"][0] != 2 {
		t.Fatalf("at the interval: %+v, want one update with the latest count", fs)
	}
	if wait := flush(interval + time.Millisecond); wait != 0 || len(rec.frames) != 0 {
		t.Fatalf("nothing changed: wait %v frames %+v", wait, rec.frames)
	}
	// Quiet for a while, then a change: it goes at once.
	h.apply(src.set("t", "a", 3, 3, 3))
	if wait := flush(time.Second); wait != 0 {
		t.Fatalf("wait %v", wait)
	}
	if fs := rec.take(); len(fs) != 1 || fs[0].Seq != 3 || fs[0].counts()["a"][0] != 3 {
		t.Fatalf("first change after a quiet period: %+v", fs)
	}
	h.apply(src.set("t", "a", 4, 4, 4))
	if wait := flush(time.Second + 30*time.Millisecond); wait != 70*time.Millisecond {
		t.Fatalf("wait %v, want 70ms", wait)
	}
}

// A publisher never waits for a client: applying changes to a client whose writer never runs
// costs the same and keeps one state per subject, not a queue.
func TestApplyDoesNotQueuePerChange(t *testing.T) {
	t.Parallel()
	h, src := newBareHub(t, time.Millisecond)
	c := h.newClient("test")
	subscribeBare(t, h, c, "s1", "t", "a", "b")
	for range 2 { // ask for the snapshot, read it, send it
		if _, err := c.flush(context.Background(), discardSink{}, time.Now()); err != nil {
			t.Fatal(err)
		}
		readSnapshots(context.Background(), h)
	}
	for i := range 10_000 {
		h.apply(src.set("t", []string{"a", "b"}[i%2], int64(i), 1, 1))
	}
	c.mu.Lock()
	pending := len(c.pending)
	c.mu.Unlock()
	if pending != 1 {
		t.Fatalf("%d pending entries after 10000 changes, want 1 subscription", pending)
	}
	rec := &recordSink{}
	if _, err := c.flush(context.Background(), rec, time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if len(rec.frames) != 1 || !slices.Equal(rec.frames[0].counts()["a"], []int64{9998, 1, 1}) ||
		!slices.Equal(rec.frames[0].counts()["b"], []int64{9999, 1, 1}) {
		t.Fatalf("one update with the latest counts expected, got %+v", rec.frames)
	}
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"ok", Config{Windows: testWindows, Layout: events.Layout{Partitions: 1, Tags: events.TagsNumbered}}, true},
		{"no windows", Config{Layout: events.Layout{Partitions: 1, Tags: events.TagsNumbered}}, false},
		{"bad partitions", Config{Windows: testWindows, Layout: events.Layout{Partitions: -1}}, false},
		{"bad origin pattern", Config{Windows: testWindows, Layout: events.Layout{Partitions: 1, Tags: events.TagsNumbered}, AllowedOrigins: []string{"[x"}}, false},
		{"negative interval", Config{Windows: testWindows, Layout: events.Layout{Partitions: 1, Tags: events.TagsNumbered}, Interval: -1}, false},
		{"negative budget", Config{Windows: testWindows, Layout: events.Layout{Partitions: 1, Tags: events.TagsNumbered}, ErrorBudget: -1}, false},
	} {
		_, err := New(newMemSource(), tc.cfg)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v", tc.name, err)
		}
	}
}

// BenchmarkFanOut measures one change reaching n subscribers of a subject: the hub applies it
// to every subscription, and every client's writer builds and hands over its update frame.
func BenchmarkFanOut(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			h, _ := newBareHub(b, time.Nanosecond)
			ctx := context.Background()
			clients := make([]*client, n)
			for i := range clients {
				clients[i] = h.newClient("bench")
				subscribeBare(b, h, clients[i], "s", "video_liked", "hot", fmt.Sprintf("cold-%d", i))
				for range 2 { // ask for the snapshot, read it, send it
					if _, err := clients[i].flush(ctx, discardSink{}, time.Now()); err != nil {
						b.Fatal(err)
					}
					readSnapshots(ctx, h)
				}
			}
			p := events.Partition("video_liked", "hot", testPartitions)
			cs := &events.ChangeSet{Partition: p, Changes: []events.Change{{Type: "video_liked", Subject: "hot", Counts: make([]int64, 3)}}}
			b.ReportAllocs()
			for b.Loop() {
				cs.Version++
				cs.At++
				cs.Changes[0].Counts[0] = cs.Version
				h.apply(cs)
				now := time.Now()
				for _, c := range clients {
					if _, err := c.flush(ctx, discardSink{}, now); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/delivery")
		})
	}
}

// BenchmarkApply is the feed's part of the fan-out: one partition's change set (12 subjects)
// handed to n clients that watch the same 100 subjects, as the load tool's idle subscribers
// do. Their writers do not run: this is the cost the feed goroutine pays per change set.
func BenchmarkApply(b *testing.B) {
	for _, n := range []int{100, 1000, 5000} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			h, _ := newBareHub(b, 100*time.Millisecond)
			subjects := make([]string, 100)
			for i := range subjects {
				subjects[i] = fmt.Sprint("s", i)
			}
			ctx := context.Background()
			for range n {
				c := h.newClient("bench")
				subscribeBare(b, h, c, "s1", "t", subjects...)
				for range 2 {
					if _, err := c.flush(ctx, discardSink{}, time.Now()); err != nil {
						b.Fatal(err)
					}
					readSnapshots(ctx, h)
				}
			}
			cs := &events.ChangeSet{}
			for _, s := range subjects[:12] {
				cs.Changes = append(cs.Changes, events.Change{Type: "t", Subject: s, Counts: make([]int64, len(testWindows))})
			}
			b.ReportAllocs()
			for b.Loop() {
				cs.Version++
				cs.At++
				for i := range cs.Changes {
					cs.Changes[i].Counts[0] = cs.Version
				}
				h.apply(cs)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n*len(cs.Changes)), "ns/offer")
		})
	}
}

// Change sets applied together reach each subscription as the latest change of each subject.
func TestApplyMergesChangeSets(t *testing.T) {
	t.Parallel()
	h, src := newBareHub(t, time.Millisecond)
	c := h.newClient("test")
	subscribeBare(t, h, c, "s1", "t", "a", "b")
	ctx := context.Background()
	for range 2 {
		if _, err := c.flush(ctx, discardSink{}, time.Now()); err != nil {
			t.Fatal(err)
		}
		readSnapshots(ctx, h)
	}
	// a and b may share a partition or not: each keeps its own latest change.
	h.apply(src.set("t", "a", 1, 1, 1), src.set("t", "b", 2, 2, 2), src.set("t", "a", 3, 3, 3), src.set("t", "b", 4, 4, 4))
	rec := &recordSink{}
	if _, err := c.flush(ctx, rec, time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	want := map[string][]int64{"a": {3, 3, 3}, "b": {4, 4, 4}}
	if len(rec.frames) != 1 || rec.frames[0].Seq != 2 || !equalCounts(rec.frames[0].counts(), want) {
		t.Fatalf("got %+v, want one update with %v", rec.frames, want)
	}
	if got := counterValue(h.m.conflated); got != 2 {
		t.Errorf("conflated %v, want 2 (the first change of each subject)", got)
	}
}
