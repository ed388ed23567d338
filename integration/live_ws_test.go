package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	api "github.com/pulsehq/pulse/client"
	"github.com/pulsehq/pulse/cmd/pulse/app"
	"github.com/pulsehq/pulse/internal/httpapi"
)

var defaultWindows = []string{"1m", "5m", "10m"}

// Subscribe, then post events: a snapshot first (zeros for subjects never seen), then updates
// that carry only the subjects that changed, with exact counts.
func TestLiveSnapshotThenUpdates(t *testing.T) {
	t.Parallel()
	EachMode(t, func(t *testing.T, m Mode) {
		p := StartMode(t, m, liveTune())
		post(t, p, ev("video_liked", "video-1"), ev("video_liked", "video-1"), ev("video_liked", "video-1"))

		c := dialLive(t, p)
		sent := time.Now()
		c.subscribe("s1", "video_liked", "video-1", "video-2")
		snap := c.next()
		if snap.Op != "snapshot" || snap.ID != "s1" || snap.Seq != 1 || len(snap.Counts) != 2 {
			t.Fatalf("first frame %+v", snap)
		}
		t.Logf("snapshot %v after subscribe", snap.received.Sub(sent))
		if got, _ := snap.counts("video-2", defaultWindows...); !slices.Equal(got, []int64{0, 0, 0}) {
			t.Fatalf("video-2 never seen: %v", got)
		}
		// The three events may still be on their way through the counter when the snapshot is
		// read: the counts reach 3 by snapshot or updates, never more.
		last := snap
		for n, _ := snap.count("video-1", "1m"); n != 3; n, _ = last.count("video-1", "1m") {
			if n > 3 {
				t.Fatalf("video-1 counted %d times", n)
			}
			last = c.next()
			if last.Op != "update" || last.Seq != snap.Seq+1 {
				t.Fatalf("frame %+v after %+v", last, snap)
			}
			snap = last
		}

		accepted := like(t, p, "video-2")
		up := c.next()
		t.Logf("update %v after the like's 202", up.received.Sub(accepted))
		if up.Op != "update" || up.Seq != last.Seq+1 || len(up.Counts) != 1 {
			t.Fatalf("update %+v: want only video-2", up)
		}
		if got, _ := up.counts("video-2", defaultWindows...); !slices.Equal(got, []int64{1, 1, 1}) {
			t.Fatalf("video-2 counts %v", got)
		}
	})
}

// Counts fall as time passes, with no new event, and every fall is pushed.
func TestLiveDecayPushed(t *testing.T) {
	t.Parallel()
	windows := []string{"2s", "4s", "8s"}
	p := Start(t, nil, liveTune(func(c *app.Config) { c.Windows = strings.Join(windows, ",") }))
	c := dialLive(t, p)
	c.subscribe("s1", "video_liked", "v")
	c.next() // snapshot: zeros
	post(t, p, ev("video_liked", "v"))
	c.until("the event counted", func(f liveFrame) bool {
		got, _ := f.counts("v", windows...)
		return slices.Equal(got, []int64{1, 1, 1})
	})
	// Then, without events, each window lets go of it in turn.
	seen := [][]int64{{1, 1, 1}}
	c.until("all windows at zero", func(f liveFrame) bool {
		got, ok := f.counts("v", windows...)
		if !ok {
			t.Fatalf("frame without v: %+v", f)
		}
		prev := seen[len(seen)-1]
		for i := range got {
			if got[i] > prev[i] {
				t.Fatalf("count rose without events: %v after %v", got, prev)
			}
		}
		seen = append(seen, got)
		return slices.Equal(got, []int64{0, 0, 0})
	})
	t.Logf("decay pushed as %v", seen)
	if !slices.ContainsFunc(seen, func(n []int64) bool { return n[0] == 0 && n[2] == 1 }) {
		t.Errorf("the 2s window never fell before the 8s one: %v", seen)
	}
}

func TestLiveTopUpdates(t *testing.T) {
	t.Parallel()
	EachMode(t, func(t *testing.T, m Mode) {
		p := StartMode(t, m, liveTune())
		c := dialLive(t, p)
		c.subscribeTop("top", "clip_viewed", "1m", 2)
		post(t, p, ev("clip_viewed", "a"), ev("clip_viewed", "a"), ev("clip_viewed", "b"),
			ev("clip_viewed", "c"), ev("clip_viewed", "c"), ev("clip_viewed", "a"))
		want := []api.Entry{{Subject: "a", Count: 3}, {Subject: "c", Count: 2}}
		f := c.until("top a=3 c=2", func(f liveFrame) bool {
			if f.Op != "top" || f.ID != "top" || f.Window != "1m" {
				t.Fatalf("frame %+v", f)
			}
			return slices.Equal(f.Entries, want)
		})
		post(t, p, ev("clip_viewed", "b"), ev("clip_viewed", "b"), ev("clip_viewed", "b"))
		want = []api.Entry{{Subject: "b", Count: 4}, {Subject: "a", Count: 3}}
		g := c.until("top b=4 a=3", func(f liveFrame) bool { return slices.Equal(f.Entries, want) })
		if g.Seq <= f.Seq {
			t.Errorf("seq %d after %d", g.Seq, f.Seq)
		}
	})
}

