package consumers_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/consumers"
	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/failures"
	"github.com/pulsehq/pulse/internal/testenv"
)

const group = "test"

// fixture is a private Redis with partition streams and the test group created.
type fixture struct {
	t   *testing.T
	rdb *redis.Client
	n   int
}

func newFixture(t *testing.T, partitions int) *fixture {
	t.Helper()
	rdb := testenv.StartRedis(t).Client()
	for p := range partitions {
		if err := rdb.XGroupCreateMkStream(context.Background(), testenv.Numbered.Stream(p), group, "0").Err(); err != nil {
			t.Fatal(err)
		}
	}
	return &fixture{t: t, rdb: rdb, n: partitions}
}

// add appends n entries per partition with fields {"n": i}; it returns their ids by partition.
func (f *fixture) add(n int) map[int][]string {
	f.t.Helper()
	ids := map[int][]string{}
	for p := range f.n {
		for i := range n {
			id, err := f.rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: testenv.Numbered.Stream(p), Values: []string{"n", fmt.Sprint(i)}}).Result()
			if err != nil {
				f.t.Fatal(err)
			}
			ids[p] = append(ids[p], id)
		}
	}
	return ids
}

// run starts g and returns a stop function that cancels it and waits for Run's result.
func (f *fixture) run(cfg consumers.Config, h consumers.Handler) (stop func()) {
	f.t.Helper()
	cfg.Group, cfg.Layout = group, events.Layout{Partitions: f.n, Tags: events.TagsNumbered}
	if cfg.Block == 0 {
		cfg.Block = 50 * time.Millisecond
	}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	g, err := consumers.New(f.rdb, cfg, h)
	if err != nil {
		f.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				f.t.Errorf("Run: %v", err)
			}
		})
	}
	f.t.Cleanup(stop)
	return stop
}

func (f *fixture) pending() int64 {
	var n int64
	for p := range f.n {
		pi, err := f.rdb.XPending(context.Background(), testenv.Numbered.Stream(p), group).Result()
		if err != nil {
			f.t.Fatal(err)
		}
		n += pi.Count
	}
	return n
}

func (f *fixture) failures() []events.Failure {
	msgs, err := f.rdb.XRange(context.Background(), events.FailedStream, "-", "+").Result()
	if err != nil {
		f.t.Fatal(err)
	}
	out := make([]events.Failure, len(msgs))
	for i, m := range msgs {
		out[i] = failures.Decode(m.Values)
	}
	return out
}

// recorder is a handler that records what it saw and fails entries as told.
type recorder struct {
	mu   sync.Mutex
	seen map[string][]int64 // partition/id → deliveries of every attempt
	fail func(e consumers.Entry) error
}

func (r *recorder) Handle(_ context.Context, b *consumers.Batch) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen = map[string][]int64{}
	}
	for i, e := range b.Entries {
		if b.Stream != testenv.Numbered.Stream(b.Partition) || b.Group != group {
			return fmt.Errorf("batch of partition %d names stream %s, group %s", b.Partition, b.Stream, b.Group)
		}
		k := fmt.Sprint(b.Partition, "/", e.ID) // ids repeat across streams
		r.seen[k] = append(r.seen[k], e.Deliveries)
		if r.fail != nil {
			b.Fail(i, r.fail(e))
		}
	}
	return nil
}

func (r *recorder) attempts(p int, id string) []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int64(nil), r.seen[fmt.Sprint(p, "/", id)]...)
}

func (r *recorder) distinct() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

func TestGroupConsumesEveryPartition(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	f.add(300) // more than one batch per partition
	rec := &recorder{}
	f.run(consumers.Config{Count: 64}, rec)
	f.add(10) // arrives while reading
	testenv.WaitFor(t, 10*time.Second, "every entry handled and acked", func() bool {
		return rec.distinct() == 4*310 && f.pending() == 0
	})
}

func TestGroupReplaysOwnPendingFirst(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1)
	ids := f.add(3)[0]
	// A previous run of consumer "c1" read the entries and died before acknowledging them.
	if err := f.rdb.XReadGroup(context.Background(), &redis.XReadGroupArgs{Group: group, Consumer: "c1", Streams: []string{testenv.Numbered.Stream(0), ">"}, Block: -1}).Err(); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	f.run(consumers.Config{Consumer: "c1", ClaimIdle: time.Hour}, rec)
	testenv.WaitFor(t, 5*time.Second, "own pending entries replayed", func() bool { return f.pending() == 0 })
	for _, id := range ids {
		if got := rec.attempts(0, id); len(got) != 1 || got[0] != 2 {
			t.Errorf("%s: attempts with deliveries %v, want one with 2", id, got)
		}
	}
}

