package live

import (
	"context"
	"testing"
	"time"

	"github.com/pulsehq/pulse/internal/testenv"
)

// watching returns subject → watchers of a frame's counts; a subject without the member is
// missing.
func (f frame) watching() map[string]int64 {
	out := map[string]int64{}
	for _, c := range f.Counts {
		if c.Watching != nil {
			out[c.Subject] = *c.Watching
		}
	}
	return out
}

func watchMsg(id string, subjects ...string) map[string]any {
	m := subscribeMsg(id, "video_liked", subjects...)
	m["watch"] = true
	return m
}

// untilWatching reads c's frames until subject shows n watchers.
func untilWatching(c *wsClient, subject string, n int64) {
	c.t.Helper()
	c.until("watching", func(f frame) bool {
		w, ok := f.watching()[subject]
		return ok && w == n
	})
}

// TestWatchingAcrossProcesses: two hubs (two live processes) on one Redis count the
// connections watching a subject together, each connection once, and forget a connection
// that closes, and a process that leaves or stops syncing.
func TestWatchingAcrossProcesses(t *testing.T) {
	t.Parallel()
	r := testenv.StartRedis(t)
	tune := func(c *Config) { c.Presence, c.PresenceInterval = NewRedisPresence(r.Client()), 50*time.Millisecond }
	h1, h2 := startHub(t, tune), startHub(t, tune)

	a := dial(t, h1.url, nil)
	a.send(watchMsg("s1", "v1", "v2"))
	if f := a.next(); f.Op != "snapshot" || f.watching()["v1"] != 1 || f.watching()["v2"] != 1 {
		t.Fatalf("first watcher's snapshot %+v: want v1 and v2 watched by 1 (itself)", f)
	}

	b := dial(t, h2.url, nil)
	b.send(watchMsg("s1", "v1"))
	untilWatching(a, "v1", 2)
	untilWatching(b, "v1", 2)

	// One connection naming v1 in two subscriptions is one watcher.
	c := dial(t, h1.url, nil)
	c.send(watchMsg("x", "v1"))
	c.send(watchMsg("y", "v1", "v3"))
	untilWatching(a, "v1", 3)
	untilWatching(b, "v1", 3) // before c goes, or b might never see it (a sync of h2 can miss c's whole life)
	c.send(map[string]any{"op": "unsubscribe", "id": "x"})
	c.until("y's snapshot", func(f frame) bool { return f.ID == "y" && f.Op == "snapshot" })
	_ = c.conn.CloseNow()
	untilWatching(a, "v1", 2)
	untilWatching(b, "v1", 2)

	// A subscription without watch says nothing of watchers.
	d := dial(t, h2.url, nil)
	d.send(subscribeMsg("plain", "video_liked", "v1"))
	if f := d.next(); f.Op != "snapshot" || len(f.watching()) != 0 {
		t.Fatalf("snapshot without watch %+v: want no watching member", f)
	}

	// A process that leaves is forgotten at once; one that stops syncing, when its counts expire.
	ctx := context.Background()
	other := NewRedisPresence(r.Client())
	if _, err := other.Sync(ctx, map[string]int64{"v2": 4}, time.Minute); err != nil {
		t.Fatal(err)
	}
	untilWatching(a, "v2", 5)
	if err := other.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	untilWatching(a, "v2", 1)
	dead := NewRedisPresence(r.Client())
	// 40 of h1's sync intervals: h1 sees it before it expires.
	if _, err := dead.Sync(ctx, map[string]int64{"v2": 7}, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	untilWatching(a, "v2", 8)
	untilWatching(a, "v2", 1)

	// Everything a process wrote goes when it stops: Redis holds no count of a stopped hub.
	_ = a.conn.CloseNow()
	_ = b.conn.CloseNow()
	rdb := r.Client()
	deadline := time.Now().Add(10 * time.Second)
	for {
		keys, err := rdb.Keys(ctx, "pulse:watch:*").Result()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, k := range keys {
			if k != presenceNodes {
				n++
			}
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("counts of closed connections still in Redis: %v", keys)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
