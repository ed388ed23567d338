package ingest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func benchBody(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(`{"id":"evt-%08d","type":"video_liked","subject":"video-%d","time":"2026-05-01T12:00:00Z","data":{"user":"u%d","via":"web"}}`, i, i%500, i)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// BenchmarkDecodeValidate is the per-request CPU of the API before Redis: split the body,
// validate and complete every event (time, id, partition, dedupe key).
func BenchmarkDecodeValidate(b *testing.B) {
	cfg := DefaultConfig()
	now := time.Date(2026, 5, 1, 12, 1, 0, 0, time.UTC)
	for _, n := range []int{1, 10, 100, 1000} {
		body := benchBody(n)
		b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			items := make([]item, 0, n)
			for b.Loop() {
				clear(items)
				var err error
				if items, err = decode(formatJSON, body, n, items[:0]); err != nil {
					b.Fatal(err)
				}
				for i := range items {
					items[i].check(now, &cfg)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkWriter measures group commit against a real Redis: each op is `clients`
// concurrent submissions of `size` events (server-assigned ids, so every event is appended),
// with one or two commits in flight.
func BenchmarkWriter(b *testing.B) {
	for _, tc := range []struct{ clients, size, committers int }{
		{1, 1, 2}, {64, 1, 1}, {64, 1, 2}, {1, 100, 2}, {16, 100, 1}, {16, 100, 2},
	} {
		b.Run(fmt.Sprintf("clients=%d/size=%d/committers=%d", tc.clients, tc.size, tc.committers), func(b *testing.B) {
			f := newFixture(b, Config{MaxBacklog: -1, Committers: tc.committers})
			cfg := DefaultConfig()
			jobs := make([]*job, tc.clients)
			for c := range jobs {
				items, err := decode(formatJSON, strings.ReplaceAll(benchBody(tc.size), `"id":"evt-`, `"x":"`), tc.size, nil)
				if err != nil {
					b.Fatal(err)
				}
				for i := range items {
					items[i].check(time.Now(), &cfg)
				}
				jobs[c] = &job{items: items, done: make(chan struct{}, 1)}
			}
			b.ReportAllocs()
			var wg sync.WaitGroup
			for b.Loop() {
				for _, j := range jobs {
					for i := range j.items {
						j.items[i].status = pending
					}
					wg.Go(func() {
						if err := f.w.submit(j); err != nil {
							b.Error(err)
						}
					})
				}
				wg.Wait()
			}
			b.ReportMetric(float64(tc.clients*tc.size)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			for _, j := range jobs {
				if j.items[0].status != accepted {
					b.Fatalf("status %s: %v", statusNames[j.items[0].status], j.items[0].err)
				}
			}
		})
	}
}