func TestGroupReclaimsIdleEntries(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 2)
	ids := f.add(5)
	for p := range 2 { // consumer "dead" read everything and crashed
		if err := f.rdb.XReadGroup(context.Background(), &redis.XReadGroupArgs{Group: group, Consumer: "dead", Streams: []string{testenv.Numbered.Stream(p), ">"}, Block: -1}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// One entry was deleted from the stream while pending: it is dropped, not handled.
	if err := f.rdb.XDel(context.Background(), testenv.Numbered.Stream(1), ids[1][0]).Err(); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	f.run(consumers.Config{Consumer: "alive", ClaimIdle: 100 * time.Millisecond}, rec)
	testenv.WaitFor(t, 5*time.Second, "idle entries reclaimed", func() bool { return f.pending() == 0 })
	if got := rec.distinct(); got != 9 {
		t.Errorf("handled %d entries, want 9 (10 minus the deleted one)", got)
	}
	if got := rec.attempts(0, ids[0][0]); len(got) != 1 || got[0] != 2 {
		t.Errorf("reclaimed entry attempts %v, want one with deliveries 2", got)
	}
}

func TestGroupFailureOutcomes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		err      error
		attempts int // attempts of the bad entry before it is dead-lettered
	}{
		{"plain error retried until MaxDeliveries", errors.New("boom"), 3},
		{"ErrSkipRetry dead-lettered at once", fmt.Errorf("bad record: %w", consumers.ErrSkipRetry), 1},
		{"a panic fails its batch, then the entry alone", errPanic, 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, 1)
			ids := f.add(5)[0]
			bad := ids[2]
			rec := &recorder{fail: func(e consumers.Entry) error {
				switch {
				case e.ID != bad:
					return nil
				case tc.err == errPanic:
					panic("handler bug")
				}
				return tc.err
			}}
			f.run(consumers.Config{MaxDeliveries: 3, RetryDelay: 20 * time.Millisecond, ClaimIdle: time.Hour}, rec)
			testenv.WaitFor(t, 10*time.Second, "bad entry dead-lettered, the rest acked", func() bool {
				return f.pending() == 0 && len(f.failures()) == 1
			})
			if got := rec.attempts(0, bad); len(got) != tc.attempts {
				t.Errorf("bad entry attempts %v, want %d", got, tc.attempts)
			}
			for _, id := range ids {
				if id != bad && tc.err != errPanic && len(rec.attempts(0, id)) != 1 {
					t.Errorf("good entry %s attempts %v, want 1", id, rec.attempts(0, id))
				}
			}
			fl := f.failures()[0]
			if fl.Stage != group || fl.EntryID != bad || fl.Stream != testenv.Numbered.Stream(0) || fl.Record["n"] != "2" || fl.At == 0 || fl.Reason == "" {
				t.Errorf("failure record %+v", fl)
			}
		})
	}
}

var errPanic = errors.New("panic")

func TestGroupTransientNeverDeadLetters(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1)
	f.add(4)
	var down atomic.Int32
	down.Store(6) // more failed attempts than MaxDeliveries
	var calls atomic.Int32
	h := consumers.HandlerFunc(func(context.Context, *consumers.Batch) error {
		calls.Add(1)
		if down.Add(-1) >= 0 {
			return fmt.Errorf("engine down: %w", consumers.ErrTransient)
		}
		return nil
	})
	f.run(consumers.Config{MaxDeliveries: 2, ClaimIdle: time.Hour}, h)
	testenv.WaitFor(t, 20*time.Second, "entries acked after the dependency came back", func() bool {
		gi, err := f.rdb.XInfoGroups(context.Background(), testenv.Numbered.Stream(0)).Result()
		return err == nil && gi[0].EntriesRead == 4 && gi[0].Pending == 0
	})
	if n := len(f.failures()); n != 0 {
		t.Errorf("%d failure records, want 0", n)
	}
	if n := calls.Load(); n != 7 {
		t.Errorf("handler called %d times, want 7 (6 transient failures, then success)", n)
	}
}

// An entry applied by another consumer while this one dead-lettered it: its record goes away.
func TestGroupDeadLetterAppliedElsewhere(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1)
	f.add(2)
	h := consumers.HandlerFunc(func(ctx context.Context, b *consumers.Batch) error {
		if err := f.rdb.XAck(ctx, b.Stream, group, b.IDs()...).Err(); err != nil { // "elsewhere"
			return err
		}
		return consumers.ErrSkipRetry
	})
	f.run(consumers.Config{}, h)
	testenv.WaitFor(t, 5*time.Second, "entries settled", func() bool {
		gi, err := f.rdb.XInfoGroups(context.Background(), testenv.Numbered.Stream(0)).Result()
		return err == nil && gi[0].EntriesRead == 2 && f.pending() == 0
	})
	// The dead-letter step runs after the handler returns: wait for its records to go.
	testenv.WaitFor(t, 5*time.Second, "records of applied entries removed", func() bool { return len(f.failures()) == 0 })
}

