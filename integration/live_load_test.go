package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/sync/errgroup"

	"github.com/pulsehq/pulse/cmd/pulse/app"
	"github.com/pulsehq/pulse/internal/testenv"
)

// One client never reads while 50 others receive every final count; the stuck one is closed
// with 1008. (What a stuck client costs in memory is measured by pulse bench, not here: other
// tests share the process heap.)
func TestLiveSlowClient(t *testing.T) {
	t.Parallel()
	p := Start(t, nil, liveTune(func(c *app.Config) { c.Live.SlowTimeout, c.Live.PingInterval = 10*time.Second, 5*time.Second }))
	subjects := []string{"s0", "s1", "s2", "s3", "s4"}
	stuck := dialLiveStuck(t, p)
	stuck.subscribe("s", "video_liked", subjects...)
	readers := make([]*liveClient, 50)
	for i := range readers {
		readers[i] = dialLive(t, p)
		readers[i].subscribe("s", "video_liked", subjects...)
	}
	for _, c := range readers {
		c.next() // snapshot
	}

	const rounds, perSubject = 20, 10
	for range rounds {
		var batch []map[string]any
		for _, s := range subjects {
			for range perSubject {
				batch = append(batch, ev("video_liked", s))
			}
		}
		post(t, p, batch...)
	}
	final := int64(rounds * perSubject)
	start := time.Now()
	for i, c := range readers {
		latest := make(map[string]int64)
		c.until(fmt.Sprintf("reader %d: every subject at %d", i, final), func(f liveFrame) bool {
			for _, s := range subjects {
				if n, ok := f.count(s, "1m"); ok {
					if n > final {
						t.Fatalf("reader %d: %s = %d > %d", i, s, n, final)
					}
					latest[s] = n
				}
			}
			for _, s := range subjects {
				if latest[s] != final {
					return false
				}
			}
			return true
		})
	}
	t.Logf("50 readers had every final count %v after the last 202", time.Since(start))

	// The stuck client is found out by the ping it cannot answer (reading it now would answer).
	testenv.WaitFor(t, 90*time.Second, "the stuck client to be closed", func() bool {
		return metric(t, p.URL, "pulse_live_slow_closes_total") == "1"
	})
	if code, reason := stuck.closeStatus(); code != websocket.StatusPolicyViolation || reason != "client too slow" {
		t.Fatalf("stuck client closed with %v %q, want 1008 client too slow", code, reason)
	}
}

