package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	api "github.com/pulsehq/pulse/client"
	"github.com/pulsehq/pulse/cmd/pulse/app"
	"github.com/pulsehq/pulse/internal/failures"
	"github.com/pulsehq/pulse/internal/testenv"
)

// counterPulse runs ingest and counter in one process.
func counterPulse(t *testing.T, tune func(*app.Config)) *Pulse {
	t.Helper()
	return Start(t, nil, counterTune(tune))
}

// counterTune is the configuration of counter tests: ingest and counter roles, 4 partitions.
func counterTune(tune func(*app.Config)) func(*app.Config) {
	return func(c *app.Config) {
		c.Roles = []string{"ingest", "counter"}
		c.Partitions = 4
		if tune != nil {
			tune(c)
		}
	}
}

// call does a request and decodes the JSON answer into out (when not nil).
func call(t *testing.T, method, u, key string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, u, res.StatusCode, raw, err)
		}
	}
	return res.StatusCode
}

// TestCounterAcceptance is the scenario with the default windows: likes 30 s, 2 min,
// 7 min and 12 min ago count 1m=1, 5m=2, 10m=3 as soon as they are applied.
func TestCounterAcceptance(t *testing.T) {
	t.Parallel()
	EachMode(t, func(t *testing.T, m Mode) {
		p := StartMode(t, m, counterTune(nil))
		now := time.Now()
		for _, ago := range []time.Duration{30 * time.Second, 2 * time.Minute, 7 * time.Minute, 12 * time.Minute} {
			body := map[string]any{"time": now.Add(-ago).Format(time.RFC3339Nano)}
			if code := call(t, http.MethodPost, p.URL+"/v1/videos/video-7/likes", "", body, nil); code != http.StatusAccepted {
				t.Fatalf("post like: %d", code)
			}
		}
		type windowsAnswer struct {
			At      int64            `json:"at"`
			Windows []string         `json:"windows"`
			Counts  []map[string]any `json:"counts"`
		}
		var ans windowsAnswer
		testenv.WaitFor(t, 10*time.Second, "likes counted", func() bool {
			call(t, http.MethodGet, p.URL+"/v1/windows?type=video_liked&subject=video-7&subject=video-8", "", nil, &ans)
			return len(ans.Counts) == 2 && ans.Counts[0]["10m"] == float64(3)
		})
		want := []map[string]any{
			{"type": "video_liked", "subject": "video-7", "1m": float64(1), "5m": float64(2), "10m": float64(3)},
			{"type": "video_liked", "subject": "video-8", "1m": float64(0), "5m": float64(0), "10m": float64(0)},
		}
		if fmt.Sprint(ans.Counts) != fmt.Sprint(want) || strings.Join(ans.Windows, ",") != "1m,5m,10m" || ans.At < now.UnixMilli() {
			t.Errorf("windows answer %+v, want counts %v", ans, want)
		}

		var top api.Top
		if code := call(t, http.MethodGet, p.URL+"/v1/top?type=video_liked&window=5m&limit=10", "", nil, &top); code != http.StatusOK {
			t.Fatalf("top: %d", code)
		}
		if top.Type != "video_liked" || top.Window != "5m" || len(top.Entries) != 1 || top.Entries[0].Subject != "video-7" || top.Entries[0].Count != 2 || top.At == 0 {
			t.Errorf("top answer %+v", top)
		}

		var counts api.Counts
		q := url.Values{"type": {"video_liked"}, "subject": {"video-7"}, "from": {now.Add(-time.Hour).Format(time.RFC3339)}, "to": {fmt.Sprint(now.UnixMilli())}, "step": {"5m"}}
		// The 12-minute-old like is in no window, so the wait above does not cover it: it may
		// be applied (to history only) a batch later.
		testenv.WaitFor(t, 10*time.Second, "the four likes in history", func() bool {
			if code := call(t, http.MethodGet, p.URL+"/v1/counts?"+q.Encode(), "", nil, &counts); code != http.StatusOK {
				t.Fatalf("counts: %d", code)
			}
			return counts.Count >= 4
		})
		var sum int64
		for _, pt := range counts.Series {
			sum += pt.Count
		}
		if counts.Count != 4 || sum != 4 || len(counts.Series) != 13 || counts.Subject == nil || counts.From%60_000 != 0 || counts.To%60_000 != 0 {
			t.Errorf("counts answer %+v, want 4 events in 13 points of 5 minutes", counts)
		}
		q.Del("subject")
		q.Del("step")
		counts.Series, counts.Subject = nil, nil
		call(t, http.MethodGet, p.URL+"/v1/counts?"+q.Encode(), "", nil, &counts)
		if counts.Count != 4 || counts.Series != nil || counts.Subject != nil {
			t.Errorf("counts of the type %+v, want 4 and no series", counts)
		}
	})
}

