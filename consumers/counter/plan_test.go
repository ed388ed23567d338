package counter

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/consumers"
	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/failures"
	"github.com/pulsehq/pulse/internal/testenv"
)

func TestSteps(t *testing.T) {
	t.Parallel()
	w := []int64{2, 4, 8}
	a := func(sec int64) bucket { return bucket{sec, "a"} }
	cases := []struct {
		name    string
		x, now  int64
		buckets []bucket
		want    []step
		comment string
	}{
		{"nothing due", 100, 100, []bucket{a(99), a(100)}, nil, "settled"},
		{"enter at its second", 100, 101, []bucket{a(101)}, []step{{t: 101, b: a(101)}}, ""},
		{"future bucket not yet", 100, 101, []bucket{a(102)}, nil, ""},
		{"leave exactly at sec+w", 101, 102, []bucket{a(100)}, []step{{t: 102, b: a(100), kind: 1}}, "100 is in (x-2, x] at 101, not at 102"},
		{"last leave deletes", 107, 108, []bucket{a(100)}, []step{{t: 108, b: a(100), kind: 3, last: true}}, ""},
		{"already left everything", 108, 110, []bucket{a(100)}, nil, ""},
		{"catch-up orders by time then kind", 100, 104, []bucket{a(100), a(102)},
			[]step{{t: 102, b: a(102)}, {t: 102, b: a(100), kind: 1}, {t: 104, b: a(102), kind: 1}, {t: 104, b: a(100), kind: 2}}, "enter before leaves"},
		{"types of one second by name", 100, 101, []bucket{{101, "b"}, {101, "a"}}, []step{{t: 101, b: bucket{101, "a"}}, {t: 101, b: bucket{101, "b"}}}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := steps(w, tc.x, tc.now, tc.buckets); !slices.Equal(got, tc.want) {
				t.Errorf("steps = %+v, want %+v %s", got, tc.want, tc.comment)
			}
		})
	}
}

func TestExpirePlanIsCutAtSecondBoundaries(t *testing.T) {
	t.Parallel()
	s := &settler{layout: testenv.Numbered, wsec: []int64{1, 2}}
	var buckets []bucket
	for sec := int64(1); sec <= 3000; sec++ {
		for _, typ := range []string{"a", "b", "c"} {
			buckets = append(buckets, bucket{sec, typ})
		}
	}
	for x := int64(0); x < 3002; {
		call, target := s.plan(0, x, 3002, buckets)
		if len(call.keys) > maxExpireKeys {
			t.Fatalf("call from %d has %d keys", x, len(call.keys))
		}
		if target <= x {
			t.Fatalf("no progress from %d", x)
		}
		// Every step of the call is at or before target, and every step up to target is in it.
		// args: x, target, channel, partition, nw, w..., nt, (type, base)..., n, ...
		nt := call.args[5+len(s.wsec)].(int)
		n := call.args[6+len(s.wsec)+2*nt].(int)
		if want := len(steps(s.wsec, x, target, buckets)); n != want {
			t.Fatalf("call (%d, %d] has %d steps, want %d", x, target, n, want)
		}
		x = target
	}
}

// The plan names the leaderboards of the types it moves, not of every type of the partition.
func TestExpirePlanTouchesOnlyDueTypes(t *testing.T) {
	t.Parallel()
	s := &settler{layout: testenv.Numbered, wsec: []int64{2, 4}}
	call, _ := s.plan(0, 100, 101, []bucket{{101, "live"}, {50, "gone"}})
	want := []string{"pulse:{p0}:c:x", "pulse:{p0}:c:v", "pulse:{p0}:c:due",
		"pulse:{p0}:c:top:2:live", "pulse:{p0}:c:top:4:live", "pulse:{p0}:c:f:live:101"}
	if !slices.Equal(call.keys, want) {
		t.Errorf("keys %q, want %q", call.keys, want)
	}
}

