package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pulsehq/pulse/cmd/pulse/app"
	"github.com/pulsehq/pulse/internal/httpapi"
	"github.com/pulsehq/pulse/internal/search"
	"github.com/pulsehq/pulse/internal/testenv"
)

const (
	searchBrowserKey = "search-browser-key"
	searchFullKey    = "search-full-key"
)

// searchGet GETs path with the browser key and decodes the answer into v; it returns the status.
func searchGet(t *testing.T, p *Pulse, path string, v any) int {
	t.Helper()
	return searchGetAs(t, p, searchBrowserKey, path, v)
}

// searchGetAs is searchGet with another key.
func searchGetAs(t *testing.T, p *Pulse, key, path string, v any) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, p.URL+path, nil)
	req.Header.Set("X-API-Key", key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: status %d, decode: %v", path, res.StatusCode, err)
	}
	return res.StatusCode
}

func postEvents(t *testing.T, p *Pulse, body string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, p.URL+"/v1/events", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", searchBrowserKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestSearchEndToEnd: events posted to ingest are found through /v1/search by a word of their
// data and by type and time range with exact totals; rejected input is found through
// /v1/search/failures; the API needs a key and answers bad parameters with 400.
func TestSearchEndToEnd(t *testing.T) {
	t.Parallel()
	EachMode(t, func(t *testing.T, m Mode) {
		p := StartMode(t, m, func(c *app.Config) {
			c.Partitions = 4
			c.APIKeys = []string{searchFullKey}
			c.BrowserKeys = []string{searchBrowserKey}
		})

		base := time.Now().Add(-2 * time.Minute).Truncate(time.Second)
		var evs []map[string]any
		for i := range 40 {
			evs = append(evs, map[string]any{
				"id": fmt.Sprintf("e2e:%d", i), "type": []string{"video_liked", "video_viewed"}[i%2],
				"subject": fmt.Sprintf("video-%d", i%3), "time": base.Add(time.Duration(i) * time.Second).UnixMilli(),
				"data": map[string]any{"n": i},
			})
		}
		body, _ := json.Marshal(evs)
		if code := postEvents(t, p, string(body)); code != http.StatusAccepted {
			t.Fatalf("post events: %d", code)
		}
		posted := time.Now()
		if code := postEvents(t, p, `{"id":"needle","type":"video_liked","subject":"video-9","data":{"title":"zebracorn on ice"}}`); code != http.StatusAccepted {
			t.Fatalf("post needle: %d", code)
		}
		var res search.Response
		testenv.WaitFor(t, 10*time.Second, "the needle found by a word of its data", func() bool {
			searchGet(t, p, "/v1/search?q=zebracorn", &res)
			return res.Total == 1
		})
		t.Logf("posted → searchable in %s (IndexWait %s)", time.Since(posted).Round(time.Millisecond), p.Config.Indexer.Wait)
		if h := res.Hits[0]; h.ID != "needle" || h.Type != "video_liked" || h.Subject != "video-9" || h.Received == 0 {
			t.Fatalf("needle hit %+v", h)
		}

		testenv.WaitFor(t, 10*time.Second, "every event indexed", func() bool {
			searchGet(t, p, "/v1/search?limit=0", &res)
			return res.Total == 41
		})
		// video_liked are the even i: in [5 s, 14 s] that is i = 6, 8, 10, 12, 14.
		from := url.QueryEscape(base.Add(5 * time.Second).Format(time.RFC3339))
		to := fmt.Sprint(base.Add(14 * time.Second).UnixMilli())
		if code := searchGet(t, p, "/v1/search?type=video_liked&from="+from+"&to="+to+"&sort=time:asc", &res); code != http.StatusOK {
			t.Fatalf("range search: %d", code)
		}
		if res.Total != 5 || len(res.Hits) != 5 || res.Facets["type"]["video_liked"] != 5 || len(res.Facets["type"]) != 1 {
			t.Fatalf("range search: total %d, %d hits, facets %v; want 5 video_liked", res.Total, len(res.Hits), res.Facets)
		}
		for i, h := range res.Hits {
			if want := fmt.Sprintf("e2e:%d", 6+2*i); h.ID != want {
				t.Fatalf("hit %d is %s, want %s", i, h.ID, want)
			}
		}

		if code := postEvents(t, p, `{"type":"Not A Type","subject":"x"}`); code != http.StatusBadRequest {
			t.Fatalf("invalid event: %d, want 400", code)
		}
		// Failure records hold what producers sent: a full key only.
		testenv.WaitFor(t, 10*time.Second, "the rejected event found among failures", func() bool {
			searchGetAs(t, p, searchFullKey, "/v1/search/failures?stage=ingest&q=invalid_type", &res)
			return res.Total == 1
		})
		var body403 httpapi.Body
		if code := searchGet(t, p, "/v1/search/failures", &body403); code != http.StatusForbidden || body403.Error.Code != "forbidden" {
			t.Fatalf("failures with a browser key: %d %+v, want 403 forbidden", code, body403)
		}
		if res.Facets["stage"]["ingest"] != 1 || res.Hits[0].Stage != "ingest" {
			t.Fatalf("failures answer %+v", res)
		}

		var body400 httpapi.Body
		if code := searchGet(t, p, "/v1/search?limit=101", &body400); code != http.StatusBadRequest || body400.Error.Code != "invalid_parameter" {
			t.Fatalf("limit=101: %d %+v", code, body400)
		}
		anon, err := http.Get(p.URL + "/v1/search")
		if err != nil {
			t.Fatal(err)
		}
		anon.Body.Close()
		if anon.StatusCode != http.StatusUnauthorized {
			t.Fatalf("no key: %d, want 401", anon.StatusCode)
		}
	})
}
