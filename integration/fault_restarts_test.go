package integration

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// TestFaultRestarts: Redis is killed (SIGKILL: no shutdown save) and started again from its
// append-only file, over and over, with appendfsync always and everysec; on a cluster, one
// master at a time. A process crash loses nothing under either setting (the AOF is written
// before Redis replies; everysec only delays the fsync, which matters for a machine that
// loses power, not here): the oracle holds both ways. That holds while fsync keeps up: on a
// busy disk everysec postpones the write itself (docs/reliability.md), so the AOF of these
// tests is on tmpfs (testenv).
func TestFaultRestarts(t *testing.T) {
	t.Parallel()
	for _, fsync := range []string{"always", "everysec"} {
		t.Run(fsync, func(t *testing.T) {
			t.Parallel()
			eachTopology(t, fsync, func(t *testing.T, tp *topology) {
				d := deploy(t, tp)
				restarts := 0
				h := runWorkload(t, d, func(ctx context.Context) string {
					rng := rand.New(rand.NewPCG(3, uint64(time.Now().UnixNano())))
					for sleepCtx(ctx, time.Duration(2000+rng.IntN(2000))*time.Millisecond); ctx.Err() == nil; sleepCtx(ctx, time.Duration(2000+rng.IntN(2000))*time.Millisecond) {
						if tp.single != nil {
							tp.single.Kill()
							time.Sleep(time.Duration(200+rng.IntN(1000)) * time.Millisecond)
							tp.single.Start()
						} else {
							n := tp.cluster.Nodes[rng.IntN(len(tp.cluster.Nodes))]
							n.Kill()
							time.Sleep(time.Duration(200+rng.IntN(1000)) * time.Millisecond)
							n.Start()
						}
						restarts++
					}
					return fmt.Sprintf("%d Redis crashes (SIGKILL) and restarts", restarts)
				})
				verdict(t, d, h)
			})
		})
	}
}
