package integration

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/pulsehq/pulse/internal/testenv"
)

// TestFaultReplies: replies of Redis are delayed past Pulse's Redis timeout, or lost (the
// connection closes after the command ran), at random, on every connection of every role:
// appends, reads of the consumer groups, counter scripts, acknowledgements, settles.
func TestFaultReplies(t *testing.T) {
	t.Parallel()
	eachTopology(t, "", func(t *testing.T, tp *topology) {
		d := deploy(t, tp)
		h := runWorkload(t, d, func(ctx context.Context) string {
			rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
			for ctx.Err() == nil {
				p := tp.proxies[rng.IntN(len(tp.proxies))]
				var f testenv.Fault
				if rng.IntN(2) == 0 {
					f = testenv.DelayReplies(chaosTimeout+500*time.Millisecond, 0.3)
				} else {
					f = testenv.LoseReplies(0.2)
				}
				remove := p.Inject(f)
				sleepCtx(ctx, time.Duration(100+rng.IntN(400))*time.Millisecond)
				remove()
				sleepCtx(ctx, time.Duration(100+rng.IntN(400))*time.Millisecond)
			}
			return injected(tp)
		})
		verdict(t, d, h)
	})
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// injected sums the proxies' fault counts by kind.
func injected(tp *topology) string {
	sum := map[string]int{}
	for _, p := range tp.proxies {
		for k, n := range p.Injected() {
			sum[k] += n
		}
	}
	return fmt.Sprint(sum)
}
