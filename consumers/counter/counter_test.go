package counter_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/client"
	"github.com/pulsehq/pulse/consumers"
	"github.com/pulsehq/pulse/consumers/counter"
	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/failures"
	"github.com/pulsehq/pulse/internal/testenv"
)

// env is a private Redis with the partition streams and the counter group.
type env struct {
	t       *testing.T
	rdb     *redis.Client
	n       int
	windows []events.Window
	seq     int
}

// layout is the env's: numbered tags, so that keys read as partitions ("pulse:{p0}:…").
func (e *env) layout() events.Layout {
	return events.Layout{Partitions: e.n, Tags: events.TagsNumbered}
}

func newEnv(t *testing.T, partitions int, windows string) *env {
	t.Helper()
	rdb := testenv.StartRedis(t).Client()
	for p := range partitions {
		if err := rdb.XGroupCreateMkStream(context.Background(), testenv.Numbered.Stream(p), events.GroupCounter, "0").Err(); err != nil {
			t.Fatal(err)
		}
	}
	ws, err := events.ParseWindows(windows)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, rdb: rdb, n: partitions, windows: ws}
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func (e *env) config(consumer string) counter.Config {
	return counter.Config{
		Layout:    e.layout(),
		Windows:   e.windows,
		MaxFuture: 5 * time.Second,
		Tick:      50 * time.Millisecond,
		Group: consumers.Config{
			Consumer: consumer, Block: 50 * time.Millisecond, ClaimIdle: 500 * time.Millisecond,
			MaxDeliveries: 3, RetryDelay: 50 * time.Millisecond,
		},
		Logger: quiet,
	}
}

// start runs a counter until the test ends.
func (e *env) start(cfg counter.Config) {
	e.t.Helper()
	c, err := counter.New(e.rdb, cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			e.t.Errorf("counter Run: %v", err)
		}
	})
}

// now is Redis' clock in unix ms.
func (e *env) now() int64 {
	tm, err := e.rdb.Time(context.Background()).Result()
	if err != nil {
		e.t.Fatal(err)
	}
	return tm.UnixMilli()
}

// add appends an event as ingest would and returns its entry id.
func (e *env) add(typ, subject string, at int64) string {
	e.t.Helper()
	e.seq++
	ev := events.Event{ID: fmt.Sprintf("e%d", e.seq), Type: typ, Subject: subject, Time: at, Received: e.now()}
	return e.addValues(testenv.Numbered.Stream(events.Partition(typ, subject, e.n)), ev.Values())
}

func (e *env) addValues(stream string, values []string) string {
	e.t.Helper()
	id, err := e.rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: stream, Values: values}).Result()
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

func (e *env) pending() int64 {
	var n int64
	for p := range e.n {
		gi, err := e.rdb.XInfoGroups(context.Background(), testenv.Numbered.Stream(p)).Result()
		if err != nil {
			e.t.Fatal(err)
		}
		for _, g := range gi {
			if g.Name == events.GroupCounter {
				n += g.Pending + max(g.Lag, 0)
			}
		}
	}
	return n
}

func (e *env) counts(r *counter.Reader, typ string, subjects ...string) (int64, [][]int64) {
	e.t.Helper()
	at, cs, _, err := r.Windows(context.Background(), typ, subjects)
	if err != nil {
		e.t.Fatal(err)
	}
	out := make([][]int64, len(cs))
	for i, c := range cs {
		if c.Type != typ || c.Subject != subjects[i] {
			e.t.Fatalf("count %d is for %s/%s", i, c.Type, c.Subject)
		}
		out[i] = c.Counts
	}
	return at, out
}

// TestCountsAtOnceAndDecay is the acceptance scenario on short windows: events 1.5 s, 3 s, 6 s
// and 10 s ago count 1, 2, 3 in windows 2s, 4s, 8s at once, then fall to 0 on their own.
func TestCountsAtOnceAndDecay(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 2, "2s,4s,8s")
	e.start(e.config("c1"))
	r := counter.NewReader(e.rdb, e.layout(), e.windows)
	now := e.now()
	for _, ago := range []int64{1500, 3000, 6000, 10000} {
		e.add("video_liked", "v1", now-ago)
	}
	testenv.WaitFor(t, 5*time.Second, "entries applied", func() bool { return e.pending() == 0 })
	at, got := e.counts(r, "video_liked", "v1", "v2")
	want := [][]int64{testenv.WindowCounts(at, []int64{now - 1500, now - 3000, now - 6000, now - 10000}, e.windows), {0, 0, 0}}
	if !slices.Equal(got[0], want[0]) || !slices.Equal(got[1], want[1]) {
		t.Fatalf("at %d (+%d ms): counts %v, want %v", at, at-now, got, want)
	}
	testenv.WaitFor(t, 15*time.Second, "counts decayed to 0", func() bool {
		_, got := e.counts(r, "video_liked", "v1")
		return slices.Equal(got[0], []int64{0, 0, 0})
	})
}

