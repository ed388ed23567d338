package live

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/testenv"
)

// startFeed runs a Feed of h on a private real Redis and waits until every partition's
// channel is subscribed (each confirmation resyncs its partition).
func startFeed(t *testing.T, h *testHub) (*testenv.Redis, *redis.Client) {
	t.Helper()
	r := testenv.StartRedis(t)
	rdb := r.Client()
	f := NewFeed(rdb, h.Hub)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("feed: %v", err)
		}
	})
	testenv.WaitFor(t, 10*time.Second, "feed subscribed", func() bool {
		return counterValue(h.m.resyncs) >= testPartitions
	})
	return r, rdb
}

func spublish(t *testing.T, rdb *redis.Client, cs *events.ChangeSet) {
	t.Helper()
	b, _ := json.Marshal(cs)
	if err := rdb.SPublish(context.Background(), testenv.Numbered.Changes(cs.Partition), b).Err(); err != nil {
		t.Fatal(err)
	}
}

func TestFeedDeliversAndResyncs(t *testing.T) {
	t.Parallel()
	h := startHub(t, nil)
	r, rdb := startFeed(t, h)
	h.src.set("t", "a", 1, 1, 1)
	c := dial(t, h.url, nil)
	c.send(subscribeMsg("s1", "t", "a"))
	if f := c.next(); f.Op != "snapshot" || f.counts()["a"][0] != 1 {
		t.Fatalf("snapshot %+v", f)
	}

	spublish(t, rdb, h.src.set("t", "a", 2, 2, 2))
	if f := c.next(); f.Op != "update" || f.counts()["a"][0] != 2 {
		t.Fatalf("update %+v", f)
	}

	// A change set of this partition is lost: the next one shows a gap in Version, and
	// the subscription gets a fresh snapshot rather than trusting what it has.
	h.src.set("t", "a", 3, 3, 3)
	spublish(t, rdb, h.src.set("t", "a", 4, 4, 4))
	f := c.until("snapshot after the gap", func(f frame) bool { return f.Op == "snapshot" })
	if !slices.Equal(f.counts()["a"], []int64{4, 4, 4}) {
		t.Fatalf("snapshot after gap %+v", f)
	}

	if r.Kind != "binary" {
		t.Logf("redis is %s: the restart part needs the local binary", r.Kind)
		return
	}
	// Redis goes away and comes back; whatever happened meanwhile, the feed resubscribes
	// and the subscription gets a fresh snapshot.
	r.Stop()
	h.src.set("t", "a", 5, 5, 5) // published while nobody listened
	r.Start()
	f = c.until("snapshot after the reconnect", func(f frame) bool { return f.Op == "snapshot" })
	if !slices.Equal(f.counts()["a"], []int64{5, 5, 5}) {
		t.Fatalf("snapshot after reconnect %+v", f)
	}
	spublish(t, rdb, h.src.set("t", "a", 6, 6, 6))
	c.until("update after the reconnect", func(f frame) bool { return f.Op == "update" && f.counts()["a"][0] == 6 })
}

func TestFeedSkipsBadMessages(t *testing.T) {
	t.Parallel()
	h := startHub(t, nil)
	_, rdb := startFeed(t, h)
	c := dial(t, h.url, nil)
	c.send(subscribeMsg("s1", "t", "a"))
	c.next()
	cs := h.src.set("t", "a", 7, 7, 7)
	ctx := context.Background()
	if err := rdb.SPublish(ctx, testenv.Numbered.Changes(cs.Partition), "not json").Err(); err != nil {
		t.Fatal(err)
	}
	wrong := *cs
	wrong.Changes = []events.Change{{Type: "t", Subject: "a", Counts: []int64{1}}} // wrong window count
	spublish(t, rdb, &wrong)
	cs.Version++ // the wrong one used cs's version
	spublish(t, rdb, cs)
	c.until("the good change", func(f frame) bool { return f.counts()["a"] != nil && f.counts()["a"][0] == 7 })
	if got := counterValue(h.m.badChanges); got != 2 {
		t.Errorf("bad changes %v, want 2", got)
	}
}
