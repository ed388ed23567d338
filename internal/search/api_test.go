package search_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulsehq/pulse/internal/httpapi"
	"github.com/pulsehq/pulse/internal/search"
	"github.com/pulsehq/pulse/internal/search/searchtest"
)

type apiFixture struct {
	srv            *httptest.Server
	events, failed *searchtest.Faulty
}

func newAPI(t *testing.T) *apiFixture {
	t.Helper()
	open := func(name string) *searchtest.Faulty {
		e, err := search.OpenBleve(search.BleveConfig{Path: filepath.Join(t.TempDir(), name)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.Close() })
		return searchtest.NewFaulty(e)
	}
	f := &apiFixture{events: open("events"), failed: open("failures")}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	r := httpapi.Engine(log)
	api := &search.API{Events: f.events, Failures: f.failed, Log: log}
	api.Mount(r.Group("/v1"), r.Group("/v1"))
	f.srv = httptest.NewServer(r)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *apiFixture) get(t *testing.T, path string, into any) *http.Response {
	t.Helper()
	res, err := http.Get(f.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(into); err != nil {
		t.Fatalf("%s: decode: %v", path, err)
	}
	return res
}

func TestAPIBadParameters(t *testing.T) {
	t.Parallel()
	f := newAPI(t)
	long := strings.Repeat("w", 600)
	for _, tc := range []struct{ query, param string }{
		{"q=id:a+id:b", "q"},
		{"q=id:bad%2Fid", "q"},
		{"q=id:", "q"},
		{"limit=101", "limit"},
		{"limit=-1", "limit"},
		{"limit=ten", "limit"},
		{"offset=-5", "offset"},
		{"offset=100001", "offset"},
		{"sort=time", "sort"},
		{"sort=score:desc", "sort"},
		{"from=yesterday", "from"},
		{"to=1700000000", "to"}, // seconds, not ms
		{"from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "to"},
		{"q=" + long, "q"},
		{"type=" + strings.Repeat("t", 65), "type"},
		{"facets:facet=subject", "facet"},
		{"facets:q=vid", "facet"},
		{"facets:facet=type&q=" + strings.Repeat("v", 65), "q"},
		{"facets:facet=type&limit=101", "limit"},
	} {
		t.Run(tc.query[:min(len(tc.query), 40)], func(t *testing.T) {
			var body httpapi.Body
			path := "/v1/search?" + tc.query
			if strings.HasPrefix(tc.query, "facet") {
				path = "/v1/search/facets?" + strings.TrimPrefix(tc.query, "facets:")
			}
			res := f.get(t, path, &body)
			if res.StatusCode != http.StatusBadRequest || body.Error.Code != "invalid_parameter" {
				t.Fatalf("status %d body %+v, want 400 invalid_parameter", res.StatusCode, body)
			}
			if d, _ := body.Error.Details.(map[string]any); d["parameter"] != tc.param {
				t.Fatalf("details %v, want parameter %q", body.Error.Details, tc.param)
			}
		})
	}
}

func TestAPIAnswers(t *testing.T) {
	t.Parallel()
	f := newAPI(t)
	ctx := context.Background()
	err := f.events.Index(ctx, []search.Doc{
		{ID: "a", Type: "video_liked", Subject: "v1", Time: base, Received: base + 1, Data: json.RawMessage(`{"title":"cats on skis"}`)},
		{ID: "b", Type: "video_liked", Subject: "v2", Time: base + 1000, Received: base + 1001},
		{ID: "c", Type: "video_viewed", Subject: "v1", Time: base + 2000, Received: base + 2001, Data: json.RawMessage(`{"title":"dogs"}`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	err = f.failed.Index(ctx, []search.Doc{
		{ID: "1-0", Type: "video_liked", Subject: "v9", Time: base, Received: base, Stage: "counter", Reason: "script error"},
	})
	if err != nil {
		t.Fatal(err)
	}

	var got search.Response
	res := f.get(t, "/v1/search?type=video_liked&from=2026-01-02T03:04:05Z&to="+jsonNum(base+1000)+"&sort=time:asc", &got)
	if res.StatusCode != http.StatusOK || got.Total != 2 || len(got.Hits) != 2 || got.Hits[0].ID != "a" || got.Hits[1].ID != "b" {
		t.Fatalf("status %d, %+v", res.StatusCode, got)
	}
	if string(got.Hits[1].Data) != "{}" || got.Facets["type"]["video_liked"] != 2 {
		t.Fatalf("data %s facets %v: want {} and video_liked=2", got.Hits[1].Data, got.Facets)
	}

	var raw map[string]json.RawMessage
	f.get(t, "/v1/search?q=SKIS", &raw)
	for _, k := range []string{"hits", "total", "facets", "took_ms"} {
		if _, ok := raw[k]; !ok {
			t.Fatalf("answer %s lacks %q", raw, k)
		}
	}
	var hits []map[string]json.RawMessage
	_ = json.Unmarshal(raw["hits"], &hits)
	if len(hits) != 1 || string(hits[0]["id"]) != `"a"` || len(hits[0]) != 7 || string(hits[0]["highlights"]) != `{"text":["skis"]}` {
		t.Fatalf("hits %s: want one hit with exactly id, type, subject, time, received, data, highlights of skis", raw["hits"])
	}

	// An id: word is an exact lookup; the rest of q still has to match.
	for _, tc := range []struct {
		q    string
		want int64
	}{{"id:a", 1}, {"id:a+cats", 1}, {"id:a+dogs", 0}, {"dogs+id:c", 1}, {"id:A", 0}} {
		f.get(t, "/v1/search?q="+tc.q, &got)
		if got.Total != tc.want {
			t.Fatalf("q=%s: total %d, want %d", tc.q, got.Total, tc.want)
		}
	}

	var facets search.FacetsResponse
	f.get(t, "/v1/search/facets?facet=type&q=video_v", &facets)
	if facets.Facet != "type" || len(facets.Values) != 1 || facets.Values[0] != (search.FacetValue{Value: "video_viewed", Count: 1}) {
		t.Fatalf("facet values: %+v", facets)
	}

	f.get(t, "/v1/search/failures?stage=counter&q=script", &got)
	if got.Total != 1 || got.Hits[0].Reason != "script error" || got.Facets["stage"]["counter"] != 1 {
		t.Fatalf("failures: %+v", got)
	}

	f.events.SetDown(true)
	var body httpapi.Body
	res = f.get(t, "/v1/search", &body)
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" || body.Error.Code != "search_unavailable" {
		t.Fatalf("engine down: status %d %+v", res.StatusCode, body)
	}
}

func jsonNum(n int64) string { b, _ := json.Marshal(n); return string(b) }