// TestWindowBoundaries reads again and again while events from 4 s ago to 2 s ahead cross
// every boundary of windows 1s, 2s, 3s: each read must be exact at the second it reports.
func TestWindowBoundaries(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 2, "1s,2s,3s")
	e.start(e.config("c1"))
	r := counter.NewReader(e.rdb, e.layout(), e.windows)
	now := e.now()
	var subjects []string
	times := map[string][]int64{}
	for off := int64(-4000); off <= 2000; off += 1000 {
		s := fmt.Sprintf("s%+d", off/1000)
		subjects = append(subjects, s, "all")
		times[s] = []int64{now + off}
		times["all"] = append(times["all"], now+off)
		e.add("video_liked", s, now+off)
		e.add("video_liked", "all", now+off)
	}
	testenv.WaitFor(t, 5*time.Second, "entries applied", func() bool { return e.pending() == 0 })
	reads := 0
	testenv.WaitFor(t, 15*time.Second, "every window empty", func() bool {
		at, got := e.counts(r, "video_liked", subjects...)
		reads++
		empty := true
		for i, s := range subjects {
			if want := testenv.WindowCounts(at, times[s], e.windows); !slices.Equal(got[i], want) {
				t.Fatalf("read %d at %d: %s counts %v, want %v", reads, at, s, got[i], want)
			}
			empty = empty && slices.Equal(got[i], []int64{0, 0, 0})
		}
		return empty
	})
	t.Logf("%d exact reads", reads)
}

func TestChangesArePublished(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 1, "1s,2s")
	sub := e.rdb.SSubscribe(context.Background(), testenv.Numbered.Changes(0))
	t.Cleanup(func() { _ = sub.Close() })
	if _, err := sub.Receive(context.Background()); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var sets []events.ChangeSet
	go func() {
		for msg := range sub.Channel() {
			var cs events.ChangeSet
			if err := json.Unmarshal([]byte(msg.Payload), &cs); err != nil {
				t.Errorf("change set %s: %v", msg.Payload, err)
				return
			}
			mu.Lock()
			sets = append(sets, cs)
			mu.Unlock()
		}
	}()
	e.start(e.config("c1"))
	e.add("video_liked", "v1", e.now())
	// The counts rise to 1 and fall back to 0 with no further event; versions grow by one.
	testenv.WaitFor(t, 10*time.Second, "rise and decay published", func() bool {
		mu.Lock()
		defer mu.Unlock()
		if len(sets) == 0 {
			return false
		}
		last := sets[len(sets)-1]
		return len(sets) >= 2 && last.Changes[0].Counts[1] == 0
	})
	mu.Lock()
	defer mu.Unlock()
	for i, cs := range sets {
		if cs.Partition != 0 || cs.Version != int64(i+1) || cs.At == 0 || len(cs.Changes) != 1 {
			t.Errorf("change set %d: %+v", i, cs)
		}
		if c := cs.Changes[0]; c.Type != "video_liked" || c.Subject != "v1" || len(c.Counts) != 2 {
			t.Errorf("change %d: %+v", i, c)
		}
	}
	if first := sets[0].Changes[0].Counts; !slices.Equal(first, []int64{1, 1}) {
		t.Errorf("first published counts %v, want [1 1]", first)
	}
}

