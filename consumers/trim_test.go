package consumers_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/consumers"
	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/testenv"
)

var trimGroups = []string{events.GroupCounter, events.GroupIndexer}

// trimStream is partition 0's stream with n entries, and a model of what each group has
// been delivered and acknowledged, to check the trimmer against.
type trimStream struct {
	t         *testing.T
	rdb       *redis.Client
	ids       []string
	delivered map[string]int          // group → entries delivered (always a prefix: reads are in order)
	acked     map[string]map[int]bool // group → acknowledged entry indexes
}

func newTrimStream(t *testing.T, n int) *trimStream {
	t.Helper()
	s := &trimStream{t: t, rdb: testenv.StartRedis(t).Client(), delivered: map[string]int{}, acked: map[string]map[int]bool{}}
	for i := range n {
		id, err := s.rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: testenv.Numbered.Stream(0), Values: []string{"n", fmt.Sprint(i)}}).Result()
		if err != nil {
			t.Fatal(err)
		}
		s.ids = append(s.ids, id)
	}
	return s
}

func (s *trimStream) createGroup(g string) {
	s.t.Helper()
	if err := s.rdb.XGroupCreateMkStream(context.Background(), testenv.Numbered.Stream(0), g, "0").Err(); err != nil {
		s.t.Fatal(err)
	}
	s.acked[g] = map[int]bool{}
}

// deliver reads the next k entries of group g for consumer c.
func (s *trimStream) deliver(g, c string, k int) {
	s.t.Helper()
	if k == 0 {
		return
	}
	res, err := s.rdb.XReadGroup(context.Background(), &redis.XReadGroupArgs{
		Group: g, Consumer: c, Streams: []string{testenv.Numbered.Stream(0), ">"}, Count: int64(k), Block: -1,
	}).Result()
	if errors.Is(err, redis.Nil) { // nothing new
		return
	}
	if err != nil {
		s.t.Fatal(err)
	}
	s.delivered[g] += len(res[0].Messages)
}

func (s *trimStream) ack(g string, idx ...int) {
	s.t.Helper()
	for _, i := range idx {
		if err := s.rdb.XAck(context.Background(), testenv.Numbered.Stream(0), g, s.ids[i]).Err(); err != nil {
			s.t.Fatal(err)
		}
		s.acked[g][i] = true
	}
}

// remaining lists the ids still in the stream.
func (s *trimStream) remaining() []string {
	s.t.Helper()
	msgs, err := s.rdb.XRange(context.Background(), testenv.Numbered.Stream(0), "-", "+").Result()
	if err != nil {
		s.t.Fatal(err)
	}
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.ID
	}
	return out
}

// checkKept fails if an entry some group has not acknowledged is gone: the trimmer's promise.
func (s *trimStream) checkKept() {
	s.t.Helper()
	have := s.remaining()
	for i, id := range s.ids {
		for _, g := range trimGroups {
			if !s.acked[g][i] && !slices.Contains(have, id) {
				s.t.Fatalf("entry %d (%s) was trimmed but group %s never acknowledged it", i, id, g)
			}
		}
	}
}

