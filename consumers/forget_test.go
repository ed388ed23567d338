package consumers

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/testenv"
)

// Consumers that went away are removed from the group, but never one holding pending entries
// (removing it would drop them), nor the caller.
func TestForgetIdleConsumers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := testenv.StartRedis(t).Client()
	stream := testenv.Numbered.Stream(0)
	if err := rdb.XGroupCreateMkStream(ctx, stream, "g", "0").Err(); err != nil {
		t.Fatal(err)
	}
	join := func(consumer string) {
		t.Helper()
		if err := rdb.XGroupCreateConsumer(ctx, stream, "g", consumer).Err(); err != nil {
			t.Fatal(err)
		}
	}
	join("gone") // idle, nothing pending
	if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []string{"n", "1"}}).Err(); err != nil {
		t.Fatal(err)
	}
	err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g", Consumer: "holding", Streams: []string{stream, ">"}, Count: 1, Block: -1}).Err()
	if err != nil {
		t.Fatal(err)
	}
	join("self")
	time.Sleep(300 * time.Millisecond) // all three idle past ForgetIdle below

	g, err := New(rdb, Config{Group: "g", Consumer: "self", Layout: events.Layout{Partitions: 1, Tags: events.TagsNumbered}, ClaimIdle: 100 * time.Millisecond,
		ForgetIdle: 200 * time.Millisecond, Metrics: prometheus.NewRegistry()}, HandlerFunc(func(context.Context, *Batch) error { return nil }))
	if err != nil {
		t.Fatal(err)
	}
	g.forget(ctx, &reader{p: 0, stream: stream})
	cs, err := rdb.XInfoConsumers(ctx, stream, "g").Result()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cs {
		names = append(names, c.Name)
	}
	slices.Sort(names)
	if want := []string{"holding", "self"}; !slices.Equal(names, want) {
		t.Errorf("consumers %v, want %v", names, want)
	}
	if n := testutil.ToFloat64(g.metrics.removed); n != 1 {
		t.Errorf("removed_total %v, want 1", n)
	}
}
