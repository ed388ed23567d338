package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/internal/events"
)

// newRedis opens a client for url (one node) or a comma-separated list (Redis Cluster).
// tune adjusts the options, e.g. to switch off retries for non-idempotent writers.
func newRedis(url string, tune func(*redis.UniversalOptions)) (redis.UniversalClient, error) {
	var uo redis.UniversalOptions
	for i, u := range strings.Split(url, ",") {
		opt, err := redis.ParseURL(strings.TrimSpace(u))
		if err != nil {
			return nil, fmt.Errorf("redis url: %w", err)
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
	uo.PoolSize = 64
	if tune != nil {
		tune(&uo)
	}
	return redis.NewUniversalClient(&uo), nil
}

// checkPartitions records the partition count on first start and refuses another one later:
// changing N would move (type, subject) pairs to other partitions and break dedupe and counts.
func checkPartitions(ctx context.Context, rdb redis.UniversalClient, n int) error {
	if err := rdb.HSetNX(ctx, events.MetaKey, "partitions", n).Err(); err != nil {
		return fmt.Errorf("record partitions: %w", err)
	}
	got, err := rdb.HGet(ctx, events.MetaKey, "partitions").Result()
	if err != nil {
		return fmt.Errorf("read partitions: %w", err)
	}
	if have, _ := strconv.Atoi(got); have != n {
		return fmt.Errorf("this deployment has %d partitions, this process is configured with %d (PULSE_PARTITIONS)", have, n)
	}
	return nil
}

// createGroups makes every partition stream and both consumer groups, so that entries
// appended before a consumer first starts are still delivered to it (groups start at 0).
func createGroups(ctx context.Context, rdb redis.UniversalClient, n int) error {
	for p := range n {
		for _, g := range []string{events.GroupCounter, events.GroupIndexer} {
			err := rdb.XGroupCreateMkStream(ctx, events.Stream(p), g, "0").Err()
			if err != nil && !redis.HasErrorPrefix(err, "BUSYGROUP") {
				return fmt.Errorf("create group %s on %s: %w", g, events.Stream(p), err)
			}
		}
	}
	return nil
}

var errNotReady = errors.New("not ready")
