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
