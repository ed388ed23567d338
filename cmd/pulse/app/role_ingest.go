package app

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/ingest"
	"github.com/pulsehq/pulse/ingest/mqtt"
	"github.com/pulsehq/pulse/internal/httpapi"
)

// mountIngest wires the ingest role: POST /v1/events and /v1/videos/:id/likes (browser keys
// suffice) in front of the process's intake.
func (a *App) mountIngest() error {
	in, err := a.intake()
	if err != nil {
		return err
	}
	in.Mount(a.api.Group("", a.keys.Require(httpapi.AccessBrowser)))
	return nil
}

// mountMQTT wires the mqtt role: the broker's messages into the process's intake.
func (a *App) mountMQTT() error {
	in, err := a.intake()
	if err != nil {
		return err
	}
	cfg := a.cfg.MQTT
	cfg.SlotDir, cfg.Logger, cfg.Metrics = a.cfg.DataDir, a.log, a.reg
	x, err := mqtt.New(in, a.rdb, cfg)
	if err != nil {
		return err
	}
	a.addRunner("mqtt", x.Run)
	a.drains = append(a.drains, x.Drain)
	return nil
}

// intake is the process's ingest (made once, shared by the HTTP API and the broker intake),
// whose group-commit writer runs until HTTP has drained.
func (a *App) intake() (*ingest.Ingest, error) {
	if a.in != nil {
		return a.in, nil
	}
	cfg := a.cfg.Ingest
	cfg.Layout, cfg.MaxFuture, cfg.Logger, cfg.Metrics = a.layout, a.cfg.MaxFuture, a.log, a.reg
	// Its own client: appends must never be re-sent by the client library (a lost reply could
	// double-append events without a client id, and answer a client id's first submission
	// "duplicate"). MaxRetries covers a single node and sentinel; a cluster client retries
	// pipelines on timeouts and EOF up to MaxRedirects times whatever MaxRetries says, so that
	// is off too: a MOVED reply then fails the commit (nothing ran) and the client retries.
	rdb := a.newRedis(func(o *redis.UniversalOptions) {
		o.MaxRetries = -1
		o.MaxRedirects = -1
		o.PoolSize = 4
	})
	in, err := ingest.New(rdb, cfg)
	if err != nil {
		return nil, err
	}
	if cfg.WaitReplicas > 0 {
		a.checkReplicas(rdb, cfg.WaitReplicas)
	}
	a.addRunner("ingest writer", in.Run)
	a.in = in
	return in, nil
}

// checkReplicas warns about every master with fewer replicas connected than ingest waits for:
// until more connect, every append to its partitions is answered unconfirmed (503).
func (a *App) checkReplicas(rdb redis.UniversalClient, want int) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	check := func(ctx context.Context, c *redis.Client) error {
		info, err := c.Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		if n := connectedReplicas(info); n < want {
			a.log.Warn("a master has fewer replicas than PULSE_INGEST_WAIT_REPLICAS: its events are answered 503 unconfirmed until more connect",
				"master", c.Options().Addr, "connected_replicas", n, "wait_replicas", want)
		}
		return nil
	}
	var err error
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, check)
	case *redis.Client:
		err = check(ctx, c)
	}
	if err != nil {
		a.log.Warn("could not count the masters' replicas", "err", err)
	}
}

// connectedReplicas reads connected_slaves from INFO replication.
func connectedReplicas(info string) int {
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "connected_slaves:"); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}
