package live

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/pulsehq/pulse/internal/httpapi"
	"github.com/pulsehq/pulse/internal/testenv"
)

func TestConnLimit(t *testing.T) {
	t.Parallel()
	type step struct {
		addr   string
		reason string // "" = admitted
		free   int    // > 0: release the slot taken by step free-1 instead of acquiring
	}
	for _, tc := range []struct {
		name           string
		total, perAddr int
		steps          []step
	}{
		{"per address", 10, 2, []step{{"a", "", 0}, {"a", "", 0}, {"a", "too_many_connections", 0}, {"b", "", 0}, {"", "", 1}, {"a", "", 0}}},
		{"process", 3, 2, []step{{"a", "", 0}, {"b", "", 0}, {"c", "", 0}, {"d", "server_full", 0}, {"", "", 2}, {"d", "", 0}}},
		{"the process cap comes first", 2, 1, []step{{"a", "", 0}, {"b", "", 0}, {"a", "server_full", 0}}},
		{"no caps", 0, 0, []step{{"a", "", 0}, {"a", "", 0}, {"a", "", 0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newConnLimit(tc.total, tc.perAddr)
			releases := make([]func(), len(tc.steps))
			for i, s := range tc.steps {
				if s.free > 0 {
					releases[s.free-1]()
					releases[s.free-1]() // a second release is harmless
					continue
				}
				release, reason, err := l.acquire(s.addr)
				releases[i] = release
				if reason != s.reason || (err == nil) != (s.reason == "") {
					t.Fatalf("step %d (%s): reason %q err %v, want %q", i, s.addr, reason, err, s.reason)
				}
				if err != nil && err.RetryAfter <= 0 {
					t.Errorf("step %d: %v without Retry-After", i, err)
				}
			}
		})
	}
}

// The caps refuse the connection past them over HTTP, with the JSON error of every endpoint,
// count it, and a closed connection's slot is taken again. WebSockets and SSE streams share
// the caps; every client here has the address 127.0.0.1.
func TestConnCapsRefuse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		total, per    int
		status        int
		code, counter string
	}{
		{"per address", 0, 2, http.StatusTooManyRequests, "too_many_connections", "too_many_connections"},
		{"process", 2, 0, http.StatusServiceUnavailable, "server_full", "server_full"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := startHub(t, func(c *Config) { c.MaxConns, c.MaxConnsPerAddr = tc.total, tc.per })
			first := dial(t, h.url, nil)
			sse := httpGet(t, h.srv.URL+"/v1/live/sse?type=t&subject=a", nil)
			if sse.StatusCode != http.StatusOK {
				t.Fatalf("second connection (SSE): %d", sse.StatusCode)
			}

			status, code, retry := dialRefused(t, h.url)
			if status != tc.status || code != tc.code || retry == "" {
				t.Fatalf("third connection: %d %s Retry-After %q, want %d %s with Retry-After", status, code, retry, tc.status, tc.code)
			}
			res := httpGet(t, h.srv.URL+"/v1/live/sse?type=t&subject=a", nil)
			var body httpapi.Body
			_ = json.NewDecoder(res.Body).Decode(&body)
			if res.StatusCode != tc.status || body.Error.Code != tc.code {
				t.Fatalf("third connection (SSE): %d %+v", res.StatusCode, body.Error)
			}
			if n := counterValue(h.m.refused.WithLabelValues(tc.counter)); n != 2 {
				t.Errorf("refused %s = %v, want 2", tc.counter, n)
			}

			_ = first.conn.Close(websocket.StatusNormalClosure, "")
			testenv.WaitFor(t, 10*time.Second, "the closed connection's slot to be taken again", func() bool {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				conn, _, err := websocket.Dial(ctx, h.url, nil)
				if err != nil {
					return false
				}
				conn.CloseNow()
				return true
			})
		})
	}
}

// dialRefused dials a WebSocket that must be refused, and returns the answer.
func dialRefused(t *testing.T, url string) (status int, code, retryAfter string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, res, err := websocket.Dial(ctx, url, nil)
	if err == nil {
		conn.CloseNow()
		return http.StatusSwitchingProtocols, "", ""
	}
	if res == nil {
		t.Fatalf("dial: %v", err)
	}
	defer res.Body.Close()
	var body httpapi.Body
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil && !strings.Contains(err.Error(), "EOF") {
		t.Errorf("refusal body: %v", err)
	}
	return res.StatusCode, body.Error.Code, res.Header.Get("Retry-After")
}
