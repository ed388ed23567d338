package failures_test

import (
	"context"
	"slices"
	"testing"

	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/failures"
	"github.com/pulsehq/pulse/internal/testenv"
)

const partitions = 8

func record(typ, subject, time string) map[string]string {
	return map[string]string{"id": "e-1", "type": typ, "subject": subject, "time": time, "recv": "1790000000000"}
}

func TestListAndReplay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := testenv.StartRedis(t).Client()
	good := events.Stream(events.Partition("video_liked", "v1", partitions))
	other := events.Stream((events.Partition("video_liked", "v1", partitions) + 1) % partitions)
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
	var ids []string
	for _, tc := range cases {
		id, err := rdb.XAdd(ctx, failures.Args(tc.f, 0)).Result()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}

	// Newest first, three per page.
	var listed []string
	for cursor := ""; ; {
		items, next, err := failures.List(ctx, rdb, 3, cursor)
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

	res, err := failures.Replay(ctx, rdb, partitions, append(slices.Clone(ids), "1-1"))
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
	all, err := failures.ReplayAll(ctx, rdb, partitions)
	if err != nil || len(all.Replayed) != 0 || len(all.Skipped) != 3 {
		t.Errorf("replay all: %+v, %v; want the 3 unreplayable records skipped", all, err)
	}
}