func TestCounterBadParameters(t *testing.T) {
	t.Parallel()
	p := counterPulse(t, nil)
	cases := []struct{ path, param string }{
		{"/v1/windows?subject=a", "type"},
		{"/v1/windows?type=Bad:Type&subject=a", "type"},
		{"/v1/windows?type=video_liked", "subject"},
		{"/v1/windows?type=video_liked&subject=" + url.QueryEscape("a\x01b"), "subject"},
		{"/v1/top?type=video_liked&window=2m", "window"},
		{"/v1/top?type=video_liked&limit=0", "limit"},
		{"/v1/top?type=video_liked&limit=many", "limit"},
		{"/v1/counts?type=video_liked&to=1790000000000", "from"},
		{"/v1/counts?type=video_liked&from=yesterday&to=1790000000000", "from"},
		{"/v1/counts?type=video_liked&from=1790000000000&to=1780000000000", "to"},
		{"/v1/counts?type=video_liked&from=1790000000000&to=1790000600000&step=30s", "step"},
		{"/v1/failures?limit=5000", "limit"},
		{"/v1/failures?cursor=abc", "cursor"},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			var body struct {
				Error struct {
					Code    string            `json:"code"`
					Details map[string]string `json:"details"`
				} `json:"error"`
			}
			code := call(t, http.MethodGet, p.URL+tc.path, "", nil, &body)
			if code != http.StatusBadRequest || body.Error.Code != "invalid_parameter" || body.Error.Details["parameter"] != tc.param {
				t.Errorf("%d %+v, want 400 invalid_parameter on %s", code, body, tc.param)
			}
		})
	}
	for _, body := range []any{map[string]any{}, map[string]any{"ids": []string{"1-1"}, "all": true}, map[string]any{"ids": []string{"x"}}, "[]"} {
		if code := call(t, http.MethodPost, p.URL+"/v1/failures/replay", "", body, nil); code != http.StatusBadRequest {
			t.Errorf("replay %v: %d, want 400", body, code)
		}
	}
}

