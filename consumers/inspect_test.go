package consumers

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/testenv"
)

func TestPipelineView(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := testenv.StartRedis(t).Client()
	const parts = 2
	if err := CreateGroups(ctx, rdb, events.Layout{Partitions: parts, Tags: events.TagsNumbered}, []string{events.GroupCounter, events.GroupIndexer}); err != nil {
		t.Fatal(err)
	}
	// Entries a minute old, so the groups' ages are known lower bounds.
	old := time.Now().Add(-time.Minute).UnixMilli()
	add := func(p, n int) {
		for i := range n {
			id := fmt.Sprintf("%d-%d", old, i)
			if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: testenv.Numbered.Stream(p), ID: id, Values: []string{"k", "v"}}).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	add(0, 5)
	add(1, 2)
	read := func(p int, group string, n int64) []redis.XMessage {
		res, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: group, Consumer: "c1",
			Streams: []string{testenv.Numbered.Stream(p), ">"}, Count: n, Block: -1}).Result()
		if err != nil {
			t.Fatal(err)
		}
		return res[0].Messages
	}
	// p0 counter: 3 delivered, 1 acked → lag 2, pending 2. p1 counter: everything acked.
	if err := rdb.XAck(ctx, testenv.Numbered.Stream(0), events.GroupCounter, read(0, events.GroupCounter, 3)[0].ID).Err(); err != nil {
		t.Fatal(err)
	}
	for _, m := range read(1, events.GroupCounter, 10) {
		rdb.XAck(ctx, testenv.Numbered.Stream(1), events.GroupCounter, m.ID)
	}
	rdb.XAdd(ctx, &redis.XAddArgs{Stream: events.FailedStream, Values: []string{"stage", "counter"}})

	p := newTestInspector(t, rdb, parts)
	v, err := p.Pipeline(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lag := func(g GroupView) int64 {
		if g.Lag == nil {
			return -1
		}
		return *g.Lag
	}
	checks := []struct {
		what      string
		got, want int64
	}{
		{"length", v.Length, 7},
		{"failures", v.Failures, 1},
		{"p0 length", v.Partitions[0].Length, 5},
		{"p0 added", v.Partitions[0].Added, 5},
		{"p0 counter lag", lag(v.Partitions[0].Groups["counter"]), 2},
		{"p0 counter pending", v.Partitions[0].Groups["counter"].Pending, 2},
		{"p1 counter lag", lag(v.Partitions[1].Groups["counter"]), 0},
		{"p1 counter pending", v.Partitions[1].Groups["counter"].Pending, 0},
		{"p1 counter age", v.Partitions[1].Groups["counter"].OldestMS, 0},
		{"p0 indexer lag", lag(v.Partitions[0].Groups["indexer"]), 5},
		{"total counter lag", lag(v.Groups["counter"]), 2},
		{"total counter pending", v.Groups["counter"].Pending, 2},
		{"total indexer lag", lag(v.Groups["indexer"]), 7},
		{"total consumers", v.Groups["counter"].Consumers, 1},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.what, c.got, c.want)
		}
	}
	for _, g := range []string{"counter", "indexer"} {
		if age := v.Groups[g].OldestMS; age < time.Minute.Milliseconds() {
			t.Errorf("%s oldest_ms = %d, want ≥ 60000", g, age)
		}
	}
	if v.SearchLagMS != v.Groups["indexer"].OldestMS {
		t.Errorf("search_lag_ms %d != indexer oldest_ms %d", v.SearchLagMS, v.Groups["indexer"].OldestMS)
	}

	if err := p.sample(ctx); err != nil {
		t.Fatal(err)
	}
	s := p.samples[0]
	// Acked: p0 5-2-2 = 1, p1 2-0-0 = 2 for the counter; nothing for the indexer.
	if s.added != 7 || s.acked[0] != 3 || s.acked[1] != 0 {
		t.Errorf("sample = %+v, want added 7, acked [3 0]", s)
	}
}

func TestPipelineViewWithoutStreams(t *testing.T) {
	t.Parallel()
	rdb := testenv.StartRedis(t).Client()
	p := newTestInspector(t, rdb, 3)
	v, err := p.Pipeline(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Partitions) != 3 || v.Length != 0 || len(v.Partitions[2].Groups) != 0 {
		t.Errorf("view of an empty redis = %+v", v)
	}
}

func TestPipelineRates(t *testing.T) {
	t.Parallel()
	f := func(x float64) *float64 { return &x }
	tests := []struct {
		name    string
		samples []pipelineSample
		want    []RatePoint
	}{
		{"one sample has no rate", []pipelineSample{{at: 1000}}, nil},
		{
			"steady",
			[]pipelineSample{{at: 0, added: 0}, {at: 2000, added: 100, acked: [3]int64{50, 20, 40}}},
			[]RatePoint{{T: 2000, Ingest: f(50), Counter: f(25), Indexer: f(10), Archiver: f(20)}},
		},
		{
			"unknown lag",
			[]pipelineSample{{at: 0, acked: [3]int64{-1, 0, 0}}, {at: 1000, added: 10, acked: [3]int64{5, 5, 5}}},
			[]RatePoint{{T: 1000, Ingest: f(10), Counter: nil, Indexer: f(5), Archiver: f(5)}},
		},
		{
			"redis emptied",
			[]pipelineSample{{at: 0, added: 100, acked: [3]int64{100, 100, 100}}, {at: 1000, added: 3, acked: [3]int64{1, 0, 0}}},
			[]RatePoint{{T: 1000}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := &Inspector{cfg: InspectorConfig{Every: time.Second}, samples: tt.samples}
			got := p.rates().Series
			if len(got) != len(tt.want) {
				t.Fatalf("got %d points, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if s, w := fmt.Sprint(deref(got[i])), fmt.Sprint(deref(tt.want[i])); s != w {
					t.Errorf("point %d = %s, want %s", i, s, w)
				}
			}
		})
	}
}

func deref(p RatePoint) []any {
	out := []any{p.T}
	for _, r := range []*float64{p.Ingest, p.Counter, p.Indexer} {
		if r == nil {
			out = append(out, nil)
		} else {
			out = append(out, *r)
		}
	}
	return out
}

func TestPipelineKeepsTheLastSamples(t *testing.T) {
	t.Parallel()
	rdb := testenv.StartRedis(t).Client()
	p := newTestInspector(t, rdb, 1)
	for range 5 {
		if err := p.sample(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if len(p.samples) != 3 {
		t.Errorf("kept %d samples, want 3", len(p.samples))
	}
}

func newTestInspector(t *testing.T, rdb redis.UniversalClient, partitions int) *Inspector {
	t.Helper()
	p, err := NewInspector(rdb, InspectorConfig{Layout: events.Layout{Partitions: partitions, Tags: events.TagsNumbered}, Every: time.Second, Keep: 3,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return p
}