// The reply of the dead-letter ack is lost and the command sent again: the second run finds
// the entries acknowledged (by the first) and must not take them for applied elsewhere, which
// would delete their only record.
func TestGroupDeadLetterAckResent(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1)
	ids := f.add(3)[0]
	resend := &testenv.LostReply{Match: testenv.ArgsContain(":dead:" + group + ":"), Resend: true}
	resend.Times.Store(1)
	f.rdb.AddHook(resend)
	f.run(consumers.Config{}, consumers.HandlerFunc(func(context.Context, *consumers.Batch) error { return consumers.ErrSkipRetry }))
	// The hook counts a fault after the command's first run, which already acknowledged the
	// entries: wait for the count too.
	testenv.WaitFor(t, 10*time.Second, "three dead letters, the ack resent once", func() bool {
		return f.pending() == 0 && len(f.failures()) == 3 && resend.Fired.Load() == 1
	})
	for _, id := range ids {
		if n, _ := f.rdb.Exists(context.Background(), consumers.DeadMarker(testenv.Numbered.Stream(0), group, id)).Result(); n != 1 {
			t.Errorf("entry %s has no dead marker", id)
		}
	}
}

// A full dead-letter store refuses records: the entries stay pending (never dropped) and go in
// once there is room.
func TestGroupDeadLetterStoreFull(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1)
	f.add(3)
	reg := prometheus.NewRegistry()
	f.run(consumers.Config{FailedMaxLen: 2, RetryDelay: 50 * time.Millisecond, Metrics: reg},
		consumers.HandlerFunc(func(context.Context, *consumers.Batch) error { return consumers.ErrSkipRetry }))
	testenv.WaitFor(t, 5*time.Second, "the store full, one entry refused", func() bool {
		return len(f.failures()) == 2 && f.pending() == 1 && metricSum(t, reg, "pulse_consumer_dead_letter_refused_total") >= 1
	})
	msgs, err := f.rdb.XRange(context.Background(), events.FailedStream, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.rdb.XDel(context.Background(), events.FailedStream, msgs[0].ID).Err(); err != nil { // an operator makes room
		t.Fatal(err)
	}
	testenv.WaitFor(t, 5*time.Second, "the refused entry dead-lettered", func() bool { return len(f.failures()) == 2 && f.pending() == 0 })
}

// metricSum is the sum of every series of the metric name in reg.
func metricSum(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

func TestGroupRecreatesMissingGroup(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1)
	rec := &recorder{}
	f.run(consumers.Config{}, rec)
	if err := f.rdb.Del(context.Background(), testenv.Numbered.Stream(0)).Err(); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 5*time.Second, "group recreated", func() bool {
		g, err := f.rdb.XInfoGroups(context.Background(), testenv.Numbered.Stream(0)).Result()
		return err == nil && len(g) == 1
	})
	f.add(3)
	testenv.WaitFor(t, 5*time.Second, "entries of the new stream handled", func() bool { return rec.distinct() == 3 && f.pending() == 0 })
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		cfg  consumers.Config
		ok   bool
	}{
		{"defaults", consumers.Config{Group: "g"}, true},
		{"no group", consumers.Config{}, false},
		{"negative count", consumers.Config{Group: "g", Count: -1}, false},
		{"too many partitions", consumers.Config{Group: "g", Layout: events.Layout{Partitions: 2000, Tags: events.TagsNumbered}}, false},
		{"negative block", consumers.Config{Group: "g", Block: -time.Second}, false},
		{"negative deliveries", consumers.Config{Group: "g", MaxDeliveries: -1}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g, err := consumers.New(nil, tc.cfg, consumers.HandlerFunc(func(context.Context, *consumers.Batch) error { return nil }))
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if tc.ok {
				c := g.Config()
				if d := consumers.DefaultConfig(); c.Count != d.Count || c.Block != d.Block || c.MaxDeliveries != d.MaxDeliveries || c.Consumer == "" || c.Stage != "g" || c.Layout != events.DefaultLayout() {
					t.Errorf("defaults not filled: %+v", c)
				}
			}
		})
	}
}

// A read whose reply is lost leaves its entries pending for this consumer, where only it (or,
// after ClaimIdle, a reclaim) would find them: the consumer must re-read its own pending list
// at once, or the counts stay wrong meanwhile.
func TestGroupLostReadReply(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1)
	f.add(5)
	lost := &testenv.LostReply{Match: func(args []any) bool {
		return len(args) > 0 && args[0] == "xreadgroup" && args[len(args)-1] == ">"
	}}
	lost.Times.Store(1)
	f.rdb.AddHook(lost)
	rec := &recorder{}
	f.run(consumers.Config{ClaimIdle: time.Hour}, rec) // no reclaim can help within the test
	testenv.WaitFor(t, 10*time.Second, "the entries of the lost read handled", func() bool {
		return rec.distinct() == 5 && f.pending() == 0
	})
	if lost.Fired.Load() != 1 {
		t.Errorf("%d replies lost, want 1", lost.Fired.Load())
	}
}
