package integration

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/cmd/pulse/app"
	"github.com/pulsehq/pulse/internal/httpapi"
	"github.com/pulsehq/pulse/internal/testenv"
)

// edgeSafety bounds every wait of the edge tests, so that a regression fails instead of
// hanging; it is far longer than the timeouts they configure. No test asserts a duration.
const edgeSafety = 15 * time.Second

// trickle sends a POST that announces a body of 10,000 bytes and sends one byte every 20 ms
// (it would take 200 s), and returns the answer it gets meanwhile and whether the server closed
// the connection after it.
func trickle(t *testing.T, base, path string, header ...string) (status int, body httpapi.Body, closed bool) {
	t.Helper()
	res, raw, closed := testenv.Trickle(t, base, path, 10_000, 20*time.Millisecond, edgeSafety, header...)
	_ = json.Unmarshal(raw, &body)
	return res.StatusCode, body, closed
}

// A client that trickles a body is cut off with a JSON 408 once the body timeout passes, on
// every route that reads a body, and the connection is closed; the process serves on.
func TestEdgeBodyTimeout(t *testing.T) {
	t.Parallel()
	p := Start(t, nil, func(c *app.Config) {
		c.BodyTimeout = 300 * time.Millisecond
		c.APIKeys = []string{"full-key"}
	})
	for _, path := range []string{"/v1/events", "/v1/videos/v1/likes", "/v1/failures/replay"} {
		status, body, closed := trickle(t, p.URL, path, "Authorization", "Bearer full-key")
		if status != http.StatusRequestTimeout || body.Error.Code != "body_timeout" || !closed {
			t.Errorf("POST %s trickling: %d %+v, connection closed %v; want 408 body_timeout and a closed connection", path, status, body.Error, closed)
		}
	}
	a := ingestPost(t, p.URL+"/v1/events", "application/json", []byte(`{"type":"t","subject":"s"}`), "Authorization", "Bearer full-key")
	if a.Status != http.StatusAccepted {
		t.Fatalf("a whole body after the trickles: %d %+v", a.Status, a.Error)
	}
}

// dialFrom dials /v1/live as a client behind a proxy that says the client is xff.
func dialFrom(t *testing.T, p *Pulse, xff string) (conn *websocket.Conn, status int, code, retry string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), edgeSafety)
	defer cancel()
	h := http.Header{}
	if xff != "" {
		h.Set("X-Forwarded-For", xff)
	}
	conn, res, err := websocket.Dial(ctx, liveURL(p), &websocket.DialOptions{HTTPHeader: h})
	if err == nil {
		t.Cleanup(func() { conn.CloseNow() })
		return conn, http.StatusSwitchingProtocols, "", ""
	}
	if res == nil {
		t.Fatalf("dial: %v", err)
	}
	defer res.Body.Close()
	var body httpapi.Body
	_ = json.NewDecoder(res.Body).Decode(&body)
	return nil, res.StatusCode, body.Error.Code, res.Header.Get("Retry-After")
}

