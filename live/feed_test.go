package live

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
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
	runFeed(t, h, rdb)
	return r, rdb
}

// runFeed runs a Feed of h on rdb until the test ends, and waits until every partition's
// channel is subscribed.
func runFeed(t *testing.T, h *testHub, rdb redis.UniversalClient) {
	t.Helper()
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
}

func spublish(t *testing.T, rdb redis.UniversalClient, cs *events.ChangeSet) {
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

// A failover moves a channel's slot to the replica: the old master ends the subscriptions of
// that slot (an sunsubscribe the feed never sent) and stays connected. The feed must subscribe
// again on the new master, and the subscription gets a fresh snapshot, then updates again.
func TestFeedFollowsASlotMove(t *testing.T) {
	t.Parallel()
	cl := testenv.StartCluster(t, testenv.ClusterOptions{Replicas: 1})
	rdb := cl.Client(t)
	h := startHub(t, nil)
	runFeed(t, h, rdb)
	h.src.set("t", "a", 1, 1, 1)
	c := dial(t, h.url, nil)
	c.send(subscribeMsg("s1", "t", "a"))
	if f := c.next(); f.Op != "snapshot" || f.counts()["a"][0] != 1 {
		t.Fatalf("snapshot %+v", f)
	}

	// The replica of the master that holds subject a's channel takes over, as after a failure.
	ctx := context.Background()
	channel := testenv.Numbered.Changes(h.src.set("t", "a", 2, 2, 2).Partition)
	master, err := rdb.MasterForKey(ctx, channel)
	if err != nil {
		t.Fatal(err)
	}
	replica := replicaOf(t, cl, master.Options().Addr)
	if err := replica.Do(ctx, "CLUSTER", "FAILOVER").Err(); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, time.Minute, "the replica to become master", func() bool {
		role, err := replica.Do(ctx, "ROLE").Slice()
		return err == nil && len(role) > 0 && role[0] == "master"
	})
	cl.WaitReady()
	// A node that has not heard of the move yet can send the feed's first try to the old
	// master again (MOVED): go-redis retries until its slot map is fresh, within seconds.
	testenv.WaitFor(t, time.Minute, "the feed to subscribe again", func() bool {
		return counterValue(h.m.resyncs) > testPartitions
	})

	f := c.until("a snapshot after the slot moved", func(f frame) bool { return f.Op == "snapshot" })
	if !slices.Equal(f.counts()["a"], []int64{2, 2, 2}) {
		t.Fatalf("snapshot after the slot moved %+v", f)
	}
	spublish(t, rdb, h.src.set("t", "a", 3, 3, 3))
	c.until("an update from the new master", func(f frame) bool { return f.Op == "update" && f.counts()["a"][0] == 3 })
}

// replicaOf is a client of a replica of the master at addr, closed at cleanup.
func replicaOf(t *testing.T, cl *testenv.Cluster, addr string) *redis.Client {
	t.Helper()
	for _, n := range cl.Nodes {
		c := redis.NewClient(&redis.Options{Addr: n.Addr})
		role, err := c.Do(context.Background(), "ROLE").Slice()
		if err == nil && len(role) > 2 && role[0] == "slave" &&
			net.JoinHostPort(fmt.Sprint(role[1]), fmt.Sprint(role[2])) == addr {
			t.Cleanup(func() { _ = c.Close() })
			return c
		}
		_ = c.Close()
	}
	t.Fatalf("no replica of %s", addr)
	return nil
}
