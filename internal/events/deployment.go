package events

import (
	"cmp"
	"context"
	_ "embed"
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
	// Layout.Tags is not configured but learned: empty, Record takes the recorded scheme (a
	// new deployment gets TagsBalanced, one recorded without a scheme predates them and
	// keeps TagsNumbered); set, Record checks it like the rest.
	Layout  Layout
	Windows []Window
}

// ErrMismatch: the deployment was created with other settings than this process has.
var ErrMismatch = errors.New("this process does not match the deployment")

//go:embed record.lua
var recordSrc string

var recordScript = redis.NewScript(recordSrc)

// Record records d when MetaKey does not hold it yet (first start, or a Redis that lost its
// data), then compares, and returns d with the deployment's tag scheme. An error wrapping
// ErrMismatch names what differs; any other error is Redis being unreachable.
func (d Deployment) Record(ctx context.Context, rdb redis.Scripter) (Deployment, error) {
	want := []string{strconv.Itoa(d.Layout.Partitions), windowSeconds(d.Windows), string(cmp.Or(d.Layout.Tags, TagsBalanced))}
	res, err := recordScript.Run(ctx, rdb, []string{MetaKey}, want[0], want[1], want[2]).StringSlice()
	if err != nil {
		return d, fmt.Errorf("record the deployment in %s: %w", MetaKey, err)
	}
	if d.Layout.Tags == "" {
		d.Layout.Tags, want[2] = Tags(res[2]), res[2]
	}
	var errs []error
	for i, f := range []struct{ field, env string }{
		{"partitions", "PULSE_PARTITIONS"}, {"windows", "PULSE_WINDOWS (in seconds)"}, {"tags", "learned when it started"},
	} {
		if res[i] != want[i] {
			errs = append(errs, fmt.Errorf("%w: the deployment has %s %s, this process %s (%s)", ErrMismatch, f.field, res[i], want[i], f.env))
		}
	}
	if err := d.Layout.Check(); err != nil && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("%w: %w", ErrMismatch, err))
	}
	return d, errors.Join(errs...)
}

// Await records and checks d, waiting for Redis while ctx lasts. It returns d with its tag
// scheme when d matches, an error wrapping ErrMismatch when it does not, ctx.Err() when ctx
// ends first.
func (d Deployment) Await(ctx context.Context, rdb redis.Scripter, log *slog.Logger) (Deployment, error) {
	for {
		got, err := d.Record(ctx, rdb)
		if err == nil || errors.Is(err, ErrMismatch) {
			return got, err
		}
		if ctx.Err() != nil {
			return d, ctx.Err()
		}
		log.Warn("waiting for redis to check the deployment", "err", err)
		select {
		case <-ctx.Done():
			return d, ctx.Err()
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
