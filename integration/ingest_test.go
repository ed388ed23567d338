package integration

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	api "github.com/pulsehq/pulse/client"
	"github.com/pulsehq/pulse/cmd/pulse/app"
	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/testenv"
)

// ingestAnswer is POST /v1/events' answer, or the error body around it, as a client reads it.
type ingestAnswer struct {
	Status     int    `json:"-"`
	RetryAfter string `json:"-"`
	api.Answer
	Error *struct {
		Code    string      `json:"code"`
		Message string      `json:"message"`
		Details *api.Answer `json:"details"`
	} `json:"error"`
}

// ingestPost sends body and decodes the answer; header is name, value pairs.
func ingestPost(t testing.TB, url, contentType string, body []byte, header ...string) ingestAnswer {
	t.Helper()
	a, err := ingestTry(url, contentType, body, header...)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func ingestTry(url, contentType string, body []byte, header ...string) (ingestAnswer, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return ingestAnswer{}, err
	}
	req.Header.Set("Content-Type", contentType)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return ingestAnswer{}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return ingestAnswer{}, err
	}
	a := ingestAnswer{Status: res.StatusCode, RetryAfter: res.Header.Get("Retry-After")}
	if err := json.Unmarshal(raw, &a); err != nil {
		return a, err
	}
	return a, nil
}

func TestIngestContentTypes(t *testing.T) {
	t.Parallel()
	EachMode(t, func(t *testing.T, m Mode) {
		p := StartMode(t, m, nil)
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		_, _ = zw.Write([]byte(`[{"id":"gz-1","type":"video_liked","subject":"v1"},{"id":"gz-2","type":"video_liked","subject":"v2"}]`))
		_ = zw.Close()
		cases := []struct {
			name, ct string
			body     []byte
			header   []string
			ids      []string
		}{
			{"json object", "application/json", []byte(`{"id":"j-1","type":"video_liked","subject":"v1","time":"2026-01-01T00:00:00Z","data":{"u":"a"}}`), nil, []string{"j-1"}},
			{"json array", "application/json; charset=utf-8", []byte(`[{"id":"a-1","type":"video_liked","subject":"v1"},{"id":"a-2","type":"video_viewed","subject":"v2","time":1790000000000}]`), nil, []string{"a-1", "a-2"}},
			{"ndjson", "application/x-ndjson", []byte("{\"id\":\"n-1\",\"type\":\"video_liked\",\"subject\":\"v1\"}\n{\"id\":\"n-2\",\"type\":\"video_liked\",\"subject\":\"v3\"}\n"), nil, []string{"n-1", "n-2"}},
			{"cloudevent", "application/cloudevents+json", []byte(`{"specversion":"1.0","id":"ce-1","source":"/shop","type":"video_liked","subject":"v1","data":{"u":"b"}}`), nil, []string{"ce-1"}},
			{"cloudevents batch", "application/cloudevents-batch+json", []byte(`[{"specversion":"1.0","id":"cb-1","source":"/shop","type":"video_liked","subject":"v1"},{"specversion":"1.0","id":"cb-2","source":"/shop","type":"video_liked","subject":"v2"}]`), nil, []string{"cb-1", "cb-2"}},
			{"gzip", "application/json", gz.Bytes(), []string{"Content-Encoding", "gzip"}, []string{"gz-1", "gz-2"}},
		}
		for _, tc := range cases {
			a := ingestPost(t, p.URL+"/v1/events", tc.ct, tc.body, tc.header...)
			if a.Status != http.StatusAccepted || a.Accepted != len(tc.ids) {
				t.Fatalf("%s: %d %+v", tc.name, a.Status, a)
			}
			for i, r := range a.Results {
				if r.ID != tc.ids[i] || r.Status != "accepted" {
					t.Errorf("%s: result %d = %+v", tc.name, i, r)
				}
			}
		}
		got := testenv.StoredEvents(t, p.Client(t), p.Layout)
		for _, tc := range cases {
			for _, id := range tc.ids {
				if len(got[id]) != 1 {
					t.Errorf("%s: %s stored %d times", tc.name, id, len(got[id]))
				}
			}
		}
		if ce := got["ce-1"][0]; ce.Source != "/shop" || ce.SpecVersion != "1.0" || string(ce.Data) != `{"u":"b"}` {
			t.Errorf("cloudevent stored as %+v", ce)
		}
		if a2 := got["a-2"][0]; a2.Time != 1790000000000 || a2.Type != "video_viewed" {
			t.Errorf("a-2 stored as %+v", a2)
		}
	})
}

func TestIngestPartialBatchAndDuplicates(t *testing.T) {
	t.Parallel()
	EachMode(t, func(t *testing.T, m Mode) {
		p := StartMode(t, m, nil)
		body := []byte(`[{"type":"video_liked","subject":"v1"},{"type":"Bad Type","subject":"v1"},{"id":"e-7","type":"video_liked","subject":"v1"}]`)
		a := ingestPost(t, p.URL+"/v1/events", "application/json", body)
		if a.Status != 202 || a.Accepted != 2 || a.Rejected != 1 || a.Results[1].Error.Code != "invalid_type" || a.Results[2].ID != "e-7" {
			t.Fatalf("partial batch: %d %+v", a.Status, a)
		}
		a = ingestPost(t, p.URL+"/v1/events", "application/json", []byte(`{"id":"e-7","type":"video_liked","subject":"v1"}`))
		if a.Status != 200 || a.Duplicates != 1 || a.Results[0].Status != "duplicate" {
			t.Fatalf("same id again: %d %+v", a.Status, a)
		}
		rdb := p.Client(t)
		if n := len(testenv.StoredEvents(t, rdb, p.Layout)["e-7"]); n != 1 {
			t.Fatalf("e-7 stored %d times", n)
		}
		if n := rdb.XLen(context.Background(), events.RejectedStream).Val(); n != 1 {
			t.Fatalf("%d rejected-input records, want 1", n)
		}
	})
}

