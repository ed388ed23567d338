package testenv

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/internal/events"
)

// StoredEvents reads back every partition stream: event id → stored copies. An entry that does
// not decode, or sits in a partition its (type, subject) does not hash to, fails the test.
func StoredEvents(t testing.TB, rdb redis.Cmdable, partitions int) map[string][]events.Event {
	t.Helper()
	out := map[string][]events.Event{}
	for p := range partitions {
		msgs, err := rdb.XRange(context.Background(), events.Stream(p), "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			e, err := events.FromValues(m.Values)
			if err != nil {
				t.Fatalf("entry %s of partition %d: %v", m.ID, p, err)
			}
			if want := events.Partition(e.Type, e.Subject, partitions); want != p {
				t.Errorf("event %s is in partition %d, belongs to %d", e.ID, p, want)
			}
			out[e.ID] = append(out[e.ID], e)
		}
	}
	return out
}
