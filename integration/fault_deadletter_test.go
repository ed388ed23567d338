package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	api "github.com/pulsehq/pulse/client"
	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/failures"
	"github.com/pulsehq/pulse/internal/testenv"
)

// TestFaultDeadLetters: a counter key is broken (written over with a value of the wrong type),
// so the events of one (type, partition) fail until they are dead-lettered, while replies are
// lost on every connection, the dead-letter steps' included. Then the key is repaired and every
// dead letter replayed: each must be listed, and count exactly once.
func TestFaultDeadLetters(t *testing.T) {
	t.Parallel()
	eachTopology(t, "", func(t *testing.T, tp *topology) {
		d := deploy(t, tp)
		ctx := context.Background()
		broken := chaosLayout.Prefix(chaosLayout.Partition("video_viewed", "v0")) + "c:top:60:video_viewed"
		if err := tp.direct.Set(ctx, broken, "not a sorted set", 0).Err(); err != nil {
			t.Fatal(err)
		}
		h := runWorkload(t, d, func(ctx context.Context) string {
			rng := rand.New(rand.NewPCG(5, uint64(time.Now().UnixNano())))
			for ctx.Err() == nil {
				remove := tp.proxies[rng.IntN(len(tp.proxies))].Inject(testenv.LoseReplies(0.3))
				sleepCtx(ctx, time.Duration(100+rng.IntN(300))*time.Millisecond)
				remove()
				sleepCtx(ctx, time.Duration(200+rng.IntN(500))*time.Millisecond)
			}
			return injected(tp)
		})

		// Every entry of the broken key ends in the dead-letter store, listed by the API.
		testenv.WaitFor(t, 2*time.Minute, "the broken entries dead-lettered", func() bool { return quiet(ctx, tp, events.GroupCounter) })
		var listed int
		for cursor := ""; ; {
			var page struct {
				Failures []failures.Item `json:"failures"`
				Next     string          `json:"next_cursor"`
			}
			res, err := http.Get(d.counter[0].url() + "/v1/failures?limit=1000&cursor=" + cursor)
			if err != nil {
				t.Fatal(err)
			}
			err = json.NewDecoder(res.Body).Decode(&page)
			res.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range page.Failures {
				if f.Stage != "counter" || f.Record["type"] != "video_viewed" {
					t.Errorf("unexpected dead letter %+v", f)
				}
			}
			listed += len(page.Failures)
			if cursor = page.Next; cursor == "" {
				break
			}
		}
		if listed == 0 {
			t.Fatal("no dead letter: the broken key did not break anything")
		}

		// Repaired and replayed, each counts once (verdict checks the counts).
		if err := tp.direct.Del(ctx, broken).Err(); err != nil {
			t.Fatal(err)
		}
		res, err := http.Post(d.counter[1].url()+"/v1/failures/replay", "application/json", bytes.NewReader([]byte(`{"all":true}`)))
		if err != nil {
			t.Fatal(err)
		}
		var replay api.ReplayResult
		err = json.NewDecoder(res.Body).Decode(&replay)
		res.Body.Close()
		if err != nil || len(replay.Replayed) != listed || len(replay.Skipped) != 0 {
			t.Fatalf("replay of %d dead letters: %d replayed, %d skipped, %v", listed, len(replay.Replayed), len(replay.Skipped), err)
		}
		t.Logf("%d dead letters listed and replayed", listed)
		verdict(t, d, h)
	})
}
