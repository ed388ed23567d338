package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/failures"
	"github.com/pulsehq/pulse/internal/testenv"
)

func gz(t testing.TB, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func batchOf(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(`{"type":"t","subject":"s%d"}`, i)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// TestLimitsAndAnswers covers every way a request is refused as a whole, and each answer
// status, against one ingest API on a real Redis.
func TestLimitsAndAnswers(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{MaxBody: 2048, MaxBatch: 3, Layout: events.Layout{Partitions: 2, Tags: events.TagsNumbered}})
	ok := `{"type":"t","subject":"s"}`
	bad := `{"type":"T","subject":"s"}`
	cases := []struct {
		name    string
		ct      string
		body    []byte
		header  []string
		status  int
		code    string // error code, or "" for an answer body
		results []string
	}{
		{"one event", "application/json", []byte(ok), nil, 202, "", []string{"accepted"}},
		{"charset param", "application/json; charset=UTF-8", []byte(ok), nil, 202, "", []string{"accepted"}},
		{"no content type", "", []byte(ok), nil, 415, "unsupported_media_type", nil}, // a cross-site page can send one without a preflight
		{"partial batch", "application/json", []byte("[" + ok + "," + bad + "," + ok + "]"), nil, 202, "",
			[]string{"accepted", "rejected", "accepted"}},
		{"batch at limit", "application/x-ndjson", []byte(ok + "\n" + ok + "\n" + ok), nil, 202, "", []string{"accepted", "accepted", "accepted"}},
		{"gzip", "application/json", gz(t, ok), []string{"Content-Encoding", "gzip"}, 202, "", []string{"accepted"}},
		{"body at limit", "application/json", []byte(ok + strings.Repeat(" ", 2048-len(ok))), nil, 202, "", []string{"accepted"}},
		{"body over limit", "application/json", []byte(ok + strings.Repeat(" ", 2049-len(ok))), nil, 413, "body_too_large", nil},
		{"gzip over limit once inflated", "application/json", gz(t, ok+strings.Repeat(" ", 4096)), []string{"Content-Encoding", "gzip"}, 413, "body_too_large", nil},
		{"batch over limit", "application/json", []byte(batchOf(4)), nil, 413, "batch_too_large", nil},
		{"ndjson over limit", "application/x-ndjson", []byte(strings.Repeat(ok+"\n", 4)), nil, 413, "batch_too_large", nil},
		{"unknown content type", "text/plain", []byte(ok), nil, 415, "unsupported_media_type", nil},
		{"form content type", "application/x-www-form-urlencoded", []byte(ok), nil, 415, "unsupported_media_type", nil},
		{"latin-1 charset", "application/json; charset=iso-8859-1", []byte(ok), nil, 415, "unsupported_charset", nil},
		{"brotli", "application/json", []byte(ok), []string{"Content-Encoding", "br"}, 415, "unsupported_encoding", nil},
		{"corrupt gzip", "application/json", []byte("not gzip"), []string{"Content-Encoding", "gzip"}, 400, "malformed_body", nil},
		{"malformed json", "application/json", []byte(`[{"type":`), nil, 400, "malformed_body", nil},
		{"scalar body", "application/json", []byte(`"x"`), nil, 400, "malformed_body", nil},
		{"cloudevent given an array", "application/cloudevents+json", []byte("[" + ok + "]"), nil, 400, "malformed_body", nil},
		{"empty body", "application/json", nil, nil, 400, "empty_body", nil},
		{"empty array", "application/json", []byte("[]"), nil, 400, "empty_body", nil},
		{"one invalid event", "application/json", []byte(bad), nil, 400, "invalid_type", []string{"rejected"}},
		{"all invalid", "application/json", []byte("[" + bad + ",1]"), nil, 400, "invalid_events", []string{"rejected", "rejected"}},
		{"all duplicates", "application/json", []byte(`{"id":"dup","type":"t","subject":"s"}`), nil, 200, "", []string{"duplicate"}},
		{"duplicate beside invalid", "application/json", []byte(`[{"id":"dup","type":"t","subject":"s"},` + bad + "]"), nil, 200, "",
			[]string{"duplicate", "rejected"}},
	}
	// "dup" exists before the table runs.
	if r := post(t, f.url+"/v1/events", "application/json", []byte(`{"id":"dup","type":"t","subject":"s"}`)); r.status != 202 {
		t.Fatalf("seed: %d", r.status)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := post(t, f.url+"/v1/events", tc.ct, tc.body, tc.header...)
			if r.status != tc.status {
				t.Fatalf("status %d (%+v), want %d", r.status, r.err, tc.status)
			}
			body := r.body
			if tc.code != "" {
				if r.err.Code != tc.code {
					t.Fatalf("code %q (%s), want %q", r.err.Code, r.err.Message, tc.code)
				}
				body = r.err.Details
			}
			if len(body.Results) != len(tc.results) {
				t.Fatalf("%d results, want %d", len(body.Results), len(tc.results))
			}
			for i, res := range body.Results {
				if res.Status != tc.results[i] {
					t.Errorf("result %d: %s, want %s", i, res.Status, tc.results[i])
				}
				if (res.Status == "rejected") != (res.Error != nil) {
					t.Errorf("result %d: status %s with error %v", i, res.Status, res.Error)
				}
				if res.Status != "rejected" && !events.ValidID(res.ID) {
					t.Errorf("result %d: id %q", i, res.ID)
				}
			}
		})
	}
}

