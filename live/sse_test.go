package live

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	api "github.com/pulsehq/pulse/client"
	"github.com/pulsehq/pulse/internal/httpapi"
)

// sseStream reads the data events of a Server-Sent Events response.
type sseStream struct {
	t  *testing.T
	sc *bufio.Scanner
}

func openSSE(t *testing.T, h *testHub, query url.Values) *sseStream {
	t.Helper()
	res := httpGet(t, h.srv.URL+"/v1/live/sse?"+query.Encode(), nil)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("sse: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	return &sseStream{t: t, sc: bufio.NewScanner(res.Body)}
}

// next returns the next data event's frame; ok is false at the end of the stream.
func (s *sseStream) next() (f frame, ok bool) {
	s.t.Helper()
	for s.sc.Scan() {
		data, found := strings.CutPrefix(s.sc.Text(), "data: ")
		if !found {
			continue // retry:, comments, blank separators
		}
		if err := json.Unmarshal([]byte(data), &f); err != nil {
			s.t.Fatalf("bad data %q: %v", data, err)
		}
		return f, true
	}
	return f, false
}

func TestSSESubjects(t *testing.T) {
	t.Parallel()
	h := startHub(t, nil)
	h.src.set("video_liked", "v1", 1, 2, 3)
	s := openSSE(t, h, url.Values{"type": {"video_liked"}, "subject": {"v1", "v2"}, "id": {"mine"}})
	f, _ := s.next()
	if f.Op != "snapshot" || f.ID != "mine" || f.Seq != 1 ||
		!equalCounts(f.counts(), map[string][]int64{"v1": {1, 2, 3}, "v2": {0, 0, 0}}) {
		t.Fatalf("snapshot %+v", f)
	}
	h.publish("video_liked", "v2", 5, 5, 5)
	f, _ = s.next()
	if f.Op != "update" || f.Seq != 2 || !equalCounts(f.counts(), map[string][]int64{"v2": {5, 5, 5}}) {
		t.Fatalf("update %+v", f)
	}
	h.Close()
	if _, ok := s.next(); ok {
		t.Fatal("stream still open after shutdown")
	}
}

func TestSSETop(t *testing.T) {
	t.Parallel()
	h := startHub(t, nil)
	h.src.set("t", "a", 4, 4, 4)
	s := openSSE(t, h, url.Values{"type": {"t"}, "top": {"10m"}, "limit": {"1"}})
	f, _ := s.next()
	if f.Op != "top" || f.ID != "sse" || f.Window != "10m" || !slices.Equal(f.Entries, []api.Entry{{Subject: "a", Count: 4}}) {
		t.Fatalf("top %+v", f)
	}
	h.publish("t", "b", 9, 9, 9)
	if f, _ = s.next(); !slices.Equal(f.Entries, []api.Entry{{Subject: "b", Count: 9}}) {
		t.Fatalf("top after change %+v", f)
	}
}

func TestSSEBadRequests(t *testing.T) {
	t.Parallel()
	h := startHub(t, func(c *Config) { c.AllowedOrigins = []string{"ok.test"} })
	for _, tc := range []struct {
		query  string
		origin string
		status int
		code   string
	}{
		{"type=t", "", 400, "invalid_subscription"},
		{"subject=a", "", 400, "missing_type"},
		{"type=t&subject=a&top=1m", "", 400, "invalid_subscription"},
		{"type=t&top=3m", "", 400, "invalid_window"},
		{"type=t&top=1m&limit=x", "", 400, "invalid_parameter"},
		{"type=t&top=1m&limit=0", "", 400, "invalid_limit"},
		{"type=t&subject=a&id=a%20b", "", 400, "invalid_id"},
		{"type=t&subject=a", "http://evil.test", 403, "origin_not_allowed"},
	} {
		hdr := http.Header{}
		if tc.origin != "" {
			hdr.Set("Origin", tc.origin)
		}
		res := httpGet(t, h.srv.URL+"/v1/live/sse?"+tc.query, hdr)
		var body httpapi.Body
		_ = json.NewDecoder(res.Body).Decode(&body)
		if res.StatusCode != tc.status || body.Error.Code != tc.code {
			t.Errorf("%s: %d %+v, want %d %s", tc.query, res.StatusCode, body.Error, tc.status, tc.code)
		}
	}
}

// TestSSEPinged: an idle stream gets a ": ping" comment every PingInterval, again and again
// (the hub's pinger wakes each client when its interval has passed).
func TestSSEPinged(t *testing.T) {
	t.Parallel()
	h := startHub(t, func(c *Config) { c.PingInterval = 20 * time.Millisecond })
	s := openSSE(t, h, url.Values{"type": {"video_liked"}, "subject": {"v1"}})
	if f, _ := s.next(); f.Op != "snapshot" {
		t.Fatalf("first frame %+v", f)
	}
	pinged := make(chan int, 1)
	go func() {
		pings := 0
		for pings < 3 && s.sc.Scan() {
			if s.sc.Text() == ": ping" {
				pings++
			}
		}
		pinged <- pings
	}()
	select {
	case n := <-pinged:
		if n < 3 {
			t.Fatalf("stream ended after %d pings: %v", n, s.sc.Err())
		}
	case <-time.After(time.Minute):
		t.Fatal("fewer than 3 pings in a minute")
	}
}
