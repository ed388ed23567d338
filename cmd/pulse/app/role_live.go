package app

import (
	"context"

	"github.com/pulsehq/pulse/consumers/counter"
	"github.com/pulsehq/pulse/internal/httpapi"
	"github.com/pulsehq/pulse/live"
)

// mountLive wires the live role: GET /v1/live (WebSocket) and /v1/live/sse (browser keys
// suffice, also as ?access_token=, the only routes that take one), the hub that computes
// leaderboards and closes clients on shutdown, and the feed that follows the counter's change
// sets.
func (a *App) mountLive() error {
	// The connection caps count by gin's ClientIP: trusted proxies from Config.TrustedProxies.
	cfg := a.cfg.Live
	cfg.Windows, cfg.Layout, cfg.AllowedOrigins, cfg.Logger, cfg.Metrics = a.windows, a.layout, a.cfg.AllowedOrigins, a.log, a.reg
	cfg.Presence = live.NewRedisPresence(a.rdb)
	hub, err := live.New(counterSource{counter.NewReader(a.rdb, a.layout, a.windows)}, cfg)
	if err != nil {
		return err
	}
	g := a.api.Group("/live", a.keys.RequireStream(httpapi.AccessBrowser), httpapi.Streaming)
	g.GET("", hub.ServeWS)
	g.GET("/sse", hub.ServeSSE)
	// WebSockets are hijacked: http.Server.Shutdown neither closes nor waits for them. The hub
	// closes them with 1001 when shutdown starts, and its runner waits until they are gone.
	a.onStop = append(a.onStop, hub.Close)
	a.addRunner("live hub", hub.Run)
	a.addRunner("live feed", live.NewFeed(a.rdb, hub).Run)
	return nil
}

// counterSource reads live snapshots and leaderboards through the counter's Reader.
type counterSource struct{ r *counter.Reader }

func (s counterSource) Windows(ctx context.Context, typ string, subjects []string) (live.Snapshot, error) {
	at, counts, versions, err := s.r.Windows(ctx, typ, subjects)
	if err != nil {
		return live.Snapshot{}, err
	}
	m := make(map[string][]int64, len(counts))
	for _, c := range counts {
		m[c.Subject] = c.Counts
	}
	return live.Snapshot{At: at, Counts: m, Versions: versions}, nil
}

func (s counterSource) Top(ctx context.Context, typ string, window, limit int) (live.Leaderboard, error) {
	at, entries, err := s.r.Top(ctx, typ, window, limit)
	if err != nil {
		return live.Leaderboard{}, err
	}
	return live.Leaderboard{At: at, Entries: entries}, nil
}

var _ live.Source = counterSource{}