// Rejected items and malformed bodies land in the rejected-input store with their reason.
func TestRejectionsRecorded(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	post(t, f.url+"/v1/events", "application/json", []byte(`[{"type":"t","subject":"s"},{"type":"BAD","subject":"s"}]`))
	post(t, f.url+"/v1/events", "application/x-ndjson", []byte(`{"type":"t"`))
	post(t, f.url+"/v1/events", "application/json", []byte(`{"oops"`+strings.Repeat(" ", 10000)))
	msgs, err := f.rdb.XRange(context.Background(), events.RejectedStream, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 3 {
		t.Fatalf("%d failure records, want 3", len(msgs))
	}
	want := []struct{ reason, body string }{
		{"invalid_type: ", `{"type":"BAD","subject":"s"}`},
		{"malformed_event: ", `{"type":"t"`},
		{"malformed_body: ", `{"oops"`},
	}
	for i, m := range msgs {
		fl := failures.Decode(m.Values)
		if fl.Stage != "ingest" || !strings.HasPrefix(fl.Reason, want[i].reason) || fl.Record["request_id"] == "" {
			t.Errorf("record %d: %+v", i, fl)
		}
		if !strings.HasPrefix(fl.Record["body"], want[i].body) || len(fl.Record["body"]) > maxRecord+len("…") {
			t.Errorf("record %d body: %.60q (%d bytes)", i, fl.Record["body"], len(fl.Record["body"]))
		}
	}
}

func TestLike(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Layout: events.Layout{Partitions: 4, Tags: events.TagsNumbered}})
	cases := []struct {
		name, path, ct, body string
		status               int
		code                 string
	}{
		{"no body", "/v1/videos/v-1/likes", "application/json", "", 202, ""},
		{"no content type", "/v1/videos/v-1/likes", "", "", 415, "unsupported_media_type"}, // a bodiless cross-site form post
		{"text/plain", "/v1/videos/v-1/likes", "text/plain", `{"id":"like-2"}`, 415, "unsupported_media_type"},
		{"cloudevent", "/v1/videos/v-1/likes", "application/cloudevents+json", `{"id":"like-3"}`, 415, "unsupported_media_type"},
		{"with id and data", "/v1/videos/v-1/likes", "application/json", `{"id":"like-1","data":{"user":"u1"},"time":"2026-01-01T00:00:00Z"}`, 202, ""},
		{"same id again", "/v1/videos/v-1/likes", "application/json", `{"id":"like-1"}`, 200, ""},
		{"type in body is ignored", "/v1/videos/v-2/likes", "application/json", `{"type":5,"subject":"x"}`, 202, ""},
		{"bad id", "/v1/videos/v-1/likes", "application/json", `{"id":"no spaces"}`, 400, "invalid_id"},
		{"not an object", "/v1/videos/v-1/likes", "application/json", `[1]`, 400, "malformed_body"},
		{"subject too long", "/v1/videos/" + strings.Repeat("v", 129) + "/likes", "application/json", "", 400, "invalid_subject"},
	}
	for _, tc := range cases {
		r := post(t, f.url+tc.path, tc.ct, []byte(tc.body))
		if r.status != tc.status || r.err.Code != tc.code {
			t.Errorf("%s: %d %q, want %d %q", tc.name, r.status, r.err.Code, tc.status, tc.code)
		}
	}
	got := testenv.StoredEvents(t, f.rdb, events.Layout{Partitions: 4, Tags: events.TagsNumbered})
	like := got["like-1"]
	if len(like) != 1 || like[0].Type != LikeType || like[0].Subject != "v-1" || string(like[0].Data) != `{"user":"u1"}` {
		t.Fatalf("like-1 stored as %+v", like)
	}
	if len(got) != 3 {
		t.Errorf("%d likes stored, want 3", len(got))
	}
}

func TestMethodNotAllowedIsJSON(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	res, err := http.Get(f.url + "/v1/events")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET /v1/events: %d", res.StatusCode)
	}
}