func TestTopAndHistory(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 4, "10s,20s")
	e.start(e.config("c1"))
	r := counter.NewReader(e.rdb, e.layout(), e.windows)
	now := e.now()
	// a: 3, b: 2, c: 2, d: 1 in the last 10 s; "old" only in history.
	for subject, n := range map[string]int{"a": 3, "b": 2, "c": 2, "d": 1} {
		for range n {
			e.add("video_liked", subject, now-500)
		}
	}
	e.add("video_liked", "old", now-60_000)
	e.add("video_viewed", "a", now-500)
	testenv.WaitFor(t, 5*time.Second, "entries applied", func() bool { return e.pending() == 0 })

	_, top, err := r.Top(context.Background(), "video_liked", 0, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []client.Entry{{Subject: "a", Count: 3}, {Subject: "b", Count: 2}, {Subject: "c", Count: 2}}
	if !slices.Equal(top, want) {
		t.Errorf("top %v, want %v (ties by subject ascending)", top, want)
	}
	rg, err := r.History(context.Background(), "video_liked", "", now-120_000, now+60_000, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if rg.Count != 9 {
		t.Errorf("history of the type counts %d, want 9", rg.Count)
	}
	rg, err = r.History(context.Background(), "video_liked", "old", now-120_000, now+60_000, 0)
	if err != nil {
		t.Fatal(err)
	}
	if rg.Count != 1 {
		t.Errorf("history of the late subject counts %d, want 1", rg.Count)
	}
}

// TestPoisonAndReplay: a malformed entry goes to the failure stream at once; an entry whose
// keys are broken fails MaxDeliveries times while the rest flows, then goes there too; after
// the repair, replaying both records counts the repaired one once, even when replayed twice.
func TestPoisonAndReplay(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 1, "30s,60s")
	ctx := context.Background()
	k := "pulse:{p0}:c:top:30:broken_type"
	if err := e.rdb.Set(ctx, k, "not a sorted set", 0).Err(); err != nil {
		t.Fatal(err)
	}
	e.start(e.config("c1"))
	r := counter.NewReader(e.rdb, e.layout(), e.windows)
	now := e.now()
	e.addValues(testenv.Numbered.Stream(0), []string{"id", "x", "type", "video_liked", "subject", "v", "time", "soon", "recv", "1"})
	e.add("broken_type", "v1", now)
	e.add("video_liked", "v1", now)
	testenv.WaitFor(t, 10*time.Second, "both poison entries dead-lettered", func() bool {
		items, _, err := failures.List(ctx, e.rdb, events.FailedStream, 10, "")
		return err == nil && len(items) == 2 && e.pending() == 0
	})
	if _, got := e.counts(r, "video_liked", "v1"); got[0][0] != 1 {
		t.Errorf("healthy entry counts %v, want 1", got)
	}
	items, _, _ := failures.List(ctx, e.rdb, events.FailedStream, 10, "")
	for _, it := range items {
		if it.Stage != "counter" || it.Stream != testenv.Numbered.Stream(0) || it.Record["subject"] == "" {
			t.Errorf("failure record %+v", it)
		}
	}
	if err := e.rdb.Del(ctx, k).Err(); err != nil { // the repair
		t.Fatal(err)
	}
	ids := []string{items[0].ID, items[1].ID}
	res, err := failures.Replay(ctx, e.rdb, e.layout(), ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Replayed) != 1 || len(res.Skipped) != 1 {
		t.Fatalf("replay: %+v, want the broken_type record replayed and the malformed one skipped", res)
	}
	// Replaying the same failure again (as a retried request would, had the delete been lost)
	// must not count it twice.
	again := items[0]
	if again.Record["type"] != "broken_type" {
		again = items[1]
	}
	ev := mustEvent(t, again.Record)
	e.addValues(testenv.Numbered.Stream(0), append(ev.Values(), failures.FieldReplayOf, again.EntryID))
	testenv.WaitFor(t, 10*time.Second, "replays applied", func() bool { return e.pending() == 0 })
	if _, got := e.counts(r, "broken_type", "v1"); got[0][0] != 1 {
		t.Errorf("repaired entry counts %v, want 1", got)
	}
	left, _, _ := failures.List(ctx, e.rdb, events.FailedStream, 10, "")
	if len(left) != 1 {
		t.Errorf("%d failure records left, want the malformed one", len(left))
	}
}

func mustEvent(t *testing.T, rec map[string]string) events.Event {
	t.Helper()
	m := map[string]any{}
	for k, v := range rec {
		m[k] = v
	}
	ev, err := events.FromValues(m)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// TestRefusesOtherWindows: the windows are fixed when a deployment first counts.
func TestRefusesOtherWindows(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 1, "1s,2s")
	e.start(e.config("c1"))
	testenv.WaitFor(t, 5*time.Second, "windows recorded", func() bool {
		return e.rdb.HExists(context.Background(), events.MetaKey, "windows").Val()
	})
	cfg := e.config("c2")
	cfg.Windows, _ = events.ParseWindows("1s,3s")
	c, err := counter.New(e.rdb, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(context.Background()); err == nil {
		t.Fatal("a counter with other windows ran")
	}
}

// Types seen once and gone cost nothing later: settling reads the buckets of the types that
// hold counts, not of every type the partition has ever seen.
func TestSettlingIgnoresGoneTypes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 1, "1s,2s")
	e.start(e.config("c1"))
	r := counter.NewReader(e.rdb, e.layout(), e.windows)
	ctx := context.Background()
	now := e.now()
	const junk = 300
	for i := range junk {
		e.add(fmt.Sprintf("junk_%d", i), "v", now)
	}
	testenv.WaitFor(t, 10*time.Second, "junk applied", func() bool { return e.pending() == 0 })
	testenv.WaitFor(t, 10*time.Second, "junk counts gone", func() bool {
		_, got := e.counts(r, "junk_0", "v")
		return slices.Equal(got[0], []int64{0, 0}) && e.rdb.ZCard(ctx, "pulse:{p0}:c:due").Val() == 0
	})
	if err := e.rdb.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	const live = 5
	now = e.now()
	for i := range live {
		e.add("video_liked", "v", now+int64(i)*300)
	}
	testenv.WaitFor(t, 10*time.Second, "live events applied and gone", func() bool {
		_, got := e.counts(r, "video_liked", "v")
		return e.pending() == 0 && slices.Equal(got[0], []int64{0, 0})
	})
	// Each live event's bucket is read when it enters (if ahead) and when it leaves each
	// window: a handful of HGETALLs. Reading every type's bucket would take junk per step.
	stats, err := e.rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	calls := commandCalls(stats, "hgetall")
	if calls > live*4 {
		t.Errorf("%d HGETALL calls while %d events of one type came and went, want ≤ %d", calls, live, live*4)
	}
	t.Logf("%d HGETALL calls", calls)
}

