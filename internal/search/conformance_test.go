package search_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/pulsehq/pulse/internal/search"
	"github.com/pulsehq/pulse/internal/testenv"
)

// opener makes a fresh, empty engine; name is unique within the test.
type opener func(t *testing.T, name string) search.Engine

// TestConformance holds every engine to the same contract: the embedded engine always, and
// Meilisearch when a Docker daemon answers (else that subtest says it skipped).
func TestConformance(t *testing.T) {
	t.Parallel()
	t.Run("bleve", func(t *testing.T) {
		t.Parallel()
		runConformance(t, func(t *testing.T, name string) search.Engine {
			e, err := search.OpenBleve(search.BleveConfig{Path: filepath.Join(t.TempDir(), name)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = e.Close() })
			return e
		})
	})
	t.Run("meilisearch", func(t *testing.T) {
		t.Parallel()
		url, key := testenv.StartMeili(t)
		runConformance(t, func(t *testing.T, name string) search.Engine {
			e, err := search.NewMeilisearch(search.MeiliConfig{URL: url, Key: key, Index: name})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = e.Close() })
			return e
		})
	})
}

func runConformance(t *testing.T, open opener) {
	t.Run("queries", func(t *testing.T) { t.Parallel(); testQueries(t, open(t, "events")) })
	t.Run("retention", func(t *testing.T) { t.Parallel(); testRetention(t, open(t, "retention")) })
	t.Run("failures", func(t *testing.T) { t.Parallel(); testFailureDocs(t, open(t, "failures")) })
}

// corpusSize is the number of events the query suite indexes.
const corpusSize = 10_000

var base = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixMilli()

var (
	corpusTypes = []string{"video_liked", "video_viewed", "page.viewed", "comment-posted", "user_followed_user", "x"}
	typeWeights = []int{40, 25, 15, 10, 7, 3}
	words       = []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"}
)

// corpus is deterministic: ids with '.' and ':' (encoded for Meilisearch), pairs of events
// sharing a time (ties broken by id), mixed-case subjects, nested data, events without data.
func corpus() []search.Doc {
	r := rand.New(rand.NewPCG(7, 11))
	docs := make([]search.Doc, corpusSize)
	for i := range docs {
		id := fmt.Sprintf("ev-%05d", i)
		if i%7 == 0 {
			id = fmt.Sprintf("ev:%05d.x", i)
		}
		typ := corpusTypes[weighted(r, typeWeights)]
		subject := fmt.Sprintf("video-%d", r.IntN(50))
		if i%13 == 0 {
			subject = "Video-" + subject[len("video-"):]
		}
		t := base + int64(i/2)*1000
		d := search.Doc{ID: id, Type: typ, Subject: subject, Time: t, Received: t + 5}
		if i%10 != 3 {
			data := map[string]any{
				"color": words[r.IntN(len(words))],
				"n":     i,
				"tags":  []string{words[r.IntN(len(words))], words[r.IntN(len(words))]},
				"deep":  map[string]any{"ok": i%2 == 0, "word": words[r.IntN(len(words))]},
			}
			d.Data, _ = json.Marshal(data)
		}
		docs[i] = d
	}
	return docs
}

func weighted(r *rand.Rand, w []int) int {
	total := 0
	for _, x := range w {
		total += x
	}
	n := r.IntN(total)
	for i, x := range w {
		if n < x {
			return i
		}
		n -= x
	}
	return len(w) - 1
}

func indexAll(t *testing.T, e search.Engine, docs []search.Doc) {
	t.Helper()
	for start := 0; start < len(docs); start += 1000 {
		if err := e.Index(context.Background(), docs[start:min(start+1000, len(docs))]); err != nil {
			t.Fatalf("index: %v", err)
		}
	}
}