func TestLiveUnsubscribe(t *testing.T) {
	t.Parallel()
	EachMode(t, func(t *testing.T, m Mode) {
		p := StartMode(t, m, liveTune())
		c := dialLive(t, p)
		c.subscribe("x", "video_liked", "x")
		c.subscribe("y", "video_liked", "y")
		c.until("both snapshots", func(f liveFrame) bool { return f.ID == "y" })
		c.send(map[string]any{"op": "unsubscribe", "id": "x"})
		c.send(map[string]any{"op": "unsubscribe", "id": "x"}) // frames are handled in order
		if f := c.until("error", func(f liveFrame) bool { return f.Op == "error" }); f.Code != "unknown_subscription" {
			t.Fatalf("second unsubscribe: %+v", f)
		}
		post(t, p, ev("video_liked", "x"), ev("video_liked", "y"))
		f := c.next()
		if f.ID != "y" {
			t.Fatalf("after unsubscribing x: %+v", f)
		}
	})
}

func TestLiveMalformedFrames(t *testing.T) {
	t.Parallel()
	p := Start(t, nil, liveTune())
	c := dialLive(t, p)
	for _, tc := range []struct{ raw, code string }{
		{`not json`, "bad_frame"},
		{`{"op":"shout","id":"a"}`, "unknown_op"},
		{`{"op":"subscribe","id":"a","type":"Bad Type","subjects":["x"]}`, "invalid_type"},
		{`{"op":"subscribe","id":"a","type":"t","top":{"window":"7m","limit":3}}`, "invalid_window"},
		{`{"op":"subscribe","id":"a","type":"t"}`, "invalid_subscription"},
	} {
		c.sendRaw([]byte(tc.raw))
		if f := c.next(); f.Op != "error" || f.Code != tc.code {
			t.Errorf("%s: %+v, want error %s", tc.raw, f, tc.code)
		}
	}
	c.subscribe("ok", "t", "x") // the connection stays usable
	if f := c.next(); f.Op != "snapshot" {
		t.Fatalf("after errors: %+v", f)
	}
}

func TestLiveOriginAndKeys(t *testing.T) {
	t.Parallel()
	p := Start(t, nil, liveTune(func(c *app.Config) {
		c.AllowedOrigins = []string{"https://app.example.com"}
		c.BrowserKeys = []string{"browser-key"}
	}))
	dial := func(origin, token string) (int, string) {
		t.Helper()
		u := liveURL(p)
		if token != "" {
			u += "?access_token=" + token
		}
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, res, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: h})
		if err == nil {
			conn.CloseNow()
			return http.StatusSwitchingProtocols, ""
		}
		if res == nil {
			t.Fatalf("dial: %v", err)
		}
		defer res.Body.Close()
		var body httpapi.Body
		_ = json.NewDecoder(res.Body).Decode(&body)
		return res.StatusCode, body.Error.Code
	}
	for _, tc := range []struct {
		origin, token string
		status        int
		code          string
	}{
		{"", "", http.StatusUnauthorized, "unauthorized"},
		{"", "browser-key", http.StatusSwitchingProtocols, ""},
		{"https://app.example.com", "browser-key", http.StatusSwitchingProtocols, ""},
		{p.URL, "browser-key", http.StatusSwitchingProtocols, ""}, // same origin
		{"http://evil.test", "browser-key", http.StatusForbidden, "origin_not_allowed"},
	} {
		if status, code := dial(tc.origin, tc.token); status != tc.status || code != tc.code {
			t.Errorf("origin %q token %q: %d %s, want %d %s", tc.origin, tc.token, status, code, tc.status, tc.code)
		}
	}
}

func TestLiveSSE(t *testing.T) {
	t.Parallel()
	EachMode(t, func(t *testing.T, m Mode) {
		p := StartMode(t, m, liveTune())
		res, err := http.Get(p.URL + "/v1/live/sse?type=video_liked&subject=v1")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("sse: %d", res.StatusCode)
		}
		frames := make(chan liveFrame, 16)
		go func() {
			defer close(frames)
			sc := bufio.NewScanner(res.Body)
			for sc.Scan() {
				if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
					var f liveFrame
					_ = json.Unmarshal([]byte(data), &f)
					frames <- f
				}
			}
		}()
		next := func() liveFrame {
			select {
			case f := <-frames:
				return f
			case <-time.After(10 * time.Second):
				t.Fatal("no SSE event")
			}
			return liveFrame{}
		}
		if f := next(); f.Op != "snapshot" || f.ID != "sse" {
			t.Fatalf("first event %+v", f)
		}
		like(t, p, "v1")
		if f := next(); f.Op != "update" {
			t.Fatalf("second event %+v", f)
		} else if n, _ := f.count("v1", "1m"); n != 1 {
			t.Fatalf("v1 = %d", n)
		}
	})
}

func TestLiveShutdownGoingAway(t *testing.T) {
	t.Parallel()
	p := Start(t, nil, liveTune())
	c := dialLive(t, p)
	c.subscribe("s", "t", "x")
	c.next()
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if code, reason := c.closeStatus(); code != websocket.StatusGoingAway {
		t.Fatalf("closed with %v %q, want 1001", code, reason)
	}
}