// 1,000 connections of one process subscribe to one subject, and all of them see the like.
func TestLiveThousandConnections(t *testing.T) {
	t.Parallel()
	p := Start(t, nil, liveTune())
	const n = 1000
	clients := make([]*liveClient, n)
	start := time.Now()
	var g errgroup.Group
	g.SetLimit(16) // connecting is mostly waiting: overlap it
	for i := range clients {
		g.Go(func() error {
			c, err := tryDialLive(t, p)
			if err != nil {
				return err
			}
			clients[i] = c
			// A generous bound: a write that times out closes the connection.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			sub := []byte(`{"op":"subscribe","id":"hot","type":"video_liked","subjects":["hot"]}`)
			if err := c.conn.Write(ctx, websocket.MessageText, sub); err != nil {
				return err
			}
			select {
			case f := <-c.frames:
				if f.Op != "snapshot" {
					return fmt.Errorf("client %d: first frame %+v", i, f)
				}
				return nil
			case <-time.After(30 * time.Second):
				return fmt.Errorf("client %d: no snapshot", i)
			}
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d connections subscribed in %v", n, time.Since(start))
	accepted := like(t, p, "hot")
	lat := make([]time.Duration, 0, n)
	for i, c := range clients {
		f := c.until(fmt.Sprintf("client %d to see the like", i), func(f liveFrame) bool {
			got, _ := f.count("hot", "1m")
			return got == 1
		})
		lat = append(lat, f.received.Sub(accepted))
	}
	if v := metric(t, p.URL, `pulse_live_connections{transport="ws"}`); v != fmt.Sprint(n) {
		t.Errorf("connections gauge %q, want %d", v, n)
	}
	t.Logf("%d connections: like 202 → update p50 %v, p99 %v, max %v", n,
		percentile(lat, .5), percentile(lat, .99), slices.Max(lat))
}

// 1,000 connections subscribe to 100 subjects each at the same moment while events arrive:
// every one gets its snapshot with the counts. A load run once found each subscription reading
// on its own with a short timeout: reads timed out, were retried together every second, and
// most snapshots never came. Reads are shared now; a read may still time out on a starved CPU
// (this runs with -race beside other tests), but then a few reads fail and are retried, not
// one per subscription.
func TestLiveManySubscribersAtOnce(t *testing.T) {
	t.Parallel()
	// A generous slow-client bound and no pings: with -race beside other tests, a thousand
	// connections may wait seconds for the CPU, and a client closed as slow is not what this
	// test is about. A ping is answered by coder/websocket within a fixed 5 s, which a starved
	// client can miss; it then closes its own connection (seen in CI with two runs at once).
	p := Start(t, nil, liveTune(func(c *app.Config) { c.Live.SlowTimeout, c.Live.PingInterval = time.Minute, time.Hour }))
	const n, perSub = 1000, 100
	subjects := make([]string, perSub)
	var batch []map[string]any
	for i := range subjects {
		subjects[i] = fmt.Sprint("many-", i)
		batch = append(batch, ev("video_liked", subjects[i]))
	}
	post(t, p, batch...) // every subject at 1 before anyone subscribes

	clients := make([]*liveClient, n)
	var g errgroup.Group
	g.SetLimit(32)
	for i := range clients {
		g.Go(func() (err error) {
			clients[i], err = tryDialLive(t, p)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	sub, _ := json.Marshal(map[string]any{"op": "subscribe", "id": "s", "type": "video_liked", "subjects": subjects})
	// Events keep the counter busy meanwhile, of a subject nobody watches: this is about
	// snapshots, not fan-out.
	stop := make(chan struct{})
	var load sync.WaitGroup
	load.Go(func() {
		body, _ := json.Marshal(ev("video_liked", "many-unwatched"))
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if res, err := http.Post(p.URL+"/v1/events", "application/json", bytes.NewReader(body)); err == nil {
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		}
	})
	defer load.Wait()
	defer close(stop)
	start := time.Now()
	// 32 writes at a time, as many as dials: a thousand at once starve the CPU long enough for a
	// client's pong to miss coder/websocket's 5 s bound, which closes the connection.
	var wg errgroup.Group
	wg.SetLimit(32)
	for _, c := range clients {
		wg.Go(func() error {
			// A generous bound: a write that times out closes the connection.
			wctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_ = c.conn.Write(wctx, websocket.MessageText, sub) // a failed write shows as no snapshot
			return nil
		})
	}
	_ = wg.Wait()
	lat := make([]time.Duration, n)
	for i, c := range clients {
		f := c.until(fmt.Sprintf("client %d's snapshot", i), func(f liveFrame) bool {
			if f.Op == "error" && f.Code != "unavailable" {
				t.Fatalf("client %d: %+v", i, f)
			}
			return f.Op == "snapshot"
		})
		if len(f.Counts) != perSub {
			t.Fatalf("client %d: snapshot of %d subjects, want %d", i, len(f.Counts), perSub)
		}
		for _, s := range subjects {
			if got, _ := f.count(s, "10m"); got < 1 {
				t.Fatalf("client %d: %s at %d in its snapshot, want ≥ 1", i, s, got)
			}
		}
		lat[i] = f.received.Sub(start)
	}
	failed, _ := strconv.Atoi(metric(t, p.URL, "pulse_live_query_errors_total"))
	if failed > n/10 {
		t.Errorf("%d snapshot reads failed for %d subscriptions: a retry storm", failed, n)
	}
	t.Logf("%d subscriptions of %d subjects at once: snapshot after p50 %v, p99 %v, max %v; %s reads, %d failed", n, perSub,
		percentile(lat, .5), percentile(lat, .99), slices.Max(lat), metric(t, p.URL, "pulse_live_snapshot_duration_seconds_count"), failed)
}

// Two live instances on one Redis: a client on each sees the same counts, wherever the
// events were posted.
func TestLiveTwoInstances(t *testing.T) {
	t.Parallel()
	p1 := Start(t, nil, liveTune())
	p2 := Start(t, p1.Redis, liveTune())
	c1, c2 := dialLive(t, p1), dialLive(t, p2)
	for _, c := range []*liveClient{c1, c2} {
		c.subscribe("s", "video_liked", "shared")
		c.next()
	}
	post(t, p1, ev("video_liked", "shared"), ev("video_liked", "shared"), ev("video_liked", "shared"))
	post(t, p2, ev("video_liked", "shared"), ev("video_liked", "shared"))
	for i, c := range []*liveClient{c1, c2} {
		c.until(fmt.Sprintf("instance %d at 5", i+1), func(f liveFrame) bool {
			got, _ := f.counts("shared", defaultWindows...)
			if got[0] > 5 {
				t.Fatalf("instance %d: %v", i+1, got)
			}
			return slices.Equal(got, []int64{5, 5, 5})
		})
	}
}

// TestLiveLatency measures, with the production interval (100 ms), how long a snapshot takes
// after subscribe, and an update after a like's 202. It reports; it does not assert times.
func TestLiveLatency(t *testing.T) {
	t.Parallel()
	p := Start(t, nil, nil)
	c := dialLive(t, p)
	const n = 40
	var snaps, updates []time.Duration
	for i := range n {
		sent := time.Now()
		c.subscribe(fmt.Sprint("s", i), "video_liked", fmt.Sprint("lat-", i))
		f := c.next()
		snaps = append(snaps, f.received.Sub(sent))
	}
	// Pacing, not waiting for an outcome: each subscription's last frame (its snapshot) is now
	// older than the interval, so its first change goes at once, as after any quiet period.
	time.Sleep(p.Config.Live.Interval)
	// The update may arrive before the client has read the 202: that counts as 0. The frame's
	// at (Redis TIME of the counter's change, ms) splits the time between counter and live.
	var toCounter, toClient []time.Duration
	for i := range n {
		accepted := like(t, p, fmt.Sprint("lat-", i))
		f := c.until("the like", func(f liveFrame) bool { return f.ID == fmt.Sprint("s", i) })
		updates = append(updates, max(0, f.received.Sub(accepted)))
		changed := time.UnixMilli(f.At)
		toCounter = append(toCounter, max(0, changed.Sub(accepted.Truncate(time.Millisecond))))
		toClient = append(toClient, max(0, f.received.Sub(changed)))
	}
	t.Logf("snapshot after subscribe: p50 %v p99 %v max %v (n=%d)", percentile(snaps, .5), percentile(snaps, .99), slices.Max(snaps), n)
	t.Logf("update after the like's 202: p50 %v p99 %v max %v (n=%d)", percentile(updates, .5), percentile(updates, .99), slices.Max(updates), n)
	t.Logf("  of which 202 → counter's change (ms clock): p50 %v p99 %v; change → client: p50 %v p99 %v",
		percentile(toCounter, .5), percentile(toCounter, .99), percentile(toClient, .5), percentile(toClient, .99))
}

// metric returns the value of one sample of the /metrics of the process at base ("" when
// absent).
func metric(t testing.TB, base, name string) string {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	return ""
}

// TestLiveLoadLatency measures ingest 202 → WebSocket update while events arrive at a steady
// rate: PULSE_LIVE_LOAD=1000,10000 (events/s, one run each) for PULSE_LIVE_LOAD_SECONDS
// (default 10). 100 clients watch 100 loaded subjects each; a probe likes one of 50 subjects,
// each its own subscription, every 100 ms and times its update. It reports, not asserts.
func TestLiveLoadLatency(t *testing.T) {
	spec := os.Getenv("PULSE_LIVE_LOAD")
	if spec == "" {
		t.Skip("set PULSE_LIVE_LOAD=1000,10000 to measure latency under load")
	}
	seconds, _ := strconv.Atoi(os.Getenv("PULSE_LIVE_LOAD_SECONDS"))
	if seconds <= 0 {
		seconds = 10
	}
	for _, r := range strings.Split(spec, ",") {
		rate, err := strconv.Atoi(strings.TrimSpace(r))
		if err != nil || rate < 100 {
			t.Fatalf("PULSE_LIVE_LOAD: %q is not a rate ≥ 100", r)
		}
		t.Run(fmt.Sprintf("%d_per_s", rate), func(t *testing.T) { measureLoad(t, rate, time.Duration(seconds)*time.Second) })
	}
}

func measureLoad(t *testing.T, rate int, d time.Duration) {
	// No indexer: this measures the path ingest → counter → live.
	p := Start(t, nil, func(c *app.Config) { c.Roles = []string{"ingest", "counter", "live"} })
	const watchers, perWatcher, loaded, batch, workers = 100, 100, 10_000, 100, 8
	for i := range watchers {
		c := dialLive(t, p)
		subjects := make([]string, perWatcher)
		for j := range subjects {
			subjects[j] = fmt.Sprint("load-", (i*perWatcher+j)%loaded)
		}
		c.subscribe("w", "load_event", subjects...)
		go func() { // keep reading: a watcher that stalls would be closed as too slow
			for range c.frames {
			}
		}()
	}
	probe := dialLive(t, p)
	const probes = 50
	for k := range probes {
		probe.subscribe(fmt.Sprint("p", k), "video_liked", fmt.Sprint("probe-", k))
		probe.next()
	}

	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var posted, refused atomic.Int64
	var g errgroup.Group
	every := time.Duration(float64(time.Second) * batch * workers / float64(rate))
	for w := range workers {
		g.Go(func() error {
			tick := time.NewTicker(every)
			defer tick.Stop()
			body := make([]map[string]any, batch)
			for n := 0; ; n++ {
				select {
				case <-ctx.Done():
					return nil
				case <-tick.C:
				}
				for i := range body {
					body[i] = ev("load_event", fmt.Sprint("load-", (w*7919+n*batch+i)%loaded))
				}
				b, _ := json.Marshal(body)
				res, err := http.Post(p.URL+"/v1/events", "application/json", bytes.NewReader(b))
				if err != nil {
					return err
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode == http.StatusAccepted {
					posted.Add(batch)
				} else {
					refused.Add(batch)
				}
			}
		})
	}
	var lat []time.Duration
	start := time.Now()
	for k := 0; ctx.Err() == nil; k++ {
		time.Sleep(100 * time.Millisecond) // pacing of the probe, not a wait for an outcome
		id := fmt.Sprint("p", k%probes)
		accepted := like(t, p, fmt.Sprint("probe-", k%probes))
		f := probe.until("the probe's update", func(f liveFrame) bool { return f.ID == id && f.Op == "update" })
		lat = append(lat, max(0, f.received.Sub(accepted)))
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	t.Logf("target %d events/s: posted %d in %v (%.0f/s), refused %d; %d watchers × %d subjects",
		rate, posted.Load(), elapsed.Round(time.Millisecond), float64(posted.Load())/elapsed.Seconds(), refused.Load(), watchers, perWatcher)
	t.Logf("like 202 → update: p50 %v p99 %v max %v (n=%d)", percentile(lat, .5), percentile(lat, .99), slices.Max(lat), len(lat))
}