func TestIngestAuth(t *testing.T) {
	t.Parallel()
	p := Start(t, nil, func(c *app.Config) {
		c.APIKeys = []string{"full-key"}
		c.BrowserKeys = []string{"browser-key"}
	})
	body := []byte(`{"type":"video_liked","subject":"v1"}`)
	cases := []struct {
		name   string
		header []string
		status int
	}{
		{"no key", nil, 401},
		{"unknown key", []string{"Authorization", "Bearer nope"}, 401},
		{"full key as bearer", []string{"Authorization", "Bearer full-key"}, 202},
		{"full key as X-API-Key", []string{"X-API-Key", "full-key"}, 202},
		{"browser key", []string{"X-API-Key", "browser-key"}, 202},
	}
	for _, tc := range cases {
		for _, path := range []string{"/v1/events", "/v1/videos/v1/likes"} {
			a := ingestPost(t, p.URL+path, "application/json", body, tc.header...)
			if a.Status != tc.status {
				t.Errorf("%s on %s: %d, want %d", tc.name, path, a.Status, tc.status)
			}
			if tc.status == 401 && (a.Error == nil || a.Error.Code != "unauthorized") {
				t.Errorf("%s on %s: body %+v", tc.name, path, a.Error)
			}
		}
	}
}

func TestIngestLimits(t *testing.T) {
	t.Parallel()
	p := Start(t, nil, func(c *app.Config) { c.Ingest.MaxBatch = 2; c.Ingest.MaxBody = 4096 })
	cases := []struct {
		name, ct, body string
		status         int
		code           string
	}{
		{"body too large", "application/json", `{"type":"t","subject":"s","data":{"x":"` + string(bytes.Repeat([]byte("x"), 5000)) + `"}}`, 413, "body_too_large"},
		{"batch too large", "application/json", `[{"type":"t","subject":"a"},{"type":"t","subject":"b"},{"type":"t","subject":"c"}]`, 413, "batch_too_large"},
		{"unknown content type", "text/csv", `a,b`, 415, "unsupported_media_type"},
		{"malformed", "application/json", `{"type":`, 400, "malformed_body"},
		{"one invalid", "application/json", `{"type":"t"}`, 400, "missing_subject"},
		{"all invalid", "application/json", `[{"type":"t"},{"subject":"s"}]`, 400, "invalid_events"},
	}
	for _, tc := range cases {
		a := ingestPost(t, p.URL+"/v1/events", tc.ct, []byte(tc.body))
		if a.Status != tc.status || a.Error == nil || a.Error.Code != tc.code {
			t.Errorf("%s: %d %+v, want %d %s", tc.name, a.Status, a.Error, tc.status, tc.code)
		}
	}
}

func TestIngestLike(t *testing.T) {
	t.Parallel()
	EachMode(t, func(t *testing.T, m Mode) {
		p := StartMode(t, m, nil)
		a := ingestPost(t, p.URL+"/v1/videos/video-42/likes", "application/json", []byte(`{"id":"like-1","data":{"user":"u1"}}`))
		if a.Status != 202 || a.Results[0].ID != "like-1" {
			t.Fatalf("like: %d %+v", a.Status, a)
		}
		e := testenv.StoredEvents(t, p.Client(t), p.Layout)["like-1"]
		if len(e) != 1 || e[0].Type != "video_liked" || e[0].Subject != "video-42" {
			t.Fatalf("stored %+v", e)
		}
	})
}

// Redis goes away: ingest answers 503 with Retry-After, and takes events again as soon as
// Redis is back, without restarting the process.
func TestIngestRedisOutage(t *testing.T) {
	t.Parallel()
	p := Start(t, nil, nil)
	if p.Redis.Kind != "binary" {
		t.Skipf("needs a restartable redis-server, have %s", p.Redis.Kind)
	}
	body := []byte(`{"id":"o-1","type":"video_liked","subject":"v1"}`)
	p.Redis.Stop()
	a := ingestPost(t, p.URL+"/v1/events", "application/json", body)
	if a.Status != 503 || a.RetryAfter == "" || a.Error.Code != "redis_unavailable" || a.Error.Details.Results[0].Status != "failed" {
		t.Fatalf("redis down: %d retry-after %q %+v", a.Status, a.RetryAfter, a.Error)
	}
	p.Redis.Start()
	testenv.WaitFor(t, 15*time.Second, "ingest to accept again", func() bool {
		a, err := ingestTry(p.URL+"/v1/events", "application/json", body)
		return err == nil && a.Status == 202
	})
	if n := len(testenv.StoredEvents(t, p.Redis.Client(), p.Layout)["o-1"]); n != 1 {
		t.Fatalf("o-1 stored %d times", n)
	}
}