// commandCalls reads a command's call count from INFO commandstats.
func commandCalls(stats, cmd string) int {
	for line := range strings.SplitSeq(stats, "\n") {
		if rest, ok := strings.CutPrefix(line, "cmdstat_"+cmd+":calls="); ok {
			n, _ := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
			return n
		}
	}
	return 0
}

// A value counter.lua would increment but cannot (someone wrote a word into a bucket) must be
// found before the script acknowledges anything: the entry stays pending and, after
// MaxDeliveries, reaches the failure stream uncounted instead of being acked with no effect.
func TestCorruptValueIsCheckedBeforeAck(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 1, "30s,60s")
	ctx := context.Background()
	now := e.now()
	bucket := fmt.Sprintf("pulse:{p0}:c:s:video_liked:%d", now/1000)
	if err := e.rdb.HSet(ctx, bucket, "v1", "many").Err(); err != nil {
		t.Fatal(err)
	}
	e.start(e.config("c1"))
	r := counter.NewReader(e.rdb, e.layout(), e.windows)
	e.add("video_liked", "v1", now)
	e.add("video_liked", "v2", now)
	testenv.WaitFor(t, 10*time.Second, "the entry on the corrupt value dead-lettered", func() bool {
		items, _, err := failures.List(ctx, e.rdb, events.FailedStream, 10, "")
		return err == nil && len(items) == 1 && e.pending() == 0
	})
	if _, got := e.counts(r, "video_liked", "v2"); got[0][0] != 1 {
		t.Errorf("healthy entry counts %v, want 1", got)
	}
	// Its replay marker never expires: a replay days later must still count (it used to live
	// for the history retention only, after which a replay counted nothing).
	items, _, _ := failures.List(ctx, e.rdb, events.FailedStream, 10, "")
	marker := consumers.DeadMarker(testenv.Numbered.Stream(0), events.GroupCounter, items[0].EntryID)
	if ttl, err := e.rdb.PTTL(ctx, marker).Result(); err != nil || ttl != -1 {
		t.Errorf("dead marker %s: TTL %v, %v; want one that does not expire", marker, ttl, err)
	}
	// Repaired and replayed, it counts once.
	if err := e.rdb.HDel(ctx, bucket, "v1").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := failures.Replay(ctx, e.rdb, e.layout(), []string{items[0].ID}); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 10*time.Second, "the replay counted", func() bool {
		_, got := e.counts(r, "video_liked", "v1")
		return e.pending() == 0 && got[0][1] == 1
	})
}

// A deployment counted by the earlier schedule layout (seconds in c:sched, every type in
// c:types) is migrated at start: its buckets still leave their windows.
func TestOldScheduleMigrated(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 1, "1s,2s")
	ctx := context.Background()
	sec := e.now()/1000 - 1
	pipe := e.rdb.Pipeline()
	pipe.Set(ctx, "pulse:{p0}:c:x", sec, 0)
	pipe.ZAdd(ctx, "pulse:{p0}:c:sched", redis.Z{Score: float64(sec), Member: sec})
	pipe.SAdd(ctx, "pulse:{p0}:c:types", "video_liked", "gone_type")
	pipe.HSet(ctx, fmt.Sprintf("pulse:{p0}:c:s:video_liked:%d", sec), "v1", 1)
	pipe.ZAdd(ctx, "pulse:{p0}:c:top:1:video_liked", redis.Z{Score: 1, Member: "v1"})
	pipe.ZAdd(ctx, "pulse:{p0}:c:top:2:video_liked", redis.Z{Score: 1, Member: "v1"})
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	e.start(e.config("c1"))
	r := counter.NewReader(e.rdb, e.layout(), e.windows)
	testenv.WaitFor(t, 10*time.Second, "the old bucket to leave its windows", func() bool {
		_, got := e.counts(r, "video_liked", "v1")
		return slices.Equal(got[0], []int64{0, 0})
	})
	if n := e.rdb.Exists(ctx, "pulse:{p0}:c:sched", "pulse:{p0}:c:types").Val(); n != 0 {
		t.Errorf("%d old schedule keys left", n)
	}
}
