package integration

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulsehq/pulse/cmd/pulse/app"
	"github.com/pulsehq/pulse/internal/testenv"
)

func postBatch(t *testing.T, url string, evs ...map[string]any) ingestAnswer {
	t.Helper()
	b, _ := json.Marshal(evs)
	return ingestPost(t, url+"/v1/events", "application/json", b)
}

// code is the error code of an answer, "" for none.
func (a ingestAnswer) code() string {
	if a.Error == nil {
		return ""
	}
	return a.Error.Code
}

// On a cluster, a reply delayed past the read timeout (the append ran) must not make the
// client library send the append again: go-redis re-sends a failed cluster pipeline up to
// MaxRedirects times whatever MaxRetries says. On the old main an event without id was then
// stored twice, and an event with an id had its first submission answered "duplicate".
func TestClusterIngestIsNeverResent(t *testing.T) {
	t.Parallel()
	cl := testenv.StartCluster(t, testenv.ClusterOptions{Proxied: true})
	p := StartOn(t, cl.URL(), func(c *app.Config) {
		c.Roles = []string{"ingest"}
		c.RedisTimeout = time.Second
	})
	// Warm a connection to every node first: a fault on a new connection hits its handshake
	// (nothing sent), and this test is about a command that ran.
	for i := range 16 {
		if a := postBatch(t, p.URL, map[string]any{"type": "video_liked", "subject": strings.Repeat("w", i+1)}); a.Status != http.StatusAccepted {
			t.Fatalf("warm-up: %d %s", a.Status, a.code())
		}
	}
	delay := func() (remove func()) {
		var removes []func()
		for _, n := range cl.Nodes {
			removes = append(removes, n.Proxy.Inject(testenv.DelayReplies(2*time.Second, 1)))
		}
		return func() {
			for _, r := range removes {
				r()
			}
		}
	}

	remove := delay()
	noID := postBatch(t, p.URL, map[string]any{"type": "video_liked", "subject": "no-id", "data": map[string]any{"k": "once"}})
	withID := postBatch(t, p.URL, map[string]any{"id": "x1", "type": "video_liked", "subject": "with-id"})
	remove()
	for _, a := range []ingestAnswer{noID, withID} {
		if a.Status != http.StatusServiceUnavailable || a.code() != "unconfirmed" {
			t.Fatalf("delayed reply answered %d %q, want 503 unconfirmed", a.Status, a.code())
		}
	}
	if id := noID.Error.Details.Results[0].ID; id != "" {
		t.Errorf("an unconfirmed event without id was given the id %q", id)
	}
	// The appends ran once each: stored once, and the id's resend is a duplicate.
	rdb := cl.Client(t)
	ctx := context.Background()
	count := func(typ, subject string) int {
		msgs, err := rdb.XRange(ctx, p.Layout.Stream(p.Layout.Partition(typ, subject)), "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, m := range msgs {
			if m.Values["subject"] == subject {
				n++
			}
		}
		return n
	}
	testenv.WaitFor(t, 10*time.Second, "the delayed appends to land", func() bool {
		return count("video_liked", "no-id") >= 1 && count("video_liked", "with-id") >= 1
	})
	if n := count("video_liked", "no-id"); n != 1 {
		t.Errorf("the event without id is stored %d times, want 1", n)
	}
	if a := postBatch(t, p.URL, map[string]any{"id": "x1", "type": "video_liked", "subject": "with-id"}); a.Status != http.StatusOK || a.Duplicates != 1 {
		t.Errorf("resend of x1: %d %+v, want 200 duplicate", a.Status, a)
	}
	if n := count("video_liked", "with-id"); n != 1 {
		t.Errorf("x1 is stored %d times, want 1", n)
	}
}