// scan is the reference: what a direct pass over the inputs gives for q.
func scan(docs []search.Doc, q search.Query) (hits []search.Doc, facets map[string]map[string]int64) {
	want := tokens(q.Text)
	facets = map[string]map[string]int64{}
	for _, f := range q.Facets {
		facets[f] = map[string]int64{}
	}
	for _, d := range docs {
		switch {
		case len(q.Types) > 0 && !slices.Contains(q.Types, d.Type),
			len(q.Stages) > 0 && !slices.Contains(q.Stages, d.Stage),
			q.Subject != "" && !strings.EqualFold(q.Subject, d.Subject),
			q.From != 0 && d.Time < q.From,
			q.To != 0 && d.Time > q.To:
			continue
		}
		have := tokens(d.Text())
		if !allIn(want, have) {
			continue
		}
		hits = append(hits, d)
		for _, f := range q.Facets {
			v := d.Type
			if f == search.FacetStage {
				v = d.Stage
			}
			if v != "" {
				facets[f][v]++
			}
		}
	}
	slices.SortFunc(hits, func(a, b search.Doc) int {
		c := cmp.Or(cmp.Compare(a.Time, b.Time), strings.Compare(a.ID, b.ID))
		if !q.Asc {
			c = -c
		}
		return c
	})
	return hits, facets
}

// tokens splits like the engines do for this corpus: lower-cased runs of letters, digits,
// '_' and inner '.' (Unicode word boundaries keep "video_liked" and "page.viewed" whole).
func tokens(s string) []string {
	f := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_' && r != '.'
	})
	out := f[:0]
	for _, w := range f {
		if w = strings.Trim(w, "."); w != "" {
			out = append(out, w)
		}
	}
	return out
}

