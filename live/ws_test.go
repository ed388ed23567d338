package live

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/coder/websocket"

	api "github.com/pulsehq/pulse/client"
	"github.com/pulsehq/pulse/internal/httpapi"
	"github.com/pulsehq/pulse/internal/testenv"
)

func TestSnapshotThenUpdates(t *testing.T) {
	t.Parallel()
	h := startHub(t, nil)
	h.src.set("video_liked", "video-1", 3, 9, 12)
	c := dial(t, h.url, nil)
	c.send(subscribeMsg("s1", "video_liked", "video-1", "video-2", "video-1"))

	snap := c.next()
	if snap.Op != "snapshot" || snap.ID != "s1" || snap.Seq != 1 || snap.At == 0 {
		t.Fatalf("first frame: %+v", snap)
	}
	want := map[string][]int64{"video-1": {3, 9, 12}, "video-2": {0, 0, 0}}
	if got := snap.counts(); !equalCounts(got, want) || len(snap.Counts) != 2 {
		t.Fatalf("snapshot counts %v, want %v (each subject once)", got, want)
	}

	h.publish("video_liked", "video-2", 1, 1, 1)
	up := c.next()
	if up.Op != "update" || up.Seq != 2 {
		t.Fatalf("second frame: %+v", up)
	}
	if got := up.counts(); !equalCounts(got, map[string][]int64{"video-2": {1, 1, 1}}) {
		t.Fatalf("update carries %v, want only video-2", got)
	}

	h.publish("video_liked", "video-1", 2, 9, 12) // decay is a change like any other
	up = c.next()
	if got := up.counts(); up.Seq != 3 || !equalCounts(got, map[string][]int64{"video-1": {2, 9, 12}}) {
		t.Fatalf("decay update: %+v", up)
	}
}

func TestConflationSendsLatestCounts(t *testing.T) {
	t.Parallel()
	h := startHub(t, func(c *Config) { c.Interval = 200 * time.Millisecond })
	c := dial(t, h.url, nil)
	c.send(subscribeMsg("s1", "t", "a"))
	c.next() // snapshot

	const n = 50
	for i := 1; i <= n; i++ {
		h.publish("t", "a", int64(i), int64(i), int64(i))
	}
	updates := 0
	f := c.until("the final count", func(f frame) bool {
		updates++
		return f.counts()["a"][0] == n
	})
	if updates >= n || f.Seq != int64(updates)+1 {
		t.Fatalf("%d updates for %d changes (seq %d): want them conflated, seq without gaps", updates, n, f.Seq)
	}
	if got := counterValue(h.m.conflated); got == 0 {
		t.Errorf("conflated counter is 0")
	}
	t.Logf("%d changes arrived as %d updates", n, updates)
}

func TestChangeOlderThanSnapshotIsNeverShown(t *testing.T) {
	t.Parallel()
	h := startHub(t, nil)
	old := h.src.set("t", "a", 1, 1, 1) // version 1
	h.src.set("t", "a", 2, 2, 2)        // version 2: in the snapshot
	c := dial(t, h.url, nil)
	c.send(subscribeMsg("s1", "t", "a"))
	if got := c.next().counts()["a"]; !slices.Equal(got, []int64{2, 2, 2}) {
		t.Fatalf("snapshot %v", got)
	}
	h.apply(old) // delivered late: older than the snapshot
	h.publish("t", "a", 3, 3, 3)
	f := c.next()
	if got := f.counts()["a"]; !slices.Equal(got, []int64{3, 3, 3}) {
		t.Fatalf("first update shows %v, want the newer change only", got)
	}
	if got := counterValue(h.m.stale); got != 1 {
		t.Errorf("dropped counter %v, want 1", got)
	}
}

func TestChangeDuringSnapshotRead(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		newer bool
	}{{"newer change wins", true}, {"older change loses", false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := startHub(t, nil)
			old := h.src.set("t", "a", 1, 1, 1) // v1
			h.src.set("t", "a", 2, 2, 2)        // v2: what the snapshot reads
			reading, release := make(chan struct{}), make(chan struct{})
			h.src.hold = func() { close(reading); <-release }
			c := dial(t, h.url, nil)
			c.send(subscribeMsg("s1", "t", "a"))
			<-reading
			h.src.mu.Lock()
			h.src.hold = nil
			h.src.mu.Unlock()
			want := []int64{2, 2, 2}
			if tc.newer {
				// Published after the read, before the snapshot is sent: v3 must win over it.
				h.publish("t", "a", 3, 3, 3)
				want = []int64{3, 3, 3}
			} else {
				h.apply(old)
			}
			close(release)
			f := c.next()
			if got := f.counts()["a"]; f.Op != "snapshot" || !slices.Equal(got, want) {
				t.Fatalf("got %s %v, want snapshot %v", f.Op, got, want)
			}
			// Nothing else is pending: the next frame is the next change.
			h.publish("t", "a", 9, 9, 9)
			if f := c.next(); f.Op != "update" || f.Seq != 2 || f.counts()["a"][0] != 9 {
				t.Fatalf("then %+v", f)
			}
		})
	}
}

