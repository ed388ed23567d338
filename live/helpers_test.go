package live

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	api "github.com/pulsehq/pulse/client"
	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/httpapi"
)

var testWindows, _ = events.ParseWindows("1m,5m,10m")

const testPartitions = 4

// memSource is an in-memory Source that plays the counter: set changes its counts and
// publishes the change set to the hub, with a per-partition Version like the counter's.
type memSource struct {
	mu       sync.Mutex
	counts   map[subjectKey][]int64
	versions map[int]int64
	at       int64
	fail     bool
	// hold, when set, is called by Windows after it read: tests hold a snapshot with it.
	hold func()

	largestRead int // most subjects of one Windows call

	windowsCalls, topCalls atomic.Int64
}

func newMemSource() *memSource {
	return &memSource{counts: make(map[subjectKey][]int64), versions: make(map[int]int64), at: 1_790_000_000_000}
}

func (m *memSource) Windows(ctx context.Context, typ string, subjects []string) (Snapshot, error) {
	m.windowsCalls.Add(1)
	m.mu.Lock()
	m.largestRead = max(m.largestRead, len(subjects))
	if m.fail {
		m.mu.Unlock()
		return Snapshot{}, errors.New("source down")
	}
	s := Snapshot{At: m.at, Counts: make(map[string][]int64), Versions: make(map[int]int64)}
	for _, sub := range subjects {
		if c, ok := m.counts[subjectKey{typ, sub}]; ok {
			s.Counts[sub] = slices.Clone(c)
		}
		p := events.Partition(typ, sub, testPartitions)
		s.Versions[p] = m.versions[p]
	}
	hold := m.hold
	m.mu.Unlock()
	if hold != nil {
		hold() // read, but not yet returned: changes published now race with the snapshot
	}
	return s, nil
}

func (m *memSource) Top(ctx context.Context, typ string, window, limit int) (Leaderboard, error) {
	m.topCalls.Add(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return Leaderboard{}, errors.New("source down")
	}
	var es []api.Entry
	for k, c := range m.counts {
		if k.typ == typ && c[window] > 0 {
			es = append(es, api.Entry{Subject: k.subject, Count: c[window]})
		}
	}
	slices.SortFunc(es, func(a, b api.Entry) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Subject, b.Subject))
	})
	return Leaderboard{At: m.at, Entries: es[:min(limit, len(es))]}, nil
}

// set stores counts as the counter would, without telling anyone; it returns the change set
// the counter would publish.
func (m *memSource) set(typ, subject string, counts ...int64) *events.ChangeSet {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := events.Partition(typ, subject, testPartitions)
	m.counts[subjectKey{typ, subject}] = counts
	m.versions[p]++
	m.at++
	return &events.ChangeSet{Partition: p, Version: m.versions[p], At: m.at,
		Changes: []events.Change{{Type: typ, Subject: subject, Counts: counts}}}
}

func (m *memSource) setFail(fail bool) {
	m.mu.Lock()
	m.fail = fail
	m.mu.Unlock()
}

// readSnapshots reads every snapshot the hub's snapshotter has waiting, one batch after the
// other: tests that drive a client's writer by hand use it instead of the snapshotter's run.
func readSnapshots(ctx context.Context, h *Hub) {
	for b := h.snaps.next(); b != nil; b = h.snaps.next() {
		h.snaps.read(ctx, b)
	}
}

// asking is how many subscriptions have asked for a snapshot that is not sent yet.
func (h *Hub) asking() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	n := 0
	for c := range h.clients {
		c.mu.Lock()
		for _, sub := range c.subs {
			if sub.snap == snapReading || sub.snap == snapStale {
				n++
			}
		}
		c.mu.Unlock()
	}
	return n
}

// testHub is a hub served by an httptest server.
type testHub struct {
	*Hub
	src *memSource
	url string // ws://…/v1/live
	srv *httptest.Server
	ctx context.Context
}

