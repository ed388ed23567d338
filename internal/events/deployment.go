package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Deployment is what every process of a deployment must agree on. The first process to start
// records it under MetaKey; a process configured otherwise must not serve or write anything:
// another partition count sends (type, subject) pairs to other partitions (their dedupe and
// counts split), other windows settle leaderboards wrongly.
type Deployment struct {
	Partitions int
	Windows    []Window
}

// ErrMismatch: the deployment was created with other settings than this process has.
var ErrMismatch = errors.New("this process does not match the deployment")

// Fields of MetaKey.
const (
	metaPartitions = "partitions"
	metaWindows    = "windows" // window lengths in seconds, "60,300,600"
)

// Record records d when MetaKey does not hold it yet (first start, or a Redis that lost its
// data), then compares: an error wrapping ErrMismatch names what differs; any other error is
// Redis being unreachable.
func (d Deployment) Record(ctx context.Context, rdb redis.Cmdable) error {
	want := map[string]string{metaPartitions: strconv.Itoa(d.Partitions), metaWindows: windowSeconds(d.Windows)}
	pipe := rdb.Pipeline()
	for _, f := range []string{metaPartitions, metaWindows} {
		pipe.HSetNX(ctx, MetaKey, f, want[f])
	}
	got := pipe.HMGet(ctx, MetaKey, metaPartitions, metaWindows)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("record the deployment in %s: %w", MetaKey, err)
	}
	var errs []error
	for i, f := range []string{metaPartitions, metaWindows} {
		if have, _ := got.Val()[i].(string); have != want[f] {
			env := map[string]string{metaPartitions: "PULSE_PARTITIONS", metaWindows: "PULSE_WINDOWS (in seconds)"}[f]
			errs = append(errs, fmt.Errorf("%w: the deployment has %s %s, this process %s (%s)", ErrMismatch, f, have, want[f], env))
		}
	}
	return errors.Join(errs...)
}

// Await records and checks d, waiting for Redis while ctx lasts. It returns nil when d matches,
// an error wrapping ErrMismatch when it does not, ctx.Err() when ctx ends first.
func (d Deployment) Await(ctx context.Context, rdb redis.Cmdable, log *slog.Logger) error {
	for {
		err := d.Record(ctx, rdb)
		if err == nil || errors.Is(err, ErrMismatch) {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		log.Warn("waiting for redis to check the deployment", "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func windowSeconds(ws []Window) string {
	s := make([]string, len(ws))
	for i, w := range ws {
		s[i] = strconv.FormatInt(int64(w.D/time.Second), 10)
	}
	return strings.Join(s, ",")
}
