package integration

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/testenv"
)

// TestRecorderReconcile: the oracle's record follows a stream through a restart that lost an
// entry the recorder had read (c), after which new entries take an id below the recorder's
// cursor (e) and c's very id (f). Counting alone sees nothing wrong (five entries read, five
// added); the full reconcile moves c to the lost ones and reads e and f in.
func TestRecorderReconcile(t *testing.T) {
	t.Parallel()
	tp := singleRedis(t, "always")
	rec := record(t, tp)
	ctx := context.Background()
	stream := chaosLayout.Stream(0)
	add := func(id, marker string) string {
		t.Helper()
		ev := events.Event{ID: marker, Type: "video_liked", Subject: "v1", Time: time.Now().UnixMilli(),
			Received: time.Now().UnixMilli(), Data: []byte(fmt.Sprintf(`{"M":%q}`, marker))}
		got, err := tp.direct.XAdd(ctx, &redis.XAddArgs{Stream: stream, ID: id, Values: ev.Values()}).Result()
		if err != nil {
			t.Fatalf("XADD %s: %v", marker, err)
		}
		return got
	}
	recorded := func(n int) func() bool {
		return func() bool {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			return len(rec.ids[0]) == n
		}
	}

	add("*", "a")
	b := add("*", "b")
	testenv.WaitFor(t, time.Minute, "the recorder to read a and b", recorded(2))
	// C reaches the recorder but not the AOF: what a crash under everysec can do.
	if err := tp.direct.ConfigSet(ctx, "appendonly", "no").Err(); err != nil {
		t.Fatal(err)
	}
	ms, seq, _ := strings.Cut(b, "-")
	bms, _ := strconv.ParseInt(ms, 10, 64)
	n, _ := strconv.Atoi(seq)
	add(fmt.Sprintf("%d-0", bms+10), "c")
	testenv.WaitFor(t, time.Minute, "the recorder to read c", recorded(3))
	tp.single.Kill()
	tp.single.Start()                            // with --appendonly yes: the AOF holds a and b
	e := add(fmt.Sprintf("%s-%d", ms, n+1), "e") // above b, the stream's last id now, and below c
	f := add(fmt.Sprintf("%d-0", bms+10), "f")   // c's id, lost with it, given to another event
	add("*", "d")

	testenv.WaitFor(t, time.Minute, "the record to match the stream", func() bool { return rec.reconcile(ctx, true) })
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.lost) != 1 || rec.lost[0].ev.ID != "c" {
		t.Errorf("lost %v, want c alone", rec.lost)
	}
	if len(rec.below) != 2 || !strings.HasPrefix(rec.below[0], e+" ") || !strings.HasPrefix(rec.below[1], f+" ") {
		t.Errorf("found under the cursor: %q, want e (%s) and f (%s)", rec.below, e, f)
	}
	for _, m := range []string{"a", "b", "d", "e", "f"} {
		if len(rec.entries[m]) != 1 {
			t.Errorf("%s recorded %d times, want once", m, len(rec.entries[m]))
		}
	}
	if len(rec.entries["c"]) != 0 {
		t.Errorf("c is still recorded")
	}
}