func TestKeys(t *testing.T) {
	t.Parallel()
	k := keysOf(testenv.Numbered, 3)
	cases := []struct{ got, want string }{
		{k.cursor(), "pulse:{p3}:c:x"},
		{k.version(), "pulse:{p3}:c:v"},
		{k.due(), "pulse:{p3}:c:due"},
		{k.bucket("video_liked", 1790000000), "pulse:{p3}:c:s:video_liked:1790000000"},
		{k.future("video_liked", 1790000000), "pulse:{p3}:c:f:video_liked:1790000000"},
		{k.top(300, "video_liked"), "pulse:{p3}:c:top:300:video_liked"},
		{k.typeHistory("video_liked", 497222), "pulse:{p3}:c:ht:video_liked:497222"},
		{k.subjectHistory("video_liked", 497222, "a:b"), "pulse:{p3}:c:hs:video_liked:497222:a:b"},
		{consumers.DeadMarker(testenv.Numbered.Stream(3), events.GroupCounter, "1790000000000-7"), "pulse:{p3}:events:dead:counter:1790000000000-7"},
	}
	for _, tc := range cases {
		if tc.got != tc.want {
			t.Errorf("key %q, want %q", tc.got, tc.want)
		}
	}
}

func TestFloorDiv(t *testing.T) {
	t.Parallel()
	cases := []struct{ a, b, want int64 }{
		{1999, 1000, 1}, {2000, 1000, 2}, {0, 1000, 0}, {-1, 1000, -1}, {-1000, 1000, -1}, {-1001, 1000, -2},
	}
	for _, tc := range cases {
		if got := floorDiv(tc.a, tc.b); got != tc.want {
			t.Errorf("floorDiv(%d, %d) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestDecode(t *testing.T) {
	t.Parallel()
	c := &Counter{cfg: Config{MaxFuture: time.Minute}}
	ok := events.Event{ID: "e1", Type: "video_liked", Subject: "v", Time: 1_790_000_000_000, Received: 1_790_000_000_000}
	values := func(ev events.Event, extra ...string) map[string]any {
		m := map[string]any{}
		v := append(ev.Values(), extra...)
		for i := 0; i < len(v); i += 2 {
			m[v[i]] = v[i+1]
		}
		return m
	}
	future := ok
	future.Time += 2 * time.Minute.Milliseconds()
	colon := ok
	colon.Type = "video:liked"
	cases := []struct {
		name     string
		values   map[string]any
		poison   bool
		replayOf string
	}{
		{"ingest's layout", values(ok), false, ""},
		{"replayed", values(ok, failures.FieldReplayOf, "1790000000000-3"), false, "1790000000000-3"},
		{"bad replay_of", values(ok, failures.FieldReplayOf, "x"), true, ""},
		{"time not a number", map[string]any{"id": "e", "type": "t", "subject": "s", "time": "soon", "recv": "1"}, true, ""},
		{"beyond max future", values(future), true, ""},
		{"type with a colon", values(colon), true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, err := c.decode(consumers.Entry{ID: "1-1", Values: tc.values})
			if (err != nil) != tc.poison {
				t.Fatalf("err = %v, want poison=%v", err, tc.poison)
			}
			if err != nil && !errors.Is(err, events.ErrMalformed) {
				t.Errorf("err %v does not wrap ErrMalformed", err)
			}
			if d.replayOf != tc.replayOf {
				t.Errorf("replayOf %q, want %q", d.replayOf, tc.replayOf)
			}
		})
	}
}

// TestApplyPlanGroups: events of one (type, subject, second) share one group and every key is
// passed once.
func TestApplyPlanGroups(t *testing.T) {
	t.Parallel()
	c := &Counter{cfg: Config{HistoryRetention: time.Hour, Layout: testenv.Numbered}, wsec: []int64{60, 300}}
	ev := func(typ, subject string, ms int64) decoded {
		return decoded{ev: events.Event{Type: typ, Subject: subject, Time: ms}, id: "1-1"}
	}
	ds := []decoded{
		ev("liked", "a", 1_790_000_000_100),
		ev("liked", "a", 1_790_000_000_900), // same second
		ev("liked", "a", 1_790_000_001_000), // next second
		ev("liked", "b", 1_790_000_000_100),
		ev("viewed", "a", 1_790_000_000_100),
	}
	ds[4].replayOf = "5-5"
	call := c.plan(2, ds)
	seen := map[string]bool{}
	for _, k := range call.keys {
		if seen[k] {
			t.Errorf("key %s passed twice", k)
		}
		seen[k] = true
		if k[:11] != "pulse:{p2}:" {
			t.Errorf("key %s outside the partition's slot", k)
		}
	}
	// Fixed args: group, channel, partition, retention, nw, w..., then types.
	a := 5 + len(c.wsec)
	nt := call.args[a].(int)
	ng := call.args[a+1+2*nt].(int)
	if nt != 2 || ng != 4 {
		t.Errorf("%d types and %d groups, want 2 and 4", nt, ng)
	}
	if !seen["pulse:{p2}:events:dead:counter:5-5"] || !seen["pulse:{p2}:c:top:300:viewed"] || !seen["pulse:{p2}:c:hs:liked:497222:a"] {
		t.Errorf("keys %v", call.keys)
	}
}

// The app starts from DefaultConfig and sets its logger: the group must log with it, not
// with the default logger of the moment DefaultConfig ran (main sets its own after).
func TestGroupLogsWithTheCounterLogger(t *testing.T) {
	t.Parallel()
	l := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := DefaultConfig()
	cfg.Logger = l
	c, err := New(nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.group.Config().Logger; got != l {
		t.Errorf("the group logs with %p, want the counter's logger %p", got, l)
	}
}

// TestApplyCountsOnlyPendingEntries: an entry of a batch counts only if the script acknowledges
// it. One another consumer already acknowledged counts nothing, the pending entries between the
// batch's ids that are not in the batch stay pending, and the same batch applied again counts
// nothing.
func TestApplyCountsOnlyPendingEntries(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	rdb := testenv.StartRedis(t).Client()
	cfg := DefaultConfig()
	cfg.Layout = events.Layout{Partitions: 1, Tags: events.TagsNumbered}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	c, err := New(rdb, cfg)
	if err != nil {
		t.Fatal(err)
	}
	stream := cfg.Layout.Stream(0)
	if err := rdb.XGroupCreateMkStream(ctx, stream, events.GroupCounter, "0").Err(); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMilli()
	for i := range 300 {
		ev := events.Event{ID: fmt.Sprint("e", i), Type: "liked", Subject: "v", Time: now, Received: now}
		if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: ev.Values()}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	read, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: events.GroupCounter, Consumer: "a", Streams: []string{stream, ">"}, Count: 300}).Result()
	if err != nil {
		t.Fatal(err)
	}
	// The batch: every other entry. Two of them were acknowledged by another consumer.
	var ds []decoded
	for i, m := range read[0].Messages {
		if i%2 == 1 {
			continue
		}
		d, err := c.decode(consumers.Entry{ID: m.ID, Values: m.Values})
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	if err := rdb.XAck(ctx, stream, events.GroupCounter, ds[0].id, ds[10].id).Err(); err != nil {
		t.Fatal(err)
	}
	for round, want := range []applied{{applied: 148, skipped: 2, published: true}, {skipped: 150}} {
		got, err := c.apply(ctx, 0, c.plan(0, ds))
		if err != nil {
			t.Fatal(err)
		}
		if got.applied != want.applied || got.skipped != want.skipped || got.published != want.published || len(got.bad) > 0 {
			t.Errorf("round %d: %+v, want %+v", round, got, want)
		}
	}
	if n, err := rdb.XPending(ctx, stream, events.GroupCounter).Result(); err != nil || n.Count != 150 {
		t.Errorf("pending after the batch: %+v, %v; want the 150 entries left out of it", n, err)
	}
	top := keysOf(cfg.Layout, 0).top(c.wsec[len(c.wsec)-1], "liked")
	if n, err := rdb.ZScore(ctx, top, "v").Result(); err != nil || n != 148 {
		t.Errorf("v in %s: %v, %v; want 148", top, n, err)
	}
}