func TestTopSharedAcrossSubscribers(t *testing.T) {
	t.Parallel()
	h := startHub(t, nil)
	h.src.set("t", "a", 5, 5, 5)
	h.src.set("t", "b", 7, 7, 7)
	c1, c2 := dial(t, h.url, nil), dial(t, h.url, nil)
	c1.send(topMsg("top", "t", "1m", 10))
	f := c1.next()
	want := []api.Entry{{Subject: "b", Count: 7}, {Subject: "a", Count: 5}}
	if f.Op != "top" || f.Seq != 1 || f.Window != "1m" || !slices.Equal(f.Entries, want) {
		t.Fatalf("c1 top %+v", f)
	}
	c2.send(topMsg("mine", "t", "1m", 10))
	if f := c2.next(); f.ID != "mine" || !slices.Equal(f.Entries, want) {
		t.Fatalf("c2 top %+v", f)
	}
	calls := h.src.topCalls.Load()

	h.publish("t", "a", 9, 9, 9)
	want = []api.Entry{{Subject: "a", Count: 9}, {Subject: "b", Count: 7}}
	for _, c := range []*wsClient{c1, c2} {
		if f := c.next(); f.Seq != 2 || !slices.Equal(f.Entries, want) {
			t.Fatalf("top after change %+v", f)
		}
	}
	if got := h.src.topCalls.Load() - calls; got != 1 {
		t.Errorf("%d leaderboard reads for one change and two subscribers, want 1", got)
	}
	h.publish("other_type", "x", 1, 1, 1)
	h.publish("t", "b", 1, 1, 1) // decay
	for _, c := range []*wsClient{c1, c2} {
		if f := c.next(); !slices.Equal(f.Entries, []api.Entry{{Subject: "a", Count: 9}, {Subject: "b", Count: 1}}) {
			t.Fatalf("top after decay %+v", f)
		}
	}
}

func TestTopLeaderboardReadOnlyWhenTypeChanged(t *testing.T) {
	t.Parallel()
	h := startHub(t, nil)
	c := dial(t, h.url, nil)
	c.send(topMsg("top", "t", "5m", 3))
	c.next()
	calls := h.src.topCalls.Load()
	for i := range 20 {
		h.publish("other", "x", int64(i), 1, 1)
	}
	// A barrier: a subject subscription on the same connection sees the last change.
	c.send(subscribeMsg("s", "other", "x"))
	c.until("snapshot", func(f frame) bool { return f.Op == "snapshot" })
	if got := h.src.topCalls.Load(); got != calls {
		t.Errorf("changes of another type caused %d leaderboard reads", got-calls)
	}
}

func TestUnsubscribe(t *testing.T) {
	t.Parallel()
	h := startHub(t, nil)
	c := dial(t, h.url, nil)
	c.send(subscribeMsg("s1", "t", "a"))
	c.send(subscribeMsg("s2", "t", "b"))
	c.until("both snapshots", func(f frame) bool { return f.ID == "s2" && f.Op == "snapshot" })
	c.send(map[string]any{"op": "unsubscribe", "id": "s1"})
	c.send(map[string]any{"op": "unsubscribe", "id": "s1"}) // processed in order: a barrier
	if f := c.until("error", func(f frame) bool { return f.Op == "error" }); f.Code != "unknown_subscription" || f.ID != "s1" {
		t.Fatalf("second unsubscribe: %+v", f)
	}
	cs := h.src.set("t", "a", 1, 1, 1)
	cs.Changes = append(cs.Changes, h.src.set("t", "b", 2, 2, 2).Changes...)
	h.apply(cs)
	f := c.next()
	if f.ID != "s2" || len(f.Counts) != 1 {
		t.Fatalf("after unsubscribe got %+v", f)
	}
	h.mu.RLock()
	_, indexed := h.bySubject[subjectKey{"t", "a"}]
	h.mu.RUnlock()
	if indexed {
		t.Error("unsubscribed subject still indexed")
	}
}

