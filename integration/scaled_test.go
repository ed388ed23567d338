package integration

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	api "github.com/pulsehq/pulse/client"
	"github.com/pulsehq/pulse/cmd/pulse/app"
	"github.com/pulsehq/pulse/consumers/counter"
	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/testenv"
)

// Every role scaled out on a 3-master cluster: 2 ingest, 2 counter, 2 live and 1 indexer
// Apps behind one gateway. The counts equal the oracle of TestCounterOracle, and live
// clients of either live App see the same leaderboard as the counter's API.
func TestScaledOnCluster(t *testing.T) {
	t.Parallel()
	cl := testenv.StartCluster(t, testenv.ClusterOptions{})
	p := StartSplit(t, cl.URL(), Scale{Ingest: 2, Counter: 2, Live: 2, Indexer: 1}, func(c *app.Config) {
		c.Partitions = oraclePartitions
		c.MaxFuture = oracleMaxFuture
		c.Live.Interval = 20 * time.Millisecond
	})
	t.Logf("harness: cluster/split, scaled: %s", cl.Kind)
	ws, _ := events.ParseWindows(events.DefaultWindows)
	var subs []*api.Subscription
	for _, l := range p.Roles["live"] {
		c, err := api.New(api.Config{URL: l.URL})
		if err != nil {
			t.Fatal(err)
		}
		s, err := c.SubscribeTop(context.Background(), "video_liked", "10m", 10)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		subs = append(subs, s)
	}

	const total = 10_000
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0))
	zipf := rand.NewZipf(rng, 1.1, 2, oracleSubjects-1)
	o := &oracle{times: map[[2]string][]int64{}}
	for posted := 0; posted < total; posted += oracleBatch {
		batch := make([]postedEvent, oracleBatch)
		for i := range batch {
			batch[i] = postedEvent{ID: fmt.Sprintf("s%d", posted+i), Type: oracleTypes[rng.IntN(len(oracleTypes))],
				Subject: fmt.Sprintf("video-%d", zipf.Uint64()), Time: time.Now().UnixMilli() - 12_000 + rng.Int64N(14_500)}
		}
		o.post(t, p.URL, batch) // the gateway sends each request to either ingest App
	}
	rdb := cl.Client(t)
	testenv.WaitFor(t, 90*time.Second, "every entry applied", func() bool { return drained(t, rdb, o.accepted) })

	r := counter.NewReader(rdb, p.Layout, ws)
	for _, typ := range oracleTypes {
		o.checkWindows(t, r, typ, ws)
		for w := range ws {
			o.checkTop(t, r, typ, ws, w, 10)
		}
		o.checkHistory(t, r, typ)
	}
	testenv.WaitFor(t, time.Minute, "both live Apps' leaderboards equal the counter's", func() bool {
		_, top, err := r.Top(context.Background(), "video_liked", 2, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range subs {
			if !slices.Equal(s.Top(), top) {
				return false
			}
		}
		return true
	})
}
