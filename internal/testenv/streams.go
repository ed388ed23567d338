package testenv

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/internal/events"
)

// StoredEvents reads back every partition stream: event id → stored copies. An entry that does
// not decode, or sits in a partition its (type, subject) does not hash to, fails the test.
func StoredEvents(t testing.TB, rdb redis.Cmdable, layout events.Layout) map[string][]events.Event {
	t.Helper()
	out := map[string][]events.Event{}
	for p := range layout.Partitions {
		msgs, err := rdb.XRange(context.Background(), layout.Stream(p), "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			e, err := events.FromValues(m.Values)
			if err != nil {
				t.Fatalf("entry %s of partition %d: %v", m.ID, p, err)
			}
			if want := layout.Partition(e.Type, e.Subject); want != p {
				t.Errorf("event %s is in partition %d, belongs to %d", e.ID, p, want)
			}
			out[e.ID] = append(out[e.ID], e)
		}
	}
	return out
}

// Numbered names the keys of any partition the way deployments before balanced tags did
// ("pulse:{p3}:events"), whatever the partition count: package tests that write streams
// themselves use it with a Layout of the same scheme.
var Numbered = events.Layout{Partitions: events.MaxPartitions, Tags: events.TagsNumbered}