func TestBadFramesAnsweredWithErrors(t *testing.T) {
	t.Parallel()
	h := startHub(t, func(c *Config) { c.MaxSubscriptions = 2; c.MaxSubjects = 3; c.MaxTopLimit = 50 })
	c := dial(t, h.url, nil)
	c.send(subscribeMsg("ok", "t", "a"))
	c.next()
	long := make([]string, 4)
	for i := range long {
		long[i] = string(rune('a' + i))
	}
	cases := []struct {
		name, raw, code, id string
	}{
		{"not json", `{"op":`, "bad_frame", ""},
		{"not an object", `[1,2]`, "bad_frame", ""},
		{"unknown op", `{"op":"publish","id":"x"}`, "unknown_op", "x"},
		{"bad id", `{"op":"subscribe","id":"a b","type":"t","subjects":["a"]}`, "invalid_id", ""},
		{"missing type", `{"op":"subscribe","id":"x","subjects":["a"]}`, "missing_type", "x"},
		{"bad type", `{"op":"subscribe","id":"x","type":"Video","subjects":["a"]}`, "invalid_type", "x"},
		{"control char subject", `{"op":"subscribe","id":"x","type":"t","subjects":["a\u0001"]}`, "invalid_subject", "x"},
		{"empty subject", `{"op":"subscribe","id":"x","type":"t","subjects":[""]}`, "missing_subject", "x"},
		{"neither", `{"op":"subscribe","id":"x","type":"t"}`, "invalid_subscription", "x"},
		{"both", `{"op":"subscribe","id":"x","type":"t","subjects":["a"],"top":{"window":"1m","limit":1}}`, "invalid_subscription", "x"},
		{"watching a top list", `{"op":"subscribe","id":"x","type":"t","top":{"window":"1m","limit":1},"watch":true}`, "invalid_subscription", "x"},
		{"bad window", `{"op":"subscribe","id":"x","type":"t","top":{"window":"2m","limit":1}}`, "invalid_window", "x"},
		{"limit zero", `{"op":"subscribe","id":"x","type":"t","top":{"window":"1m","limit":0}}`, "invalid_limit", "x"},
		{"limit too big", `{"op":"subscribe","id":"x","type":"t","top":{"window":"1m","limit":51}}`, "invalid_limit", "x"},
		{"duplicate id", `{"op":"subscribe","id":"ok","type":"t","subjects":["b"]}`, "duplicate_id", "ok"},
		{"too many subjects", mustJSON(subscribeMsg("x", "t", "b", "c", "d")), "too_many_subjects", "x"},
		{"unknown unsubscribe", `{"op":"unsubscribe","id":"nope"}`, "unknown_subscription", "nope"},
	}
	for _, tc := range cases {
		c.sendRaw(websocket.MessageText, []byte(tc.raw))
		f := c.next()
		if f.Op != "error" || f.Code != tc.code || f.ID != tc.id || f.Message == "" {
			t.Errorf("%s: got %+v, want error %s id %q", tc.name, f, tc.code, tc.id)
		}
	}
	c.sendRaw(websocket.MessageBinary, []byte{1, 2})
	if f := c.next(); f.Code != "bad_frame" {
		t.Errorf("binary frame: %+v", f)
	}
	c.send(topMsg("t2", "t", "1m", 5))
	c.send(subscribeMsg("t3", "t", "z"))
	if f := c.until("cap error", func(f frame) bool { return f.Op == "error" }); f.Code != "too_many_subscriptions" {
		t.Errorf("third subscription: %+v", f)
	}
	// Still open and serving.
	h.publish("t", "a", 4, 4, 4)
	c.until("update", func(f frame) bool { return f.Op == "update" && f.ID == "ok" })
}

func TestErrorFloodCloses(t *testing.T) {
	t.Parallel()
	h := startHub(t, func(c *Config) { c.ErrorBudget = 5 })
	c := dial(t, h.url, nil)
	for i := range 10 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := c.conn.Write(ctx, websocket.MessageText, []byte("nope"))
		cancel()
		if err != nil && i <= 5 { // past the budget the server may already be closing
			t.Fatalf("write %d: %v", i, err)
		}
	}
	errs := 0
	for {
		f, err := c.read()
		if err != nil {
			if code := websocket.CloseStatus(err); code != websocket.StatusPolicyViolation {
				t.Fatalf("closed with %v (%v), want 1008", code, err)
			}
			break
		}
		if f.Op == "error" {
			errs++
		}
	}
	if errs != 5 {
		t.Errorf("%d error frames before the close, want the budget (5)", errs)
	}
	if got := counterValue(h.m.floodCloses); got != 1 {
		t.Errorf("flood closes %v", got)
	}
}

func TestReadLimit(t *testing.T) {
	t.Parallel()
	h := startHub(t, func(c *Config) { c.ReadLimit = 1024 })
	c := dial(t, h.url, nil)
	c.sendRaw(websocket.MessageText, make([]byte, 2048))
	if code, _ := c.closeStatus(); code != websocket.StatusMessageTooBig {
		t.Fatalf("close %v, want 1009", code)
	}
}