func startHub(t testing.TB, tune func(*Config)) *testHub {
	t.Helper()
	// No connection caps unless a test sets them: every client here has one address.
	cfg := Config{Windows: testWindows, Layout: events.Layout{Partitions: testPartitions, Tags: events.TagsNumbered}, Interval: 10 * time.Millisecond, MaxConns: -1, MaxConnsPerAddr: -1}
	if tune != nil {
		tune(&cfg)
	}
	src := newMemSource()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := New(src, cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := httpapi.Engine(slog.New(slog.NewTextHandler(io.Discard, nil)))
	r.GET("/v1/live", h.ServeWS)
	r.GET("/v1/live/sse", h.ServeSSE)
	srv := httptest.NewServer(r)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("hub run: %v", err)
		}
		srv.Close()
	})
	return &testHub{Hub: h, src: src, url: "ws" + strings.TrimPrefix(srv.URL, "http") + "/v1/live", srv: srv, ctx: ctx}
}

// publish sets counts and hands the change set to the hub.
func (th *testHub) publish(typ, subject string, counts ...int64) {
	th.apply(th.src.set(typ, subject, counts...))
}

// frame is any server frame, as the Go client reads it.
type frame struct{ api.Frame }

// counts returns subject → counts in window order.
func (f frame) counts() map[string][]int64 {
	out := make(map[string][]int64)
	for _, c := range f.Counts {
		var n []int64
		for _, w := range testWindows {
			n = append(n, c.Counts[w.Name])
		}
		out[c.Subject] = n
	}
	return out
}

// wsClient is a test WebSocket client. A background goroutine reads (so pings are answered),
// unless the client was dialled stuck: then nothing reads until the test does.
type wsClient struct {
	t      testing.TB
	conn   *websocket.Conn
	frames chan []byte
	err    error // why frames closed
}

func dial(t testing.TB, url string, opts *websocket.DialOptions) *wsClient {
	c := dialStuck(t, url, opts)
	c.startReading()
	return c
}

func dialStuck(t testing.TB, url string, opts *websocket.DialOptions) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, res, err := websocket.Dial(ctx, url, opts)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	if res.Body != nil {
		res.Body.Close()
	}
	conn.SetReadLimit(1 << 20)
	t.Cleanup(func() { conn.CloseNow() })
	return &wsClient{t: t, conn: conn}
}

func (c *wsClient) startReading() {
	c.frames = make(chan []byte, 1024)
	go func() {
		defer close(c.frames)
		for {
			_, b, err := c.conn.Read(context.Background())
			if err != nil {
				c.err = err
				return
			}
			c.frames <- b
		}
	}()
}

func (c *wsClient) send(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(websocket.MessageText, b)
}

func (c *wsClient) sendRaw(typ websocket.MessageType, b []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.conn.Write(ctx, typ, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// read returns the next frame, or the error that ended the connection.
func (c *wsClient) read() (frame, error) {
	c.t.Helper()
	if c.frames == nil {
		c.startReading()
	}
	var b []byte
	select {
	case got, ok := <-c.frames:
		if !ok {
			return frame{}, c.err
		}
		b = got
	case <-time.After(10 * time.Second):
		c.t.Fatal("no frame within 10s")
	}
	var f frame
	if err := json.Unmarshal(b, &f); err != nil {
		c.t.Fatalf("bad frame %s: %v", b, err)
	}
	return f, nil
}

func (c *wsClient) next() frame {
	c.t.Helper()
	f, err := c.read()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return f
}

// until reads frames until ok accepts one, and returns it.
func (c *wsClient) until(what string, ok func(frame) bool) frame {
	c.t.Helper()
	for {
		f, err := c.read()
		if err != nil {
			c.t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok(f) {
			return f
		}
	}
}

// closeStatus reads until the connection ends and returns its close status.
func (c *wsClient) closeStatus() (websocket.StatusCode, string) {
	c.t.Helper()
	for {
		_, err := c.read()
		if err != nil {
			var ce websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code, ce.Reason
			}
			return -1, err.Error()
		}
	}
}

func subscribeMsg(id, typ string, subjects ...string) map[string]any {
	return map[string]any{"op": "subscribe", "id": id, "type": typ, "subjects": subjects}
}

func topMsg(id, typ, window string, limit int) map[string]any {
	return map[string]any{"op": "subscribe", "id": id, "type": typ, "top": map[string]any{"window": window, "limit": limit}}
}

func httpGet(t testing.TB, url string, header http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}
