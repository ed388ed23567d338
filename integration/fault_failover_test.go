package integration

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	api "github.com/pulsehq/pulse/client"
	"github.com/pulsehq/pulse/internal/testenv"
)

// TestFaultFailover: on a cluster of 3 masters with one replica each, a master is killed
// (SIGKILL) while the oracle workload runs. Its replica is promoted, and without a restart of
// anything but that node: ingest answers 503 during the switch and 202 after it, the consumer
// groups resume, and a live client subscribed before the failure sees counts of the failed
// master's partitions move again (the sharded subscription followed the slots).
//
// Replication is asynchronous: writes the master acknowledged and had not yet sent to its
// replica are lost with it (docs/operations.md, Redis Cluster). With
// PULSE_INGEST_WAIT_REPLICAS=1 ingest answers 202 only after WAIT confirmed the append on the
// replica, and the oracle must find nothing lost; without it, the figure is reported. Neither
// may double an event.
func TestFaultFailover(t *testing.T) {
	t.Parallel()
	for _, wait := range []int{0, 1} {
		t.Run(fmt.Sprintf("wait%d", wait), func(t *testing.T) {
			t.Parallel()
			cl := testenv.StartCluster(t, testenv.ClusterOptions{Replicas: 1})
			tp := &topology{name: "cluster+replicas", url: cl.URL(), direct: cl.Client(t), cluster: cl}
			d := deployWith(t, tp, deployOptions{
				env:          []string{fmt.Sprintf("PULSE_INGEST_WAIT_REPLICAS=%d", wait), "PULSE_INGEST_WAIT_TIMEOUT=500ms"},
				indexerLater: true,
			})
			d.mayLose = wait == 0

			// A subject on every partition, followed live from before the first failure.
			probes := probeSubjects(t)
			live, err := api.New(api.Config{URL: d.live.url()})
			if err != nil {
				t.Fatal(err)
			}
			sub, err := live.Subscribe(context.Background(), "video_liked", probes...)
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()

			var killed []*testenv.ClusterNode
			h := runWorkload(t, d, func(ctx context.Context) string {
				rng := rand.New(rand.NewPCG(6, uint64(time.Now().UnixNano())))
				var took []string
				for sleepCtx(ctx, time.Duration(2000+rng.IntN(2000))*time.Millisecond); ctx.Err() == nil; sleepCtx(ctx, 10*time.Second) {
					n, promoted := failover(cl, rng)
					killed = append(killed, n)
					took = append(took, promoted.Round(100*time.Millisecond).String())
				}
				return fmt.Sprintf("%d masters killed (SIGKILL), each replica promoted after %s", len(killed), strings.Join(took, ", "))
			})
			if len(killed) == 0 {
				t.Fatal("the workload ended before any failover")
			}

			// After the switch: ingest takes every partition again, and live pushes their
			// counts, on the subscription made before it.
			c := &client{n: 1000, h: h, urls: func() []string { return []string{d.ingest[0].url()} },
				rng: rand.New(rand.NewPCG(7, 7)), http: &http.Client{Timeout: 10 * time.Second}}
			var batch []*chaosEvent
			h.mu.Lock()
			for i, s := range probes {
				e := &chaosEvent{marker: fmt.Sprintf("probe-%d", i), typ: "video_liked", subject: s, time: time.Now().UnixMilli(), valid: true}
				e.id = e.marker
				h.events[e.marker] = e
				batch = append(batch, e)
			}
			h.mu.Unlock()
			c.send(batch, nil)
			for _, e := range batch {
				if e.outcome != stored {
					t.Fatalf("probe %s on partition %d: not stored after the failover (outcome %d)", e.subject, chaosLayout.Partition(e.typ, e.subject), e.outcome)
				}
			}
			testenv.WaitFor(t, time.Minute, "live counts of every partition after the failover", func() bool {
				counts := sub.Counts()
				for _, s := range probes {
					if counts[s]["10m"] != 1 {
						return false
					}
				}
				return true
			})

			d.startIndexer()
			verdict(t, d, h)
		})
	}
}

// probeSubjects returns one subject per partition.
func probeSubjects(t *testing.T) []string {
	t.Helper()
	out := make([]string, chaosLayout.Partitions)
	found := 0
	for i := 0; found < len(out); i++ {
		s := fmt.Sprintf("probe%d", i)
		if p := chaosLayout.Partition("video_liked", s); out[p] == "" {
			out[p] = s
			found++
		}
	}
	return out
}

// failover kills a random master, waits for its replica to take over, starts it again (it
// rejoins as a replica) and waits for the cluster to be whole. It returns the node killed and
// how long the promotion took.
func failover(cl *testenv.Cluster, rng *rand.Rand) (*testenv.ClusterNode, time.Duration) {
	masters := cl.Masters()
	victim := masters[rng.IntN(len(masters))]
	promoted := cl.KillMaster(victim)
	victim.Start()
	cl.WaitReady()
	return victim, promoted
}