func allIn(want, have []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

func testQueries(t *testing.T, e search.Engine) {
	docs := corpus()
	indexAll(t, e, docs)
	// Redelivery: indexing the same ids again replaces, never duplicates.
	if err := e.Index(context.Background(), docs[:1000]); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d documents indexed", len(docs))
	n := len(docs)
	tAt := func(i int) int64 { return docs[i].Time }
	cases := []struct {
		name string
		q    search.Query
		walk string // "time:desc" or "time:asc": page through every hit to the last page
	}{
		{name: "everything", q: search.Query{}, walk: "time:desc"},
		{name: "one word in data", q: search.Query{Text: "alpha"}},
		{name: "two words, both required", q: search.Query{Text: "alpha bravo"}},
		{name: "case-insensitive text", q: search.Query{Text: "ChArLiE"}},
		{name: "type word", q: search.Query{Text: "video_liked"}},
		{name: "subject words and a number", q: search.Query{Text: "video 12"}},
		{name: "number in data", q: search.Query{Text: "4242"}},
		{name: "boolean in data", q: search.Query{Text: "true golf"}},
		{name: "no such word", q: search.Query{Text: "zulu"}},
		{name: "no word at all is no text filter", q: search.Query{Text: "!!! ---"}},
		{name: "one type", q: search.Query{Types: []string{"video_liked"}}, walk: "time:asc"},
		{name: "two types", q: search.Query{Types: []string{"page.viewed", "x"}}},
		{name: "unknown type", q: search.Query{Types: []string{"nope"}}},
		{name: "subject", q: search.Query{Subject: "video-7"}},
		{name: "subject is case-insensitive", q: search.Query{Subject: "VIDEO-7"}},
		{name: "range, both edges inclusive", q: search.Query{From: tAt(n / 10), To: tAt(n*3/10 + 1)}},
		{name: "range, edges just outside", q: search.Query{From: tAt(n/10) + 1, To: tAt(n*3/10+1) - 1}},
		{name: "from only", q: search.Query{From: tAt(n - 10)}},
		{name: "to only", q: search.Query{To: tAt(5)}},
		{name: "one instant", q: search.Query{From: tAt(n * 4 / 9), To: tAt(n * 4 / 9)}},
		{name: "empty range", q: search.Query{From: tAt(n/100) + 1, To: tAt(n/100) + 999}},
		{name: "everything combined", q: search.Query{Text: "delta", Types: []string{"video_liked", "video_viewed"},
			Subject: "video-3", From: tAt(n / 20), To: tAt(n * 19 / 20)}},
	}
	for _, tc := range cases {
		for _, asc := range []bool{false, true} {
			sort := map[bool]string{false: "time:desc", true: "time:asc"}[asc]
			walk := tc.walk == sort
			t.Run(tc.name+" ("+sort+")", func(t *testing.T) {
				q := tc.q
				q.Asc = asc
				q.Facets = []string{search.FacetType}
				want, wantFacets := scan(docs, q)
				if !asc { // totals and facets do not depend on the order
					checkTotals(t, e, q, len(want), wantFacets)
				}
				q.Facets = nil
				const limit = 100
				// first page, last page, past the end
				offsets := []int{0, max(0, (len(want)-1)/limit*limit), len(want) + 5}
				if walk {
					offsets = nil
					for off := 0; off < len(want); off += limit {
						offsets = append(offsets, off)
					}
				}
				var walked []search.Doc
				for _, off := range offsets {
					q.Offset, q.Limit = off, limit
					res, err := e.Search(context.Background(), q)
					if err != nil {
						t.Fatal(err)
					}
					if res.Total != int64(len(want)) {
						t.Fatalf("offset %d: total %d, want %d", off, res.Total, len(want))
					}
					wantPage := want[min(off, len(want)):min(off+limit, len(want))]
					checkHits(t, off, res.Hits, wantPage)
					walked = append(walked, res.Hits...)
				}
				if walk && len(walked) != len(want) {
					t.Fatalf("walked %d hits over every page, want %d", len(walked), len(want))
				}
			})
		}
	}
}

// checkTotals asks with limit 0: totals and facets only.
func checkTotals(t *testing.T, e search.Engine, q search.Query, total int, facets map[string]map[string]int64) {
	t.Helper()
	q.Limit, q.Offset = 0, 0
	res, err := e.Search(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	if res.Total != int64(total) || len(res.Hits) != 0 {
		t.Fatalf("limit 0: total %d with %d hits, want total %d and no hits", res.Total, len(res.Hits), total)
	}
	if !maps.EqualFunc(res.Facets, facets, maps.Equal) {
		t.Fatalf("facets %v, want %v", res.Facets, facets)
	}
}

func checkHits(t *testing.T, off int, got, want []search.Doc) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("offset %d: %d hits, want %d", off, len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.Type != w.Type || g.Subject != w.Subject || g.Time != w.Time || g.Received != w.Received ||
			g.Stage != w.Stage || g.Reason != w.Reason || !sameJSON(g.Data, w.Data) {
			t.Fatalf("offset %d hit %d:\n got %+v\nwant %+v", off, i, g, w)
		}
	}
}

func sameJSON(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && fmt.Sprint(x) == fmt.Sprint(y)
}

func testRetention(t *testing.T, e search.Engine) {
	docs := corpus()[:corpusSize/5]
	indexAll(t, e, docs)
	cutoff := docs[len(docs)/2].Time
	if err := e.DeleteBefore(context.Background(), cutoff); err != nil {
		t.Fatal(err)
	}
	q := search.Query{Facets: []string{search.FacetType}}
	want, facets := scan(docs, search.Query{From: cutoff, Facets: q.Facets})
	checkTotals(t, e, q, len(want), facets)
	res, err := e.Search(context.Background(), search.Query{Asc: true, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Hits) != 1 || res.Hits[0].Time != cutoff {
		t.Fatalf("oldest left %+v, want time %d (the cutoff is kept)", res.Hits, cutoff)
	}
}

// testFailureDocs covers what only the failure index uses: stage filters and facets, and the
// reason in free text.
func testFailureDocs(t *testing.T, e search.Engine) {
	var docs []search.Doc
	stages := []string{"ingest", "counter", "indexer"}
	reasons := []string{"malformed entry", "script error timeout", "rejected by engine"}
	for i := range 300 {
		rec, _ := json.Marshal(map[string]any{"stream": "pulse:{p1}:events", "entry_id": fmt.Sprintf("%d-0", i),
			"record": map[string]string{"id": fmt.Sprintf("e%d", i), "type": "video_liked"}})
		docs = append(docs, search.Doc{
			ID: fmt.Sprintf("%d-%d", base+int64(i), i%3), Type: corpusTypes[i%len(corpusTypes)], Subject: fmt.Sprintf("s%d", i%5),
			Time: base + int64(i), Received: base + int64(i), Data: rec,
			Stage: stages[i%3], Reason: reasons[(i/3)%3],
		})
	}
	indexAll(t, e, docs)
	for _, q := range []search.Query{
		{},
		{Stages: []string{"counter"}},
		{Stages: []string{"counter", "ingest"}, Text: "timeout"},
		{Text: "rejected engine", Types: []string{"x"}},
	} {
		q.Facets = []string{search.FacetType, search.FacetStage}
		q.Limit = 50
		want, facets := scan(docs, q)
		checkTotals(t, e, q, len(want), facets)
		res, err := e.Search(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		checkHits(t, 0, res.Hits, want[:min(50, len(want))])
	}
}