// One seed URL of a cluster node gives a cluster client (the old main used a plain client
// and got MOVED for most partitions), and a database index, which a cluster cannot have, is
// refused instead of dropped.
func TestClusterFromOneSeed(t *testing.T) {
	t.Parallel()
	cl := testenv.StartCluster(t, testenv.ClusterOptions{})
	seed := "redis://" + cl.Nodes[0].Addr
	p := StartOn(t, seed, func(c *app.Config) { c.Roles = []string{"ingest"} })
	var evs []map[string]any
	for i := range 64 {
		evs = append(evs, map[string]any{"type": "video_liked", "subject": strings.Repeat("s", i+1)})
	}
	if a := postBatch(t, p.URL, evs...); a.Status != http.StatusAccepted || len(a.Results) != 64 {
		t.Fatalf("64 events over every partition: %d %q", a.Status, a.code())
	}
	cfg := app.Defaults()
	cfg.RedisURL = seed + "/1"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := app.New(ctx, cfg, Logger(t)); err == nil || !strings.Contains(err.Error(), "database 0") {
		t.Errorf("app.New on a cluster with database 1: %v, want a refusal", err)
	}
}

// The default partitions spread within one of each other over the masters of a cluster made
// by redis-cli, in the plan (pulse cluster plan) and in fact: each master holds the streams
// the plan gives it.
func TestClusterPartitionsBalanced(t *testing.T) {
	t.Parallel()
	cl := testenv.StartCluster(t, testenv.ClusterOptions{})
	p := StartOn(t, cl.URL(), nil)
	ctx := context.Background()
	plan, err := app.ClusterPlan(ctx, p.Config, Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	plan.Write(&out)
	t.Logf("pulse cluster plan:\n%s", out.String())
	if !plan.Recorded || plan.Layout != p.Layout || len(plan.Masters) != 3 {
		t.Fatalf("plan of %+v: %+v", p.Layout, plan)
	}
	lo, hi, total := p.Layout.Partitions, 0, 0
	for _, m := range plan.Masters {
		lo, hi, total = min(lo, len(m.Partitions)), max(hi, len(m.Partitions)), total+len(m.Partitions)
		node := cl.Node(m.Addr)
		if node == nil {
			t.Fatalf("the plan names %s, not a node of the cluster", m.Addr)
		}
		var want []string
		for _, part := range m.Partitions {
			want = append(want, p.Layout.Stream(part))
		}
		got, err := node.Client().Keys(ctx, "pulse:*:events").Result()
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("master %s holds the streams %v, the plan says %v", m.Addr, got, want)
		}
	}
	if total != p.Layout.Partitions || hi-lo > 1 {
		t.Errorf("%d partitions placed, %d to %d per master", total, lo, hi)
	}
}

// PULSE_INGEST_WAIT_REPLICAS beyond the replicas a master has makes every append to it
// unconfirmed: the process says so when it starts, naming the master, on a single Redis and on
// each master of a cluster.
func TestWaitReplicasWarnsWithoutReplicas(t *testing.T) {
	t.Parallel()
	single := testenv.StartRedisWith(t, testenv.RedisOptions{TCP: true})
	cl := testenv.StartCluster(t, testenv.ClusterOptions{Replicas: 1})
	for _, tc := range []struct {
		name, url    string
		wait, warned int
	}{
		{"single without replica", single.URL, 1, 1},
		{"cluster, one replica each, wait for 2", cl.URL(), 2, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := app.Defaults()
			cfg.RedisURL, cfg.Roles, cfg.DataDir, cfg.Addr = tc.url, []string{"ingest"}, t.TempDir(), "127.0.0.1:0"
			cfg.Ingest.WaitReplicas = tc.wait
			var log strings.Builder
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			a, err := app.New(ctx, cfg, slog.New(slog.NewTextHandler(&log, nil)))
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(log.String(), "fewer replicas than PULSE_INGEST_WAIT_REPLICAS"); n != tc.warned {
				t.Errorf("%d warnings, want %d:\n%s", n, tc.warned, log.String())
			}
			stopped, stop := context.WithCancel(context.Background())
			stop()
			_ = a.Run(stopped) // starts and stops at once: closes the App's clients
		})
	}
}
