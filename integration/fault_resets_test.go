package integration

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/pulsehq/pulse/internal/testenv"
)

// TestFaultResets: connections to Redis are cut partway through what a client sends (Redis
// runs a prefix of a pipeline and the rest never arrives), reset, or all dropped at once.
func TestFaultResets(t *testing.T) {
	t.Parallel()
	eachTopology(t, "", func(t *testing.T, tp *topology) {
		d := deploy(t, tp)
		resets := 0
		h := runWorkload(t, d, func(ctx context.Context) string {
			rng := rand.New(rand.NewPCG(2, uint64(time.Now().UnixNano())))
			for ctx.Err() == nil {
				p := tp.proxies[rng.IntN(len(tp.proxies))]
				switch rng.IntN(5) {
				case 0:
					p.ResetConnections()
					resets++
				case 1, 2:
					remove := p.Inject(testenv.CutRequests(20+rng.IntN(3000), 0.3))
					sleepCtx(ctx, time.Duration(100+rng.IntN(300))*time.Millisecond)
					remove()
				default:
					remove := p.Inject(testenv.ResetPeer(0.3))
					sleepCtx(ctx, time.Duration(50+rng.IntN(200))*time.Millisecond)
					remove()
				}
				sleepCtx(ctx, time.Duration(200+rng.IntN(500))*time.Millisecond)
			}
			return fmt.Sprintf("%s, %d drops of every connection", injected(tp), resets)
		})
		verdict(t, d, h)
	})
}
