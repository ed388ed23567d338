package failures_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/failures"
	"github.com/pulsehq/pulse/internal/testenv"
)

const partitions = 8

var layout = events.Layout{Partitions: partitions, Tags: events.TagsNumbered}

func record(typ, subject, time string) map[string]string {
	return map[string]string{"id": "e-1", "type": typ, "subject": subject, "time": time, "recv": "1790000000000"}
}

func TestListAndReplay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := testenv.StartRedis(t).Client()
	good := testenv.Numbered.Stream(events.Partition("video_liked", "v1", partitions))
	other := testenv.Numbered.Stream((events.Partition("video_liked", "v1", partitions) + 1) % partitions)
	cases := []struct {
		name string
		f    events.Failure
		why  string // "" = replayed
	}{
		{"counter failure", events.Failure{Stage: "counter", Stream: good, EntryID: "1790000000000-1", Record: record("video_liked", "v1", "1790000000000")}, ""},
		{"ingest rejection", events.Failure{Stage: "ingest", Record: map[string]string{"body": "{"}}, "not_replayable: no stream entry (rejected before it was appended)"},
		{"malformed record", events.Failure{Stage: "counter", Stream: good, EntryID: "1790000000000-2", Record: record("video_liked", "v1", "soon")}, `not_replayable: malformed stream entry: time "soon"`},
		{"wrong partition", events.Failure{Stage: "indexer", Stream: other, EntryID: "1790000000000-3", Record: record("video_liked", "v1", "1790000000000")}, "not_replayable: record came from " + other + ", its partition is " + good},
	}
	var fs []events.Failure
	for _, tc := range cases {
		fs = append(fs, tc.f)
	}
	ids, err := failures.DeadLetter(ctx, rdb, fs, 0)
	if err != nil {
		t.Fatal(err)
	}

	// Newest first, three per page.
	var listed []string
	for cursor := ""; ; {
		items, next, err := failures.List(ctx, rdb, events.FailedStream, 3, cursor)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			listed = append(listed, it.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	want := slices.Clone(ids)
	slices.Reverse(want)
	if !slices.Equal(listed, want) {
		t.Fatalf("listed %v, want %v", listed, want)
	}

	res, err := failures.Replay(ctx, rdb, layout, append(slices.Clone(ids), "1-1"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Replayed) != 1 || res.Replayed[0].ID != ids[0] || res.Replayed[0].Stream != good {
		t.Errorf("replayed %+v, want the counter failure into %s", res.Replayed, good)
	}
	reasons := map[string]string{}
	for _, s := range res.Skipped {
		reasons[s.ID] = s.Reason
	}
	for i, tc := range cases[1:] {
		if got := reasons[ids[i+1]]; got != tc.why {
			t.Errorf("%s: reason %q, want %q", tc.name, got, tc.why)
		}
	}
	if reasons["1-1"] != "not_found" {
		t.Errorf("unknown id: reason %q", reasons["1-1"])
	}

	// The replayed entry carries the original fields and replay_of; its record is gone.
	msgs, err := rdb.XRange(ctx, good, res.Replayed[0].EntryID, res.Replayed[0].EntryID).Result()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("replayed entry: %v, %v", msgs, err)
	}
	if v := msgs[0].Values; v[failures.FieldReplayOf] != "1790000000000-1" || v["id"] != "e-1" || v["subject"] != "v1" {
		t.Errorf("replayed entry values %v", v)
	}
	if n, _ := rdb.XLen(ctx, events.FailedStream).Result(); n != 3 {
		t.Errorf("%d records left, want the 3 skipped ones", n)
	}
	all, err := failures.ReplayAll(ctx, rdb, layout)
	if err != nil || len(all.Replayed) != 0 || len(all.Skipped) != 3 {
		t.Errorf("replay all: %+v, %v; want the 3 unreplayable records skipped", all, err)
	}
}

// The dead-letter store refuses records at capacity instead of trimming, and ReplayAll stops at
// the records that were there when it started.
func TestDeadLetterCapacityAndReplayAllBound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := testenv.StartRedis(t).Client()
	stream := testenv.Numbered.Stream(events.Partition("video_liked", "v1", partitions))
	f := events.Failure{Stage: "counter", Stream: stream, EntryID: "1790000000000-1", Record: record("video_liked", "v1", "1790000000000")}
	ids, err := failures.DeadLetter(ctx, rdb, []events.Failure{f, f, f}, 2)
	if !errors.Is(err, failures.ErrFull) || ids[0] == "" || ids[1] == "" || ids[2] != "" {
		t.Fatalf("ids %q, err %v: want two records and the third refused", ids, err)
	}
	// Rejected input has its own capped store: it never takes a dead letter's place.
	for range 3 {
		if err := rdb.XAdd(ctx, failures.RejectArgs(events.Failure{Stage: "ingest", Record: map[string]string{"body": "{"}}, 1)).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if n := rdb.XLen(ctx, events.FailedStream).Val(); n != 2 {
		t.Fatalf("%d dead letters after rejected input, want 2", n)
	}

	// A record dead-lettered while ReplayAll runs is left for the next call.
	rdb.AddHook(&appendOnRange{rdb: rdb, f: f})
	res, err := failures.ReplayAll(ctx, rdb, layout)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Replayed) != 2 {
		t.Fatalf("replayed %d, want the 2 records present at the start", len(res.Replayed))
	}
}

// appendOnRange dead-letters one more record the first time the failure stream is read.
type appendOnRange struct {
	rdb  *redis.Client
	f    events.Failure
	done bool
}

func (h *appendOnRange) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *appendOnRange) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (h *appendOnRange) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if cmd.Name() == "xrange" && !h.done {
			h.done = true
			_, _ = failures.DeadLetter(ctx, h.rdb, []events.Failure{h.f}, 0)
		}
		return err
	}
}