// TestFailuresAPI lists a dead-lettered entry page by page and replays it with a full key;
// a browser key may do neither: failure records hold what producers sent.
func TestFailuresAPI(t *testing.T) {
	t.Parallel()
	p := counterPulse(t, func(c *app.Config) {
		c.APIKeys = []string{"full-key"}
		c.BrowserKeys = []string{"browser-key"}
	})
	rdb := p.Redis.Client()
	ctx := t.Context()
	// Two malformed entries the counter gives up on (dead letters), and an ingest rejection,
	// which is kept apart.
	for _, id := range []string{"x", "y"} {
		bad := &redis.XAddArgs{Stream: p.Layout.Stream(1), Values: []string{"id", id, "type", "video_liked", "subject", "v", "time", "soon", "recv", "1"}}
		if err := rdb.XAdd(ctx, bad).Err(); err != nil {
			t.Fatal(err)
		}
	}
	call(t, http.MethodPost, p.URL+"/v1/events", "browser-key", map[string]any{"type": "Bad", "subject": "v"}, nil)
	type listAnswer struct {
		Failures   []failures.Item `json:"failures"`
		Rejections []failures.Item `json:"rejections"`
		NextCursor string          `json:"next_cursor"`
	}
	var rejected listAnswer
	if code := call(t, http.MethodGet, p.URL+"/v1/rejections", "full-key", nil, &rejected); code != http.StatusOK ||
		len(rejected.Rejections) != 1 || rejected.Rejections[0].Stage != "ingest" {
		t.Errorf("rejections: %d %+v, want the one ingest rejection", code, rejected)
	}
	var page listAnswer
	testenv.WaitFor(t, 10*time.Second, "two failure records", func() bool {
		call(t, http.MethodGet, p.URL+"/v1/failures?limit=1", "full-key", nil, &page)
		return page.NextCursor != ""
	})
	if code := call(t, http.MethodGet, p.URL+"/v1/failures?limit=1", "browser-key", nil, nil); code != http.StatusForbidden {
		t.Errorf("list with a browser key: %d, want 403", code)
	}
	var next listAnswer
	call(t, http.MethodGet, p.URL+"/v1/failures?limit=1&cursor="+page.NextCursor, "full-key", nil, &next)
	if len(page.Failures) != 1 || len(next.Failures) != 1 || next.NextCursor != "" || next.Failures[0].ID >= page.Failures[0].ID {
		t.Fatalf("pages %+v then %+v, want one record each, newest first", page, next)
	}
	if code := call(t, http.MethodPost, p.URL+"/v1/failures/replay", "browser-key", map[string]any{"all": true}, nil); code != http.StatusForbidden {
		t.Errorf("replay with a browser key: %d, want 403", code)
	}
	var res api.ReplayResult
	if code := call(t, http.MethodPost, p.URL+"/v1/failures/replay", "full-key", map[string]any{"all": true}, &res); code != http.StatusOK {
		t.Fatalf("replay: %d", code)
	}
	// Neither record is an event that can be replayed: both stay, with the reason.
	if len(res.Replayed) != 0 || len(res.Skipped) != 2 || !strings.HasPrefix(res.Skipped[0].Reason, "not_replayable") {
		t.Errorf("replay answer %+v", res)
	}
	call(t, http.MethodPost, p.URL+"/v1/failures/replay", "full-key", map[string]any{"ids": []string{"1-1"}}, &res)
	if len(res.Skipped) != 1 || res.Skipped[0].Reason != "not_found" {
		t.Errorf("replay of an unknown id: %+v", res)
	}
}

// Junk input cannot evict a dead letter: rejected items have their own capped store. On the old
// main both shared pulse:failed, capped together, and 2,000 invalid items made the dead
// letter's replay answer not_found.
func TestRejectedInputNeverEvictsDeadLetters(t *testing.T) {
	t.Parallel()
	p := counterPulse(t, func(c *app.Config) { c.Consumers.FailedMaxLen, c.Ingest.RejectedMaxLen = 1000, 1000 })
	rdb := p.Redis.Client()
	ctx := t.Context()
	bad := &redis.XAddArgs{Stream: p.Layout.Stream(1), Values: []string{"id", "x", "type", "video_liked", "subject", "v", "time", "soon", "recv", "1"}}
	if err := rdb.XAdd(ctx, bad).Err(); err != nil {
		t.Fatal(err)
	}
	var dead struct {
		Failures []failures.Item `json:"failures"`
	}
	testenv.WaitFor(t, 10*time.Second, "the dead letter", func() bool {
		call(t, http.MethodGet, p.URL+"/v1/failures", "", nil, &dead)
		return len(dead.Failures) == 1
	})
	junk := make([]map[string]any, 1000)
	for i := range junk {
		junk[i] = map[string]any{"type": "Not A Type", "subject": fmt.Sprint(i)}
	}
	for range 2 {
		if code := call(t, http.MethodPost, p.URL+"/v1/events", "", junk, nil); code != http.StatusBadRequest {
			t.Fatalf("junk: %d", code)
		}
	}
	var res api.ReplayResult
	call(t, http.MethodPost, p.URL+"/v1/failures/replay", "", map[string]any{"ids": []string{dead.Failures[0].ID}}, &res)
	if len(res.Skipped) != 1 || res.Skipped[0].Reason == "not_found" {
		t.Errorf("the dead letter after 2,000 rejected items: %+v, want it found (skipped only as not replayable)", res)
	}
}