// The live endpoints cap connections per client address (429) and per process (503), counting
// WebSockets and SSE together, with the client address from X-Forwarded-For only when the peer
// is a trusted proxy. A closed connection's slot is taken again.
func TestEdgeLiveConnectionCaps(t *testing.T) {
	t.Parallel()
	p := Start(t, nil, func(c *app.Config) {
		c.Roles = []string{"live", "counter"}
		c.Live.MaxConns, c.Live.MaxConnsPerAddr = 3, 2
		c.TrustedProxies = []string{"127.0.0.1"} // the test plays the proxy
	})
	a1, status, _, _ := dialFrom(t, p, "203.0.113.1")
	if status != http.StatusSwitchingProtocols {
		t.Fatalf("first connection: %d", status)
	}
	sse, err := http.NewRequest(http.MethodGet, p.URL+"/v1/live/sse?type=t&subject=s", nil)
	if err != nil {
		t.Fatal(err)
	}
	sse.Header.Set("X-Forwarded-For", "203.0.113.1")
	res, err := http.DefaultClient.Do(sse)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	if res.StatusCode != http.StatusOK {
		t.Fatalf("second connection (SSE) from the same address: %d", res.StatusCode)
	}
	if _, status, code, retry := dialFrom(t, p, "203.0.113.1"); status != http.StatusTooManyRequests || code != "too_many_connections" || retry == "" {
		t.Fatalf("third connection from one address: %d %s Retry-After %q, want 429 too_many_connections", status, code, retry)
	}
	if _, status, _, _ := dialFrom(t, p, "203.0.113.2"); status != http.StatusSwitchingProtocols {
		t.Fatalf("another address: %d, want it connected", status)
	}
	if _, status, code, retry := dialFrom(t, p, "203.0.113.3"); status != http.StatusServiceUnavailable || code != "server_full" || retry == "" {
		t.Fatalf("fourth connection: %d %s Retry-After %q, want 503 server_full", status, code, retry)
	}
	for reason, want := range map[string]string{"too_many_connections": "1", "server_full": "1"} {
		if got := metric(t, p.URL, `pulse_live_connections_refused_total{reason="`+reason+`"}`); got != want {
			t.Errorf("refused %s = %q, want %s", reason, got, want)
		}
	}
	_ = a1.Close(websocket.StatusNormalClosure, "")
	testenv.WaitFor(t, edgeSafety, "the closed connection's slot to be free", func() bool {
		_, status, _, _ := dialFrom(t, p, "203.0.113.3")
		return status == http.StatusSwitchingProtocols
	})

	// Without trusted proxies X-Forwarded-For is the client's own claim: ignored.
	q := Start(t, nil, func(c *app.Config) {
		c.Roles = []string{"live", "counter"}
		c.Live.MaxConnsPerAddr = 1
	})
	if _, status, _, _ := dialFrom(t, q, "203.0.113.1"); status != http.StatusSwitchingProtocols {
		t.Fatalf("untrusted proxy, first connection: %d", status)
	}
	if _, status, code, _ := dialFrom(t, q, "203.0.113.2"); status != http.StatusTooManyRequests || code != "too_many_connections" {
		t.Fatalf("untrusted proxy, a second claimed address: %d %s, want 429 (both are 127.0.0.1)", status, code)
	}
}

// edgeRequest does one request and returns its status, error code and headers.
func edgeRequest(t *testing.T, method, url, body string, header ...string) (int, string, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var b httpapi.Body
	_ = json.Unmarshal(raw, &b)
	return res.StatusCode, b.Error.Code, res.Header
}

// A page of another site can make a browser post a form or a text/plain body without asking:
// routes that change state take only application/json (which needs a CORS preflight), refuse
// trailing data, and refuse browser requests from origins that are not allowed. Allowed
// origins get CORS, preflights included.
func TestEdgeCrossSiteWrites(t *testing.T) {
	t.Parallel()
	p := Start(t, nil, func(c *app.Config) {
		c.Roles = []string{"ingest", "counter"}
		c.AllowedOrigins = []string{"https://app.example.com"}
	})
	const ev = `{"type":"video_liked","subject":"v1"}`
	for _, tc := range []struct {
		name, method, path, body string
		header                   []string
		status                   int
		code                     string
	}{
		{"replay as text/plain with a trailing =", "POST", "/v1/failures/replay", `{"all":true}=`, []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type"},
		{"replay without Content-Type", "POST", "/v1/failures/replay", `{"all":true}`, nil, 415, "unsupported_media_type"},
		{"replay with trailing data", "POST", "/v1/failures/replay", `{"all":true}=`, []string{"Content-Type", "application/json"}, 400, "invalid_body"},
		{"replay", "POST", "/v1/failures/replay", `{"all":true}`, []string{"Content-Type", "application/json"}, 200, ""},
		{"events without Content-Type", "POST", "/v1/events", ev, nil, 415, "unsupported_media_type"},
		{"events as a form", "POST", "/v1/events", ev, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"},
		{"like without Content-Type", "POST", "/v1/videos/v1/likes", "", nil, 415, "unsupported_media_type"},
		{"like as JSON without a body", "POST", "/v1/videos/v1/likes", "", []string{"Content-Type", "application/json"}, 202, ""},
		{"events from another site", "POST", "/v1/events", ev, []string{"Content-Type", "application/json", "Origin", "https://evil.test", "Sec-Fetch-Site", "cross-site"}, 403, "origin_not_allowed"},
		{"like from another site, older browser", "POST", "/v1/videos/v1/likes", "", []string{"Content-Type", "application/json", "Origin", "https://evil.test"}, 403, "origin_not_allowed"},
		{"events from an allowed origin", "POST", "/v1/events", ev, []string{"Content-Type", "application/json", "Origin", "https://app.example.com", "Sec-Fetch-Site", "cross-site"}, 202, ""},
		{"preflight from an allowed origin", "OPTIONS", "/v1/events", "", []string{"Origin", "https://app.example.com", "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type,authorization"}, 204, ""},
		{"preflight from another site", "OPTIONS", "/v1/events", "", []string{"Origin", "https://evil.test", "Access-Control-Request-Method", "POST"}, 403, "origin_not_allowed"},
	} {
		status, code, h := edgeRequest(t, tc.method, p.URL+tc.path, tc.body, tc.header...)
		if status != tc.status || code != tc.code {
			t.Errorf("%s: %d %q, want %d %q", tc.name, status, code, tc.status, tc.code)
		}
		if strings.Contains(tc.name, "allowed origin") && h.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
			t.Errorf("%s: Access-Control-Allow-Origin %q", tc.name, h.Get("Access-Control-Allow-Origin"))
		}
		if tc.method == "OPTIONS" && tc.status == 204 && (!strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") ||
			!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Content-Type") || !strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization")) {
			t.Errorf("%s: preflight headers %v", tc.name, h)
		}
	}
	// Exactly the two events and the like that were accepted are stored: nothing refused got in.
	stored := 0
	for _, evs := range testenv.StoredEvents(t, p.Redis.Client(), p.Layout) {
		stored += len(evs)
	}
	if stored != 2 {
		t.Errorf("%d events stored, want 2 (the JSON like and the allowed origin's event)", stored)
	}
}

