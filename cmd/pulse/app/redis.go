package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// parseRedisURL reads one URL (one node, or one seed of a cluster) or several comma-separated
// (the nodes of a cluster).
func parseRedisURL(url string) (redis.UniversalOptions, error) {
	var uo redis.UniversalOptions
	for i, u := range strings.Split(url, ",") {
		opt, err := redis.ParseURL(strings.TrimSpace(u))
		if err != nil {
			return uo, fmt.Errorf("redis url: %w", err)
		}
		if i == 0 {
			uo = redis.UniversalOptions{
				Username: opt.Username, Password: opt.Password, DB: opt.DB, TLSConfig: opt.TLSConfig,
			}
			if opt.Network == "unix" { // tests run redis-server on a unix socket
				uo.Dialer = func(ctx context.Context, _, addr string) (net.Conn, error) {
					var d net.Dialer
					return d.DialContext(ctx, "unix", addr)
				}
			}
		}
		uo.Addrs = append(uo.Addrs, opt.Addr)
	}
	uo.IsClusterMode = len(uo.Addrs) > 1
	return uo, nil
}

// connect waits until Redis answers (while ctx lasts), then settles what the URL left open:
// whether a single seed is a cluster node (a plain client on a cluster gets MOVED for most
// keys), and that a cluster is not asked for a database other than 0 (it has no other: the
// index would be dropped silently).
func connect(ctx context.Context, url string, log *slog.Logger) (redis.UniversalOptions, error) {
	uo, err := parseRedisURL(url)
	if err != nil {
		return uo, err
	}
	for !uo.IsClusterMode {
		probe := uo
		probe.Addrs, probe.DB = uo.Addrs[:1], 0 // a cluster node refuses SELECT
		c := redis.NewUniversalClient(&probe)
		info, err := c.Info(ctx, "cluster").Result()
		_ = c.Close()
		if err == nil {
			uo.IsClusterMode = strings.Contains(info, "cluster_enabled:1")
			break
		}
		if ctx.Err() != nil {
			return uo, ctx.Err()
		}
		log.Warn("waiting for redis", "addr", uo.Addrs[0], "err", err)
		select {
		case <-ctx.Done():
			return uo, ctx.Err()
		case <-time.After(time.Second):
		}
	}
	if uo.IsClusterMode && uo.DB != 0 {
		return uo, fmt.Errorf("redis url: a Redis Cluster has only database 0, the URL asks for %d", uo.DB)
	}
	return uo, nil
}

// clusterStateReload bounds how long a cluster client keeps a slot map: go-redis reloads it on
// MOVED, but a dead master answers nothing, and its default of 60 s kept every command of the
// failed master's slots on the dead address for up to a minute after its replica took over.
// Each reload is one CLUSTER SLOTS.
const clusterStateReload = time.Second

// newRedis returns a client with the process's Redis options; tune adjusts them, e.g. to switch
// off retries for non-idempotent writers. It is closed with the App.
func (a *App) newRedis(tune func(*redis.UniversalOptions)) redis.UniversalClient {
	uo := a.redisOpts
	if tune != nil {
		tune(&uo)
	}
	var c redis.UniversalClient
	if uo.IsClusterMode {
		co := uo.Cluster()
		co.ClusterStateReloadInterval = clusterStateReload
		c = redis.NewClusterClient(co)
	} else {
		c = redis.NewUniversalClient(&uo)
	}
	a.closers = append(a.closers, c.Close)
	return c
}
