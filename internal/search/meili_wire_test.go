package search_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/pulsehq/pulse/internal/search"
)

// fakeMeili answers the few Meilisearch endpoints the engine calls, records what it was sent,
// and fails document tasks on demand. It checks the requests the adapter makes, which the
// conformance suite cannot do here without Docker; it is no stand-in for a real server.
type fakeMeili struct {
	mu       sync.Mutex
	calls    []string          // "METHOD /path" in order
	bodies   map[string][]byte // last body per call
	tasks    map[int]map[string]any
	next     int
	taskFail map[string]any // error of the next document task, if set
}

func newFakeMeili(t *testing.T) (*fakeMeili, *httptest.Server) {
	f := &fakeMeili{bodies: map[string][]byte{}, tasks: map[int]map[string]any{}}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeMeili) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	call := r.Method + " " + r.URL.Path
	f.calls = append(f.calls, call)
	f.bodies[call] = body
	task := func(errBody map[string]any) {
		f.next++
		t := map[string]any{"uid": f.next, "status": "succeeded"}
		if errBody != nil {
			t["status"], t["error"] = "failed", errBody
		}
		f.tasks[f.next] = t
		w.WriteHeader(http.StatusAccepted)
		_ = json.NewEncoder(w).Encode(map[string]any{"taskUid": f.next, "status": "enqueued"})
	}
	switch {
	case strings.HasPrefix(r.URL.Path, "/tasks/"):
		id, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/tasks/"))
		_ = json.NewEncoder(w).Encode(f.tasks[id])
	case call == "POST /indexes":
		task(nil)
	case strings.HasSuffix(call, "/documents"):
		errBody := f.taskFail
		f.taskFail = nil
		task(errBody)
	case r.Method == http.MethodPatch, strings.HasSuffix(call, "/documents/delete"):
		task(nil)
	case call == "POST /multi-search":
		// As Meilisearch answers a prefix: only the typed part of a word is marked.
		_, _ = io.WriteString(w, `{"results":[
			{"hits":[],"totalHits":7,"facetDistribution":{"type":{"video_liked":5,"x":2}}},
			{"hits":[{"id":"a.b:c","type":"video_liked","subject":"v1","time":2,"received":3,"data":"{\"k\":\"v\"}",
				"_formatted":{"id":"a.b:c","type":"video_liked","subject":"v1","text":"\u0002Cat\u0003s on \u0002ski\u0003s, \u0002ski\u0003s"}}]}]}`)
	case call == "POST /indexes/ev/facet-search":
		_, _ = io.WriteString(w, `{"facetHits":[{"value":"video_viewed","count":2},{"value":"page_video","count":9},{"value":"video_liked","count":5}],"facetQuery":"video","processingTimeMs":0}`)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeMeili) body(call string, v any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_ = json.Unmarshal(f.bodies[call], v)
}