// Keys in URLs are taken on the live endpoints only, failure records need a full key, and the
// answers say nothing about the inside of the deployment.
func TestEdgeKeysAndSurfaces(t *testing.T) {
	t.Parallel()
	p := Start(t, nil, func(c *app.Config) {
		c.APIKeys = []string{"full-key"}
		c.BrowserKeys = []string{"browser-key"}
	})
	bearer := func(key string) []string { return []string{"Authorization", "Bearer " + key} }
	for _, tc := range []struct {
		name, path string
		header     []string
		status     int
	}{
		{"counts, key in the URL", "/v1/windows?type=t&subject=s&access_token=browser-key", nil, 401},
		{"counts, key in a header", "/v1/windows?type=t&subject=s", bearer("browser-key"), 200},
		{"failures, full key in the URL", "/v1/failures?access_token=full-key", nil, 401},
		{"failures, browser key", "/v1/failures", bearer("browser-key"), 403},
		{"failures, full key", "/v1/failures", bearer("full-key"), 200},
		{"failure search, browser key", "/v1/search/failures", bearer("browser-key"), 403},
		{"failure search, full key", "/v1/search/failures", bearer("full-key"), 200},
		{"event search, browser key", "/v1/search", bearer("browser-key"), 200},
	} {
		if status, _, _ := edgeRequest(t, http.MethodGet, p.URL+tc.path, "", tc.header...); status != tc.status {
			t.Errorf("%s: %d, want %d", tc.name, status, tc.status)
		}
	}
	// EventSource cannot set headers: the live endpoints take ?access_token=.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/v1/live/sse?type=t&subject=s&access_token=browser-key", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("SSE with ?access_token=: %d, want 200", res.StatusCode)
	}
}

// /readyz answers anyone: when Redis is down it says so, without the error that names Redis's
// address (that goes to the log).
func TestEdgeReadyzHidesRedisError(t *testing.T) {
	t.Parallel()
	p := Start(t, nil, func(c *app.Config) { c.Roles = []string{"counter"} })
	if p.Redis.Kind != "binary" {
		t.Skipf("needs a restartable redis-server, have %s", p.Redis.Kind)
	}
	p.Redis.Stop()
	defer p.Redis.Start()
	res, err := http.Get(p.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var b httpapi.Body
	_ = json.Unmarshal(raw, &b)
	// The message is the same whatever the error (a refused dial names the address, a slow
	// one only the deadline): nothing of the error reaches the client.
	if res.StatusCode != http.StatusServiceUnavailable || b.Error.Code != "redis_unavailable" || b.Error.Message != "redis is unreachable" {
		t.Fatalf("readyz with redis down: %d %s, want 503 redis_unavailable \"redis is unreachable\"", res.StatusCode, raw)
	}
	opt, err := redis.ParseURL(p.Redis.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{opt.Addr, "dial", "connect"} {
		if strings.Contains(string(raw), secret) {
			t.Errorf("readyz tells %q: %s", secret, raw)
		}
	}
}
