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
	"unicode/utf8"

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
	t.Run("typed", func(t *testing.T) { t.Parallel(); testTyped(t, open(t, "typed")) })
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
	facets = map[string]map[string]int64{}
	for _, f := range q.Facets {
		facets[f] = map[string]int64{}
	}
	for _, d := range docs {
		switch {
		case len(q.Types) > 0 && !slices.Contains(q.Types, d.Type),
			len(q.Stages) > 0 && !slices.Contains(q.Stages, d.Stage),
			q.Subject != "" && !strings.EqualFold(q.Subject, d.Subject),
			q.ID != "" && q.ID != d.ID,
			q.From != 0 && d.Time < q.From,
			q.To != 0 && d.Time > q.To:
			continue
		}
		if _, ok := highlights(d, q.Text); !ok {
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

// tokens splits as Unicode word boundaries (UAX #29) do for this corpus: runs of letters,
// digits and '_', where '.' joins two letters or two digits and ':' two letters; lower-cased.
func tokens(s string) []string {
	rs := []rune(strings.ToLower(s))
	word := func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' }
	var out []string
	var cur []rune
	for i, r := range rs {
		joins := i > 0 && i < len(rs)-1 && ((r == '.' || r == ':') && unicode.IsLetter(rs[i-1]) && unicode.IsLetter(rs[i+1]) ||
			r == '.' && unicode.IsDigit(rs[i-1]) && unicode.IsDigit(rs[i+1]))
		if word(r) || joins && len(cur) > 0 {
			cur = append(cur, r)
			continue
		}
		if len(cur) > 0 {
			out = append(out, string(cur))
			cur = nil
		}
	}
	if len(cur) > 0 {
		out = append(out, string(cur))
	}
	return out
}

// highlights is the reference for text matching: whether d matches text (every word of it
// matches a word of d's id, type, subject or free text, the last also as a prefix when text
// ends with it, free text within typos), and which of d's words matched, by field.
func highlights(d search.Doc, text string) (map[string][]string, bool) {
	want := tokens(text)
	if len(want) == 0 {
		return nil, true
	}
	r, _ := utf8.DecodeLastRuneInString(text)
	prefix := unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_'
	fields := map[string][]string{
		search.HighlightID: tokens(d.ID), search.HighlightType: tokens(d.Type),
		search.HighlightSubject: tokens(d.Subject), search.HighlightText: tokens(d.Text()),
	}
	out := map[string][]string{}
	for i, w := range want {
		found := false
		for field, have := range fields {
			for _, h := range have {
				if h == w || prefix && i == len(want)-1 && strings.HasPrefix(h, w) ||
					field == search.HighlightText && typo(w, h) {
					found = true
					if !slices.Contains(out[field], h) {
						out[field] = append(out[field], h)
					}
				}
			}
		}
		if !found {
			return nil, false
		}
	}
	for _, ws := range out {
		slices.Sort(ws)
	}
	return out, true
}

// typo reports whether h is within the typos w may have: one from 5 characters, two from 9,
// none in numbers or in the first letter.
func typo(w, h string) bool {
	a, b := []rune(w), []rune(h)
	n := 0
	switch {
	case len(a) >= 9:
		n = 2
	case len(a) >= 5:
		n = 1
	}
	if n == 0 || strings.Trim(w, "0123456789") == "" || len(b) == 0 || a[0] != b[0] {
		return false
	}
	// Levenshtein distance, one row at a time.
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)] <= n
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
		{name: "last word is a prefix", q: search.Query{Text: "cha"}},
		{name: "prefix after a whole word", q: search.Query{Text: "video 1"}},
		{name: "a trailing space ends the prefix", q: search.Query{Text: "cha "}},
		{name: "typo in free text", q: search.Query{Text: "foxtrat"}},
		{name: "no typo in a type", q: search.Query{Text: "video_likes"}},
		{name: "no typo in a subject", q: search.Query{Text: "vidxo"}},
		{name: "id words", q: search.Query{Text: "ev-00042"}},
		{name: "id lookup", q: search.Query{ID: "ev:00007.x"}},
		{name: "id lookup is exact", q: search.Query{ID: "EV-00042"}},
		{name: "id lookup and text", q: search.Query{ID: "ev-00043", Text: "video"}},
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
				var walked []search.Hit
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
					checkHits(t, off, res.Hits, wantPage, q.Text)
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

// checkHits compares hits with the reference, and their highlights with what text matches.
func checkHits(t *testing.T, off int, got []search.Hit, want []search.Doc, text string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("offset %d: %d hits, want %d", off, len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.Type != w.Type || g.Subject != w.Subject || g.Time != w.Time || g.Received != w.Received ||
			g.Stage != w.Stage || g.Reason != w.Reason || !sameJSON(g.Data, w.Data) {
			t.Fatalf("offset %d hit %d:\n got %+v\nwant %+v", off, i, g.Doc, w)
		}
		if hl, _ := highlights(w, text); !maps.EqualFunc(g.Highlights, hl, slices.Equal) && (len(g.Highlights) > 0 || len(hl) > 0) {
			t.Fatalf("offset %d hit %d (%s) highlights %v, want %v", off, i, w.ID, g.Highlights, hl)
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
		checkHits(t, 0, res.Hits, want[:min(50, len(want))], q.Text)
	}
}

// testTyped holds the engines to what a person typing into the search box expects, case by
// case, and to facet value search.
func testTyped(t *testing.T, e search.Engine) {
	docs := []search.Doc{
		{ID: "evt-m3k9x2-4f", Type: "video_liked", Subject: "kitchen-42", Time: base, Received: base,
			Data: json.RawMessage(`{"title":"Delicious pancakes","code":"123456"}`)},
		{ID: "evt-q7", Type: "video_viewed", Subject: "garden-7", Time: base + 1, Received: base + 1,
			Data: json.RawMessage(`{"title":"Tomato harvest"}`)},
		{ID: "evt-q8", Type: "page.viewed", Subject: "video-12", Time: base + 2, Received: base + 2},
	}
	indexAll(t, e, docs)
	for _, tc := range []struct {
		q          search.Query
		want       []string // ids, newest first
		highlights map[string][]string
	}{
		{search.Query{Text: "evt-m3k9x2-4f"}, []string{"evt-m3k9x2-4f"}, map[string][]string{"id": {"4f", "evt", "m3k9x2"}}},
		{search.Query{ID: "evt-q7"}, []string{"evt-q7"}, nil},
		{search.Query{Text: "pancakez"}, []string{"evt-m3k9x2-4f"}, map[string][]string{"text": {"pancakes"}}},
		{search.Query{Text: "delicous pancakes"}, []string{"evt-m3k9x2-4f"}, map[string][]string{"text": {"delicious", "pancakes"}}},
		{search.Query{Text: "kitchan"}, nil, nil},  // no typo in a subject
		{search.Query{Text: "m3k9x3"}, nil, nil},   // nor in an id
		{search.Query{Text: "123457"}, nil, nil},   // nor in a number
		{search.Query{Text: "tomatoes"}, nil, nil}, // two typos in an 8-letter word
		{search.Query{Text: "kitchen"}, []string{"evt-m3k9x2-4f"}, map[string][]string{"subject": {"kitchen"}}},
		{search.Query{Text: "pan"}, []string{"evt-m3k9x2-4f"}, map[string][]string{"text": {"pancakes"}}},
		{search.Query{Text: "pan "}, nil, nil},
		{search.Query{Text: "vid"}, []string{"evt-q8", "evt-q7", "evt-m3k9x2-4f"},
			map[string][]string{"type": {"video_liked"}}}, // highlights of the last hit
		{search.Query{Text: "video_viewed"}, []string{"evt-q7"}, map[string][]string{"type": {"video_viewed"}}},
	} {
		tc.q.Limit = 10
		res, err := e.Search(context.Background(), tc.q)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, h := range res.Hits {
			got = append(got, h.ID)
		}
		if !slices.Equal(got, tc.want) || res.Total != int64(len(tc.want)) {
			t.Errorf("%+v: hits %v (total %d), want %v", tc.q, got, res.Total, tc.want)
			continue
		}
		if len(got) > 0 {
			if hl := res.Hits[len(got)-1].Highlights; !maps.EqualFunc(hl, tc.highlights, slices.Equal) && (len(hl) > 0 || len(tc.highlights) > 0) {
				t.Errorf("%+v: highlights %v, want %v", tc.q, hl, tc.highlights)
			}
		}
	}
	for _, tc := range []struct {
		prefix string
		limit  int
		want   []search.FacetValue
	}{
		{"", 10, []search.FacetValue{{Value: "page.viewed", Count: 1}, {Value: "video_liked", Count: 1}, {Value: "video_viewed", Count: 1}}},
		{"vid", 10, []search.FacetValue{{Value: "video_liked", Count: 1}, {Value: "video_viewed", Count: 1}}},
		{"VIDEO_V", 10, []search.FacetValue{{Value: "video_viewed", Count: 1}}},
		{"vid", 1, []search.FacetValue{{Value: "video_liked", Count: 1}}},
		{"zz", 10, []search.FacetValue{}},
	} {
		got, err := e.FacetValues(context.Background(), search.FacetType, tc.prefix, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("facet values %q limit %d: %v, want %v", tc.prefix, tc.limit, got, tc.want)
		}
	}
}