func newTrimmer(t *testing.T, rdb *redis.Client, cfg consumers.TrimConfig) *consumers.Trimmer {
	t.Helper()
	cfg.Layout = events.Layout{Partitions: 1, Tags: events.TagsNumbered}
	tr, err := consumers.NewTrimmer(rdb, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestTrimBelowEveryGroup(t *testing.T) {
	t.Parallel()
	type read struct {
		consumer string
		n        int
	}
	type state struct {
		reads   []read
		unacked []int // delivered entries left pending
	}
	tests := []struct {
		name    string
		n       int
		groups  map[string]state // a group absent here is not created
		trimmed int64            // entries removed: the lowest floor's index
	}{
		{
			name:    "both groups acked everything: the last delivered entry stays",
			n:       10,
			groups:  map[string]state{"counter": {reads: []read{{"a", 10}}}, "indexer": {reads: []read{{"a", 10}}}},
			trimmed: 9,
		},
		{
			name:    "the slower group's position bounds the trim",
			n:       10,
			groups:  map[string]state{"counter": {reads: []read{{"a", 10}}}, "indexer": {reads: []read{{"a", 4}}}},
			trimmed: 3,
		},
		{
			name:    "an old pending entry bounds the trim",
			n:       10,
			groups:  map[string]state{"counter": {reads: []read{{"a", 10}}, unacked: []int{2, 7}}, "indexer": {reads: []read{{"a", 10}}}},
			trimmed: 2,
		},
		{
			name:    "the oldest pending entry of any consumer counts",
			n:       10,
			groups:  map[string]state{"counter": {reads: []read{{"a", 5}, {"b", 5}}, unacked: []int{8, 4}}, "indexer": {reads: []read{{"x", 10}}}},
			trimmed: 4,
		},
		{
			name:    "lowest floor wins across groups",
			n:       10,
			groups:  map[string]state{"counter": {reads: []read{{"a", 10}}, unacked: []int{6}}, "indexer": {reads: []read{{"a", 5}}}},
			trimmed: 4,
		},
		{
			name:    "a group that read nothing keeps everything",
			n:       10,
			groups:  map[string]state{"counter": {reads: []read{{"a", 10}}}, "indexer": {}},
			trimmed: 0,
		},
		{
			name:    "nothing is trimmed until both groups exist",
			n:       10,
			groups:  map[string]state{"counter": {reads: []read{{"a", 10}}}},
			trimmed: 0,
		},
		{
			name:    "no stream yet",
			n:       0,
			groups:  nil,
			trimmed: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newTrimStream(t, tt.n)
			for _, g := range trimGroups {
				st, ok := tt.groups[g]
				if !ok {
					continue
				}
				s.createGroup(g)
				for _, r := range st.reads {
					s.deliver(g, r.consumer, r.n)
				}
				for i := range s.delivered[g] {
					if !slices.Contains(st.unacked, i) {
						s.ack(g, i)
					}
				}
			}
			reg := prometheus.NewRegistry()
			got, err := newTrimmer(t, s.rdb, consumers.TrimConfig{Metrics: reg}).Trim(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.trimmed {
				t.Errorf("trimmed %d entries, want %d", got, tt.trimmed)
			}
			if want := s.ids[tt.trimmed:]; !slices.Equal(s.remaining(), want) {
				t.Errorf("stream holds %v, want %v", s.remaining(), want)
			}
			s.checkKept()
			if v := metricValue(t, reg, "pulse_trim_entries_total", ""); v != float64(tt.trimmed) {
				t.Errorf("pulse_trim_entries_total = %g, want %d", v, tt.trimmed)
			}
		})
	}
}

// Random deliveries and acks by two consumers per group, a trim after each step: no entry a
// group has not acknowledged ever disappears, and everything below the lowest floor does.
func TestTrimNeverDropsUnacked(t *testing.T) {
	t.Parallel()
	const n = 300
	s := newTrimStream(t, n)
	for _, g := range trimGroups {
		s.createGroup(g)
	}
	tr := newTrimmer(t, s.rdb, consumers.TrimConfig{})
	rng := rand.New(rand.NewPCG(7, 11))
	for step := range 60 {
		g := trimGroups[rng.IntN(2)]
		s.deliver(g, fmt.Sprint("c", rng.IntN(2)), rng.IntN(12))
		for i := range s.delivered[g] {
			if !s.acked[g][i] && rng.IntN(3) > 0 {
				s.ack(g, i)
			}
		}
		if _, err := tr.Trim(context.Background()); err != nil {
			t.Fatal(err)
		}
		s.checkKept()
		// The model's floor: the lowest, over groups, of the oldest pending or last delivered.
		floor := n
		for _, g := range trimGroups {
			f := s.delivered[g] - 1
			for i := range s.delivered[g] {
				if !s.acked[g][i] {
					f = i
					break
				}
			}
			floor = min(floor, max(f, 0))
		}
		if have := s.remaining(); len(have) != n-floor {
			t.Fatalf("step %d: stream holds %d entries, want %d (floor at entry %d)", step, len(have), n-floor, floor)
		}
	}
}

// Past the cap with unacknowledged entries, the trimmer reports and keeps them.
func TestTrimCapReportsInsteadOfDropping(t *testing.T) {
	t.Parallel()
	s := newTrimStream(t, 10)
	for _, g := range trimGroups {
		s.createGroup(g)
	}
	s.deliver("counter", "a", 10)
	s.ack("counter", 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	reg := prometheus.NewRegistry()
	tr := newTrimmer(t, s.rdb, consumers.TrimConfig{MaxLen: 3, Metrics: reg})
	if got, err := tr.Trim(context.Background()); err != nil || got != 0 {
		t.Fatalf("Trim = %d, %v; want 0 trimmed: the indexer has acked nothing", got, err)
	}
	s.checkKept()
	if v := metricValue(t, reg, "pulse_trim_over_cap_entries", "0"); v != 7 {
		t.Errorf("over-cap gauge = %g, want 7 (10 entries, cap 3)", v)
	}
	if v := metricValue(t, reg, "pulse_trim_stream_entries", "0"); v != 10 {
		t.Errorf("stream length gauge = %g, want 10", v)
	}

	// Once the indexer catches up the stream is trimmed under the cap and the alarm clears.
	s.deliver("indexer", "x", 10)
	s.ack("indexer", 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	if got, err := tr.Trim(context.Background()); err != nil || got != 9 {
		t.Fatalf("Trim = %d, %v; want 9", got, err)
	}
	if v := metricValue(t, reg, "pulse_trim_over_cap_entries", "0"); v != 0 {
		t.Errorf("over-cap gauge = %g after catching up, want 0", v)
	}
}

func TestTrimmerRun(t *testing.T) {
	t.Parallel()
	s := newTrimStream(t, 20)
	for _, g := range trimGroups {
		s.createGroup(g)
		s.deliver(g, "a", 20)
		s.ack(g, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19)
	}
	tr := newTrimmer(t, s.rdb, consumers.TrimConfig{Interval: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx) }()
	testenv.WaitFor(t, 5*time.Second, "the stream trimmed to its last delivered entry", func() bool {
		return s.rdb.XLen(context.Background(), testenv.Numbered.Stream(0)).Val() == 1
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v, want nil after cancel", err)
	}
}

func TestTrimConfigInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  consumers.TrimConfig
	}{
		{"partitions", consumers.TrimConfig{Layout: events.Layout{Partitions: -1}}},
		{"interval", consumers.TrimConfig{Interval: -time.Second}},
		{"max len", consumers.TrimConfig{MaxLen: -5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := consumers.NewTrimmer(nil, tt.cfg); err == nil {
				t.Error("want an error")
			}
		})
	}
}

// metricValue reads a counter or gauge from reg; partition selects a labelled series.
func metricValue(t *testing.T, reg *prometheus.Registry, name, partition string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := partition == ""
			for _, l := range m.GetLabel() {
				match = match || (l.GetName() == "partition" && l.GetValue() == partition)
			}
			if !match {
				continue
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("metric %s{partition=%q} not found", name, partition)
	return 0
}
