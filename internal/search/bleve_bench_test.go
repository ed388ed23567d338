package search_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pulsehq/pulse/internal/search"
)

// BenchmarkBleve indexes n events into an on-disk Bleve index in batches of 1,000, two in
// flight at a time (what the indexer sends), reporting the indexing rate, then measures search latency over a mix of
// queries like the API's (facets on type included), reporting p50 and p99. Benchmarks run only
// with -bench; the 1M size takes minutes:
//
//	go test ./internal/search -run '^$' -bench 'Bleve/docs=1000000' -benchtime 2000x -timeout 60m
func BenchmarkBleve(b *testing.B) {
	for _, n := range []int{10_000, 200_000, 1_000_000} {
		b.Run("docs="+strconv.Itoa(n), func(b *testing.B) { benchBleve(b, n) })
	}
}

var benchTypes = []string{"video_liked", "video_viewed", "video_shared", "comment_posted", "comment_liked",
	"user_followed_user", "page.viewed", "cart_item_added", "order_placed", "search_performed"}

func benchDoc(r *rand.Rand, i int, start int64, span int64) search.Doc {
	t := start + span*int64(i)/1_000_000 + r.Int64N(1000)
	data, _ := json.Marshal(map[string]any{
		"title":  fmt.Sprintf("w%d w%d w%d", r.IntN(1000), r.IntN(1000), r.IntN(5000)),
		"device": []string{"ios", "android", "web"}[r.IntN(3)],
		"n":      r.IntN(100_000),
	})
	return search.Doc{
		ID: fmt.Sprintf("ev-%08d", i), Type: benchTypes[min(r.IntN(16), len(benchTypes)-1)],
		Subject: fmt.Sprintf("video-%d", r.IntN(10_000)), Time: t, Received: t + 3, Data: data,
	}
}

func benchBleve(b *testing.B, n int) {
	e, err := search.OpenBleve(search.BleveConfig{Path: filepath.Join(b.TempDir(), "events")})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 2))
	end := time.Now().UnixMilli()
	span := int64(30 * 24 * time.Hour / time.Millisecond)
	start := end - span

	began := time.Now()
	var flights errgroup.Group
	flights.SetLimit(2) // consumers/indexer's inFlight
	batch := make([]search.Doc, 0, 1000)
	for i := range n {
		batch = append(batch, benchDoc(r, i*(1_000_000/n), start, span))
		if len(batch) == cap(batch) || i == n-1 {
			flights.Go(func() error { return e.Index(ctx, batch) })
			batch = make([]search.Doc, 0, 1000)
		}
	}
	if err := flights.Wait(); err != nil {
		b.Fatal(err)
	}
	indexing := time.Since(began)
	b.Logf("indexed %d events in %s: %.0f events/s", n, indexing.Round(time.Millisecond), float64(n)/indexing.Seconds())

	hour := int64(time.Hour / time.Millisecond)
	mix := []struct {
		name string
		q    func(i int) search.Query
	}{
		{"everything, newest first", func(int) search.Query { return search.Query{} }},
		{"type in one hour", func(i int) search.Query {
			from := start + int64(i%700)*hour
			return search.Query{Types: []string{benchTypes[i%len(benchTypes)]}, From: from, To: from + hour}
		}},
		{"one word", func(i int) search.Query { return search.Query{Text: "w" + strconv.Itoa(i%1000)} }},
		{"two words and a type", func(i int) search.Query {
			return search.Query{Text: "w" + strconv.Itoa(i%1000) + " android", Types: []string{"video_liked"}}
		}},
		{"subject, oldest first", func(i int) search.Query {
			return search.Query{Subject: "video-" + strconv.Itoa(i%10_000), Asc: true}
		}},
		{"type, offset 1000", func(int) search.Query { return search.Query{Types: []string{"video_viewed"}, Offset: 1000} }},
	}
	var all []time.Duration
	byKind := make([][]time.Duration, len(mix))
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		k := i % len(mix)
		q := mix[k].q(i / len(mix))
		q.Limit, q.Facets = 20, []string{search.FacetType} // as the API asks
		t := time.Now()
		if _, err := e.Search(ctx, q); err != nil {
			b.Fatal(err)
		}
		d := time.Since(t)
		all, byKind[k] = append(all, d), append(byKind[k], d)
		i++
	}
	b.StopTimer()
	for k, m := range mix {
		if len(byKind[k]) > 0 {
			b.Logf("%-26s p50 %8.2f ms  p99 %8.2f ms", m.name, pct(byKind[k], 0.50), pct(byKind[k], 0.99))
		}
	}
	b.ReportMetric(float64(n)/indexing.Seconds(), "index-events/s")
	b.ReportMetric(pct(all, 0.50), "p50-ms")
	b.ReportMetric(pct(all, 0.99), "p99-ms")
}

// pct is the p-th quantile of lat in milliseconds (lat is sorted in place).
func pct(lat []time.Duration, p float64) float64 {
	slices.Sort(lat)
	return float64(lat[int(p*float64(len(lat)-1))]) / float64(time.Millisecond)
}
