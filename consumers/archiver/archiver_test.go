package archiver

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/internal/archive"
	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/testenv"
)

// TestRecovery: a holder crashed after some files of its roll were in place, before
// acknowledging. The next one keeps out of its roll the entries a file holds, and archives the
// rest, replayed events excepted: every event ends in exactly one row. On a folder and on an
// S3-compatible bucket.
func TestRecovery(t *testing.T) {
	for _, store := range []string{"file", "s3"} {
		t.Run(store, func(t *testing.T) {
			ctx := context.Background()
			url := t.TempDir()
			if store == "s3" {
				url = testenv.StartS3(t, "archive")
			}
			st, err := archive.Open(ctx, url, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			rdb := testenv.StartRedis(t).Client()
			layout := events.Layout{Partitions: 2, Tags: events.TagsNumbered}
			stream := layout.Stream(0)
			if err := rdb.XGroupCreateMkStream(ctx, stream, events.GroupArchiver, "0").Err(); err != nil {
				t.Fatal(err)
			}
			base := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC).UnixMilli()
			want := map[string]bool{}
			for i := range 100 {
				e := events.Event{ID: fmt.Sprintf("e%03d", i), Type: "like", Subject: "video-1", Time: base + int64(i%3)*3_600_000, Received: base}
				if i%10 == 9 {
					e.Origin = events.OriginArchive // replayed: the archive holds it already
				} else {
					want[e.ID] = true
				}
				if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: e.Values()}).Err(); err != nil {
					t.Fatal(err)
				}
			}
			// The crashed holder read 60 entries and put the file of its first hour in place.
			res, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: events.GroupArchiver, Consumer: consumer, Streams: []string{stream, ">"}, Count: 60}).Result()
			if err != nil {
				t.Fatal(err)
			}
			msgs := res[0].Messages
			first, _ := archive.ParseID(msgs[0].ID)
			last, _ := archive.ParseID(msgs[59].ID)
			var rows []archive.Row
			for _, m := range msgs {
				e, _ := events.FromValues(m.Values)
				if archive.HourOf(e.Time) == archive.HourOf(base) && e.Origin == "" {
					rows = append(rows, archive.RowOf(e))
				}
			}
			key := archive.Key(archive.HourOf(base), 0, archive.Span{First: first, Last: last})
			if err := st.Put(ctx, key, func(w io.Writer) error { return archive.WriteRows(w, rows) }); err != nil {
				t.Fatal(err)
			}

			a, err := New(rdb, Config{Layout: layout, Store: st, Roll: time.Second, Lease: 3 * time.Second, Block: 100 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			rctx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- a.Run(rctx) }()
			testenv.WaitFor(t, 30*time.Second, "archiver drained", func() bool {
				p, err := rdb.XPending(ctx, stream, events.GroupArchiver).Result()
				gs, _ := rdb.XInfoGroups(ctx, stream).Result()
				return err == nil && p.Count == 0 && len(gs) == 1 && gs[0].EntriesRead == 100
			})
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}

			objs, err := st.List(ctx, archive.Root)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int{}
			eng, err := archive.NewEngine(st)
			if err != nil {
				t.Fatal(err)
			}
			defer eng.Close()
			err = eng.Rows(ctx, archive.Filter{From: base - 3_600_000, To: base + 10*3_600_000}, func(r archive.Row) error {
				got[r.ID]++
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for id := range want {
				if got[id] != 1 {
					t.Errorf("event %s is in %d rows", id, got[id])
				}
			}
			if len(got) != len(want) {
				t.Errorf("%d events archived, want %d (replayed ones are not archived again)", len(got), len(want))
			}
			t.Logf("%d files: %v", len(objs), objs)
		})
	}
}

// TestCompaction: the small files of a partition's ended hour are merged into one; the files a
// compaction interrupted before removing them are removed, and a compacted file is merged again
// with what came after it. Rows stay exactly as they were, other partitions' files untouched.
func TestCompaction(t *testing.T) {
	ctx := context.Background()
	st, err := archive.Open(ctx, t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rdb := testenv.StartRedis(t).Client()
	layout := events.Layout{Partitions: 2, Tags: events.TagsNumbered}
	h1 := archive.HourOf(time.Now().Add(-5 * time.Hour).UnixMilli())
	h2 := h1 - 1
	want := map[string]bool{}
	put := func(key string, from, n int) {
		t.Helper()
		var rows []archive.Row
		for i := from; i < from+n; i++ {
			id := fmt.Sprintf("c%04d", i)
			rows = append(rows, archive.RowOf(events.Event{ID: id, Type: "like", Subject: "video-1", Time: h1*3_600_000 + int64(i), Received: 1}))
			want[id] = true
		}
		if err := st.Put(ctx, key, func(w io.Writer) error { return archive.WriteRows(w, rows) }); err != nil {
			t.Fatal(err)
		}
	}
	span := func(a, b uint64) archive.Span { return archive.Span{First: archive.ID{Ms: a}, Last: archive.ID{Ms: b}} }
	put(archive.Key(h1, 0, span(1, 10)), 0, 10)
	put(archive.Key(h1, 0, span(11, 20)), 10, 10)
	put(archive.Key(h1, 0, span(21, 30)), 20, 10)
	put(archive.Key(h1, 1, span(5, 8)), 30, 5) // partition 1: one file, nothing to merge
	// Hour h2: a compaction of [1,10] and [11,20] stopped before removing them, and a later roll.
	put(archive.CompactedKey(h2, 0, span(1, 20)), 100, 20)
	if err := st.Put(ctx, archive.Key(h2, 0, span(1, 10)), func(w io.Writer) error { return archive.WriteRows(w, nil) }); err != nil {
		t.Fatal(err)
	}
	put(archive.Key(h2, 0, span(21, 30)), 120, 10)

	a, err := New(rdb, Config{Layout: layout, Store: st, Roll: time.Second, CompactAfter: time.Second, CompactGrace: time.Millisecond, Lease: 3 * time.Second, Block: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(rctx) }()
	keys := func(h int64, p int) []string {
		fs, _ := st.Files(ctx, archive.HourPrefix(h)+archive.FilePrefix(p))
		var out []string
		for _, f := range fs {
			out = append(out, f.Key)
		}
		return out
	}
	testenv.WaitFor(t, 30*time.Second, "hours compacted", func() bool {
		return len(keys(h1, 0)) == 1 && len(keys(h2, 0)) == 1
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := keys(h1, 0); got[0] != archive.CompactedKey(h1, 0, span(1, 30)) {
		t.Errorf("hour 1: %v", got)
	}
	if got := keys(h2, 0); got[0] != archive.CompactedKey(h2, 0, span(1, 30)) {
		t.Errorf("hour 2: %v", got)
	}
	if got := keys(h1, 1); len(got) != 1 || got[0] != archive.Key(h1, 1, span(5, 8)) {
		t.Errorf("partition 1: %v", got)
	}
	got := map[string]int{}
	for _, k := range append(append(keys(h1, 0), keys(h2, 0)...), keys(h1, 1)...) {
		rows, err := st.ReadRows(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			got[r.ID]++
		}
	}
	for id := range want {
		if got[id] != 1 {
			t.Errorf("%s in %d rows", id, got[id])
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d ids, want %d", len(got), len(want))
	}
}