func TestOriginAndUpgrade(t *testing.T) {
	t.Parallel()
	h := startHub(t, func(c *Config) { c.AllowedOrigins = []string{"https://app.example.com", "*.trusted.test"} })
	host := h.srv.Listener.Addr().String()
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"", true},
		{"http://" + host, true},
		{"https://app.example.com", true},
		{"http://app.example.com", false}, // scheme is part of that pattern
		{"http://x.trusted.test", true},
		{"http://evil.test", false},
		{"null", false},
	} {
		opts := &websocket.DialOptions{HTTPHeader: http.Header{}}
		if tc.origin != "" {
			opts.HTTPHeader.Set("Origin", tc.origin)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		conn, res, err := websocket.Dial(ctx, h.url, opts)
		cancel()
		if tc.ok {
			if err != nil {
				t.Errorf("origin %q refused: %v", tc.origin, err)
				continue
			}
			conn.CloseNow()
			continue
		}
		if err == nil {
			conn.CloseNow()
			t.Errorf("origin %q accepted", tc.origin)
			continue
		}
		var body httpapi.Body
		_ = json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden || body.Error.Code != "origin_not_allowed" {
			t.Errorf("origin %q: %d %+v, want 403 origin_not_allowed", tc.origin, res.StatusCode, body)
		}
	}

	res := httpGet(t, h.srv.URL+"/v1/live", nil)
	var body httpapi.Body
	_ = json.NewDecoder(res.Body).Decode(&body)
	if res.StatusCode != http.StatusUpgradeRequired || body.Error.Code != "upgrade_required" {
		t.Errorf("plain GET: %d %+v", res.StatusCode, body)
	}
}

func TestSnapshotRetriedWhenSourceFails(t *testing.T) {
	t.Parallel()
	h := startHub(t, nil)
	h.src.setFail(true)
	h.src.set("t", "a", 1, 2, 3)
	c := dial(t, h.url, nil)
	c.send(subscribeMsg("s1", "t", "a"))
	if f := c.next(); f.Op != "error" || f.Code != "unavailable" || f.ID != "s1" {
		t.Fatalf("got %+v, want an unavailable error", f)
	}
	h.src.setFail(false)
	if f := c.next(); f.Op != "snapshot" || !slices.Equal(f.counts()["a"], []int64{1, 2, 3}) {
		t.Fatalf("after recovery %+v", f)
	}
}

func TestResyncSendsFreshSnapshot(t *testing.T) {
	t.Parallel()
	h := startHub(t, nil)
	c := dial(t, h.url, nil)
	c.send(subscribeMsg("s1", "t", "a"))
	c.next()
	// The counter moved on while the feed was away: the change set never arrived.
	cs := h.src.set("t", "a", 8, 8, 8)
	h.resync(cs.Partition)
	f := c.next()
	if f.Op != "snapshot" || f.Seq != 2 || !slices.Equal(f.counts()["a"], []int64{8, 8, 8}) {
		t.Fatalf("after resync %+v", f)
	}
}

func TestShutdownClosesWithGoingAway(t *testing.T) {
	t.Parallel()
	h := startHub(t, nil)
	c := dial(t, h.url, nil)
	c.send(subscribeMsg("s1", "t", "a"))
	c.next()
	h.Close()
	if code, reason := c.closeStatus(); code != websocket.StatusGoingAway {
		t.Fatalf("close %v %q, want 1001", code, reason)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, res, err := websocket.Dial(ctx, h.url, nil)
	if err == nil || res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("dial after shutdown: %v", err)
	}
}

func TestStuckClientClosedOthersUnaffected(t *testing.T) {
	t.Parallel()
	// The good client must answer pings in time whatever the machine's load: the pong timeout
	// is a bound on a stall, far above any scheduling delay, and the wait below far above it.
	h := startHub(t, func(c *Config) { c.PingInterval = 50 * time.Millisecond; c.SlowTimeout = 5 * time.Second })
	stuck := dialStuck(t, h.url, nil)
	stuck.send(subscribeMsg("s1", "t", "a"))
	good := dial(t, h.url, nil)
	good.send(subscribeMsg("s1", "t", "a"))
	good.next()

	// The stuck client never reads (so never answers a ping) while changes keep coming.
	var last int64
	testenv.WaitFor(t, 60*time.Second, "the stuck client to be closed", func() bool {
		last++
		h.publish("t", "a", last, last, last)
		good.until("latest count", func(f frame) bool { return f.counts()["a"][0] == last })
		return counterValue(h.m.slowCloses) == 1
	})
	if code, reason := stuck.closeStatus(); code != websocket.StatusPolicyViolation || reason != "client too slow" {
		t.Fatalf("stuck client closed with %v %q, want 1008 client too slow", code, reason)
	}
	h.publish("t", "a", 1000, 1, 1)
	good.until("count after the close", func(f frame) bool { return f.counts()["a"][0] == 1000 })
}

func equalCounts(a, b map[string][]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
