package integration

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// TestFaultKills: every role's process is killed with SIGKILL at random (requests in flight,
// batches half applied, entries read and not yet acknowledged) and started again under the
// same consumer name.
func TestFaultKills(t *testing.T) {
	t.Parallel()
	eachTopology(t, "", func(t *testing.T, tp *topology) {
		d := deploy(t, tp)
		kills := map[string]int{}
		h := runWorkload(t, d, func(ctx context.Context) string {
			rng := rand.New(rand.NewPCG(4, uint64(time.Now().UnixNano())))
			d.restarted = true
			// Every process in turn, from a random one: even a short run kills most roles.
			next := rng.IntN(len(d.all))
			for sleepCtx(ctx, time.Duration(1000+rng.IntN(2000))*time.Millisecond); ctx.Err() == nil; sleepCtx(ctx, time.Duration(1000+rng.IntN(2000))*time.Millisecond) {
				p := d.all[next%len(d.all)]
				next++
				p.kill()
				kills[p.roles]++
				time.Sleep(time.Duration(100+rng.IntN(1000)) * time.Millisecond)
				if err := p.start(t); err != nil {
					t.Error(err)
					break
				}
			}
			return fmt.Sprintf("SIGKILLs by role %v", kills)
		})
		verdict(t, d, h)
	})
}
