package app

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/pulsehq/pulse/internal/httpapi"
)

// useEdge installs what every request meets before its route (404s and 405s included): CORS,
// which answers preflights; the refusal of cross-site writes; and the deadlines of the body
// and of the answer. It also sets the proxies whose X-Forwarded-For gin's ClientIP believes:
// the live connection caps count connections by that address.
func (a *App) useEdge() error {
	if err := a.engine.SetTrustedProxies(a.cfg.TrustedProxies); err != nil {
		return fmt.Errorf("trusted proxies: %w", err)
	}
	origins, err := httpapi.NewOrigins(a.cfg.AllowedOrigins)
	if err != nil {
		return err
	}
	a.engine.Use(origins.CORS(), origins.CrossOrigin(), httpapi.Deadlines(a.cfg.BodyTimeout, a.cfg.WriteTimeout))
	return nil
}

// readyzLogEvery spaces the log lines of a failing /readyz (polled by health checks and dashboards).
const readyzLogEvery = 10 * time.Second

// throttle lets something happen at most once per period: a health check polling a failing
// dependency every few seconds must not flood the log with the same error.
type throttle struct{ last atomic.Int64 } // unix ns

func (t *throttle) allow(period time.Duration) bool {
	now := time.Now().UnixNano()
	last := t.last.Load()
	return now-last >= int64(period) && t.last.CompareAndSwap(last, now)
}
