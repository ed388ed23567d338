package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pulsehq/pulse/internal/testenv"
)

// TestFaultMisconfigured: while the workload runs, processes configured with another
// partition count or other windows try to join. Each must exit non-zero saying why, before it
// takes or writes a single event; the deployment's answers stay exact.
func TestFaultMisconfigured(t *testing.T) {
	t.Parallel()
	eachTopology(t, "", func(t *testing.T, tp *topology) {
		d := deploy(t, tp)
		wrong := []struct{ env, want string }{
			{"PULSE_PARTITIONS=8", "PULSE_PARTITIONS"},
			{"PULSE_WINDOWS=1m,5m", "PULSE_WINDOWS"},
		}
		refused := 0
		h := runWorkload(t, d, func(ctx context.Context) string {
			for i := 0; ctx.Err() == nil; i++ {
				sleepCtx(ctx, time.Second)
				w := wrong[i%len(wrong)]
				roles := []string{"ingest", "counter", "live", "indexer"}[i%4]
				p := &pulseProc{name: fmt.Sprintf("wrong-%d", i), port: testenv.FreePort(t)}
				p.env = append(baseEnv(t, tp.url), "PULSE_ROLES="+roles, fmt.Sprintf("PULSE_ADDR=127.0.0.1:%d", p.port), w.env)
				err := p.start(t)
				if err == nil || !strings.Contains(err.Error(), "exited at start") || !strings.Contains(p.output(), w.want) {
					p.kill()
					t.Errorf("a %s process with %s: %v; want an exit naming %s", roles, w.env, err, w.want)
					break
				}
				refused++
			}
			return fmt.Sprintf("%d misconfigured processes refused", refused)
		})
		verdict(t, d, h)
	})
}