func TestMeilisearchWire(t *testing.T) {
	t.Parallel()
	f, srv := newFakeMeili(t)
	e, err := search.NewMeilisearch(search.MeiliConfig{URL: srv.URL, Key: "k", Index: "ev"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	docs := []search.Doc{
		{ID: "a.b:c", Type: "video_liked", Subject: "v1", Time: 2, Received: 3, Data: json.RawMessage(`{"k":"v"}`)},
		{ID: "plain", Type: "x", Subject: "v2", Time: 4, Received: 5},
	}
	if err := e.Index(ctx, docs); err != nil {
		t.Fatal(err)
	}

	t.Run("settings before the first document", func(t *testing.T) {
		f.mu.Lock()
		calls := slices.Clone(f.calls)
		f.mu.Unlock()
		var writes []string
		for _, c := range calls {
			if !strings.HasPrefix(c, "GET ") {
				writes = append(writes, c)
			}
		}
		want := []string{"POST /indexes", "PATCH /indexes/ev/settings", "POST /indexes/ev/documents"}
		if !slices.Equal(writes, want) {
			t.Fatalf("writes %v, want %v", writes, want)
		}
		var s struct {
			RankingRules []string                     `json:"rankingRules"`
			Filterable   []string                     `json:"filterableAttributes"`
			Sortable     []string                     `json:"sortableAttributes"`
			Searchable   []string                     `json:"searchableAttributes"`
			Pagination   struct{ MaxTotalHits int64 } `json:"pagination"`
			Displayed    []string                     `json:"displayedAttributes"`
			Typo         struct {
				Enabled             bool
				DisableOnAttributes []string
				DisableOnNumbers    bool
				MinWordSizeForTypos struct{ OneTypo, TwoTypos int }
			} `json:"typoTolerance"`
			PrefixSearch string `json:"prefixSearch"`
		}
		f.body("PATCH /indexes/ev/settings", &s)
		if s.RankingRules[0] != "sort" || !slices.Equal(s.Filterable, []string{"id", "type", "subject", "stage", "time"}) ||
			!slices.Contains(s.Sortable, "time") || !slices.Contains(s.Sortable, "key") || s.Pagination.MaxTotalHits < 1_000_000 ||
			s.PrefixSearch != "indexingTime" || !slices.Equal(s.Searchable, []string{"id", "type", "subject", "text"}) ||
			!slices.Contains(s.Displayed, "text") {
			t.Fatalf("settings %+v", s)
		}
		// Typos in free text only, as the embedded engine.
		if !s.Typo.Enabled || !slices.Equal(s.Typo.DisableOnAttributes, []string{"id", "type", "subject"}) || !s.Typo.DisableOnNumbers ||
			s.Typo.MinWordSizeForTypos.OneTypo != 5 || s.Typo.MinWordSizeForTypos.TwoTypos != 9 {
			t.Fatalf("typo tolerance %+v", s.Typo)
		}
	})

	t.Run("documents keyed by base64url ids", func(t *testing.T) {
		var sent []map[string]any
		f.body("POST /indexes/ev/documents", &sent)
		valid := regexp.MustCompile(`^[A-Za-z0-9_-]{1,511}$`)
		for i, d := range sent {
			key, _ := d["key"].(string)
			raw, _ := base64.RawURLEncoding.DecodeString(key)
			if !valid.MatchString(key) || string(raw) != docs[i].ID || d["id"] != docs[i].ID {
				t.Fatalf("document %v: key must be base64url of the id", d)
			}
		}
		if sent[0]["data"] != `{"k":"v"}` || sent[0]["text"] != "v" || sent[0]["subject"] != "v1" {
			t.Fatalf("document %v: data as JSON text, its values as text, the subject apart", sent[0])
		}
	})

	t.Run("rejected or failed tasks", func(t *testing.T) {
		f.mu.Lock()
		f.taskFail = map[string]any{"code": "invalid_document_fields", "type": "invalid_request", "message": "bad"}
		f.mu.Unlock()
		if err := e.Index(ctx, docs); !errors.Is(err, search.ErrRejected) {
			t.Fatalf("invalid_request task: %v, want ErrRejected", err)
		}
		f.mu.Lock()
		f.taskFail = map[string]any{"code": "internal", "type": "internal", "message": "disk full"}
		f.mu.Unlock()
		if err := e.Index(ctx, docs); err == nil || errors.Is(err, search.ErrRejected) {
			t.Fatalf("internal task failure: %v, want a retryable error", err)
		}
	})

	t.Run("search", func(t *testing.T) {
		res, err := e.Search(ctx, search.Query{
			Text: `-cats "on skis"`, Types: []string{"video_liked", `x"y`}, Subject: `v\1`, ID: "a.b:c",
			From: 1, To: 9, Asc: true, Limit: 10, Offset: 30, Facets: []string{search.FacetType},
		})
		if err != nil {
			t.Fatal(err)
		}
		var sent struct{ Queries []map[string]any }
		f.body("POST /multi-search", &sent)
		wantFilter := `type IN ["video_liked", "x\"y"] AND id = "a.b:c" AND subject = "v\\1" AND time >= 1 AND time <= 9`
		counts, hits := sent.Queries[0], sent.Queries[1]
		if counts["filter"] != wantFilter || hits["filter"] != wantFilter || counts["q"] != "cats on skis" {
			t.Fatalf("filter %q / q %q, want %q / %q", counts["filter"], counts["q"], wantFilter, "cats on skis")
		}
		if counts["hitsPerPage"] != 0.0 || counts["page"] != 1.0 || counts["matchingStrategy"] != "all" {
			t.Fatalf("count query %v: want page mode with no hits, all words", counts)
		}
		if hits["offset"] != 30.0 || hits["limit"] != 10.0 || !slices.Equal(toStrings(hits["sort"]), []string{"time:asc", "key:asc"}) ||
			!slices.Equal(toStrings(hits["attributesToHighlight"]), []string{"id", "type", "subject", "text"}) ||
			hits["highlightPreTag"] != "\x02" || hits["highlightPostTag"] != "\x03" || !slices.Contains(toStrings(hits["attributesToRetrieve"]), "text") {
			t.Fatalf("hits query %v", hits)
		}
		if hl := res.Hits[0].Highlights; len(hl) != 1 || !slices.Equal(hl["text"], []string{"cats", "skis"}) {
			t.Fatalf("highlights %v: want the whole marked words of text, each once", hl)
		}
		if res.Total != 7 || res.Facets["type"]["x"] != 2 || len(res.Hits) != 1 ||
			res.Hits[0].ID != "a.b:c" || string(res.Hits[0].Data) != `{"k":"v"}` {
			t.Fatalf("result %+v", res)
		}
	})

	t.Run("facet values", func(t *testing.T) {
		got, err := e.FacetValues(ctx, search.FacetType, "video", 10)
		if err != nil {
			t.Fatal(err)
		}
		var sent map[string]any
		f.body("POST /indexes/ev/facet-search", &sent)
		if sent["facetName"] != "type" || sent["facetQuery"] != "video" || sent["exhaustiveFacetCount"] != true {
			t.Fatalf("facet search %v", sent)
		}
		// Inner-word matches are dropped: values start with the prefix, as on the embedded engine.
		want := []search.FacetValue{{Value: "video_liked", Count: 5}, {Value: "video_viewed", Count: 2}}
		if !slices.Equal(got, want) {
			t.Fatalf("facet values %v, want %v", got, want)
		}
	})

	t.Run("retention deletes by filter", func(t *testing.T) {
		if err := e.DeleteBefore(ctx, 12345); err != nil {
			t.Fatal(err)
		}
		var sent map[string]any
		f.body("POST /indexes/ev/documents/delete", &sent)
		if sent["filter"] != "time < 12345" {
			t.Fatalf("delete %v", sent)
		}
	})

	t.Run("server down", func(t *testing.T) {
		srv.Close()
		if err := e.Index(ctx, docs); err == nil || errors.Is(err, search.ErrRejected) {
			t.Fatalf("server down: %v, want a retryable error", err)
		}
	})
}

func toStrings(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, s := range l {
		str, _ := s.(string)
		out = append(out, str)
	}
	return out
}
