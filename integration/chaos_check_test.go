package integration

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	api "github.com/pulsehq/pulse/client"
	"github.com/pulsehq/pulse/consumers"
	"github.com/pulsehq/pulse/consumers/counter"
	"github.com/pulsehq/pulse/consumers/indexer"
	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/failures"
	"github.com/pulsehq/pulse/internal/search"
	"github.com/pulsehq/pulse/internal/testenv"
)

// recorder reads every partition stream from the start, directly from Redis (not through the
// proxies), while the run lasts: its copy is the oracle's record of what was stored, even after
// the trimmer cut entries every group had acknowledged.
type recorder struct {
	tp      *topology
	mu      sync.Mutex
	entries map[string][]storedEvent // by marker
	read    []int64                  // entries read per partition
	ids     []map[string]bool        // entry ids read per partition, to say which are missing
	replays int                      // replayed dead letters read
	stop    context.CancelFunc
	done    sync.WaitGroup
}

type storedEvent struct {
	entryID string
	ev      events.Event
}

func record(t *testing.T, tp *topology) *recorder {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := newRecorder(tp, cancel)
	for p := range chaosPartitions {
		r.done.Go(func() { r.follow(ctx, p) })
	}
	t.Cleanup(func() { cancel(); r.done.Wait() })
	return r
}

func newRecorder(tp *topology, stop context.CancelFunc) *recorder {
	r := &recorder{tp: tp, entries: map[string][]storedEvent{}, read: make([]int64, chaosPartitions), stop: stop}
	for range chaosPartitions {
		r.ids = append(r.ids, map[string]bool{})
	}
	return r
}

func (r *recorder) follow(ctx context.Context, p int) {
	last := "0"
	for ctx.Err() == nil {
		res, err := r.tp.direct.XRead(ctx, &redis.XReadArgs{Streams: []string{chaosLayout.Stream(p), last}, Count: 1000, Block: 200 * time.Millisecond}).Result()
		if err != nil {
			if !errors.Is(err, redis.Nil) {
				time.Sleep(100 * time.Millisecond) // Redis restarting: read on when it is back
			}
			continue
		}
		last = r.add(p, res[0].Messages)
	}
}

// add records messages of partition p and returns the last one's ID.
func (r *recorder) add(p int, msgs []redis.XMessage) (last string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range msgs {
		last = m.ID
		r.read[p]++
		r.ids[p][m.ID] = true
		if _, ok := m.Values[failures.FieldReplayOf]; ok {
			r.replays++ // a dead letter put back: the same stored event, delivered again
			continue
		}
		ev, err := events.FromValues(m.Values)
		var data struct{ M string }
		if err == nil {
			_ = json.Unmarshal(ev.Data, &data)
		}
		r.entries[data.M] = append(r.entries[data.M], storedEvent{m.ID, ev})
	}
	return last
}

// snapshot records the streams as they are now, in one pass: the record of a deployment whose
// streams nothing has trimmed (deployOptions.indexerLater) and nothing writes any more.
func snapshot(t *testing.T, tp *topology) *recorder {
	t.Helper()
	r := newRecorder(tp, func() {})
	ctx := context.Background()
	for p := range chaosPartitions {
		for from := "-"; ; {
			msgs, err := tp.direct.XRangeN(ctx, chaosLayout.Stream(p), from, "+", 1000).Result()
			if err != nil {
				t.Fatalf("snapshot of partition %d: %v", p, err)
			}
			if len(msgs) == 0 {
				break
			}
			from = "(" + r.add(p, msgs)
		}
	}
	return r
}

// caughtUp reports whether the recorder has read every entry ever added to the streams.
func (r *recorder) caughtUp(ctx context.Context) bool {
	for p := range chaosPartitions {
		info, err := r.tp.direct.XInfoStream(ctx, chaosLayout.Stream(p)).Result()
		if err != nil {
			return false
		}
		r.mu.Lock()
		read := r.read[p]
		r.mu.Unlock()
		if read != info.EntriesAdded {
			return false
		}
	}
	return true
}

// quiet reports whether the consumer groups have read and acknowledged everything.
func quiet(ctx context.Context, tp *topology, names ...string) bool {
	check := func(stream string, groups ...string) bool {
		info, err := tp.direct.XInfoStream(ctx, stream).Result()
		if err != nil {
			return false
		}
		gs, err := tp.direct.XInfoGroups(ctx, stream).Result()
		if err != nil {
			return false
		}
		seen := 0
		for _, g := range gs {
			if slices.Contains(groups, g.Name) {
				seen++
				if consumers.Lag(info.LastGeneratedID, g) != 0 || g.Pending != 0 {
					return false
				}
			}
		}
		return seen == len(groups)
	}
	var parts []string
	for _, n := range names {
		if n != indexer.FailuresGroup {
			parts = append(parts, n)
		}
	}
	for p := range chaosPartitions {
		if !check(chaosLayout.Stream(p), parts...) {
			return false
		}
	}
	if slices.Contains(names, indexer.FailuresGroup) {
		for _, s := range []string{events.FailedStream, events.RejectedStream} {
			if n, _ := tp.direct.XLen(ctx, s).Result(); n > 0 && !check(s, indexer.FailuresGroup) {
				return false
			}
		}
	}
	return true
}

// behind says which groups have not caught up, for a failure message.
func behind(ctx context.Context, tp *topology, rec *recorder) string {
	streams := []string{events.FailedStream, events.RejectedStream}
	for p := range chaosPartitions {
		streams = append(streams, chaosLayout.Stream(p))
	}
	var out []string
	for _, s := range streams {
		gs, err := tp.direct.XInfoGroups(ctx, s).Result()
		if err != nil {
			out = append(out, fmt.Sprintf("%s: %v", s, err))
			continue
		}
		info, _ := tp.direct.XInfoStream(ctx, s).Result()
		for _, g := range gs {
			if info == nil || consumers.Lag(info.LastGeneratedID, g) != 0 || g.Pending != 0 {
				out = append(out, fmt.Sprintf("%s %s: last delivered %s, lag %d, pending %d", s, g.Name, g.LastDeliveredID, g.Lag, g.Pending))
			}
		}
	}
	if !rec.caughtUp(ctx) {
		// More read than added means Redis lost entries after serving them (a restart that
		// lost the end of its AOF); fewer, that the recorder skipped some.
		for p := range chaosPartitions {
			info, err := tp.direct.XInfoStream(ctx, chaosLayout.Stream(p)).Result()
			rec.mu.Lock()
			read := rec.read[p]
			rec.mu.Unlock()
			if err == nil && read != info.EntriesAdded {
				out = append(out, fmt.Sprintf("the recorder read %d entries of %s, which has had %d (last id %s, length %d, max deleted id %s); %s",
					read, chaosLayout.Stream(p), info.EntriesAdded, info.LastGeneratedID, info.Length, info.MaxDeletedEntryID, rec.unread(ctx, p)))
			}
		}
	}
	return strings.Join(out, "; ")
}

// unread compares what the recorder read of partition p with what the stream holds now: the
// entries it never read, and those it read that the stream no longer has.
func (r *recorder) unread(ctx context.Context, p int) string {
	stream := chaosLayout.Stream(p)
	r.mu.Lock()
	defer r.mu.Unlock()
	var missed []string
	held := map[string]bool{}
	for from := "-"; ; {
		msgs, err := r.tp.direct.XRangeN(ctx, stream, from, "+", 1000).Result()
		if err != nil {
			return fmt.Sprintf("XRANGE: %v", err)
		}
		if len(msgs) == 0 {
			break
		}
		for _, m := range msgs {
			held[m.ID] = true
			if !r.ids[p][m.ID] {
				missed = append(missed, fmt.Sprintf("%s %v", m.ID, m.Values))
			}
		}
		from = "(" + msgs[len(msgs)-1].ID
	}
	var gone []string
	for id := range r.ids[p] {
		if !held[id] {
			gone = append(gone, id)
		}
	}
	slices.Sort(gone)
	return fmt.Sprintf("held but never read: %d %q; read but no longer held: %d %q",
		len(missed), missed[:min(len(missed), 5)], len(gone), gone[:min(len(gone), 5)])
}

// verdict checks what the clients were answered against what was stored, counted and indexed.
// It fails the test for any lost or doubled event, and returns the run's figures.
func verdict(t *testing.T, d *deployment, h *history) {
	t.Helper()
	rec := d.rec
	ctx := context.Background()
	start := time.Now()
	// Wait for quiescence: every group has acknowledged everything, with a generous bound:
	// the time it took is a figure, not an assertion.
	var settled bool
	var counted time.Duration
	deadline := time.Now().Add(scale().settle)
	for !settled && time.Now().Before(deadline) {
		if counted == 0 && quiet(ctx, d.tp, events.GroupCounter) {
			counted = time.Since(start)
		}
		settled = counted > 0 && quiet(ctx, d.tp, events.GroupCounter, events.GroupIndexer, indexer.FailuresGroup) && rec.caughtUp(ctx)
		if !settled {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if !settled {
		t.Fatalf("no quiescence %s after the workload: %s", scale().settle, behind(ctx, d.tp, rec))
	}
	last := time.Since(time.Unix(0, h.lastAnswer.Load())) - time.Since(start)
	t.Logf("counter group quiescent %s after the workload ended, every group %s (the last answer came %s before the check began)",
		counted.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), last.Round(time.Millisecond))

	h.mu.Lock()
	defer h.mu.Unlock()
	for _, v := range h.violations {
		t.Errorf("answer: %s", v)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()

	// Every answer against the streams.
	var lost, doubled, phantom, maybeStored int
	kept := map[[2]string][]events.Event{} // (type, subject) → the stored events, each once
	for marker, entries := range rec.entries {
		e := h.events[marker]
		switch {
		case e == nil:
			phantom++
			if phantom <= 5 {
				t.Errorf("stored entry %s holds an event nobody sent (marker %q)", entries[0].entryID, marker)
			}
			continue
		case len(entries) > 1:
			doubled++
			if doubled <= 5 {
				t.Errorf("event %s (id %q, outcome %d) stored %d times", marker, e.id, e.outcome, len(entries))
			}
		}
		switch e.outcome {
		case rejected:
			t.Errorf("event %s was answered rejected but is stored", marker)
		case maybe:
			maybeStored++
		case unanswered:
			t.Errorf("event %s has no final answer but is stored", marker)
		}
		ev := entries[0].ev
		kept[[2]string{ev.Type, ev.Subject}] = append(kept[[2]string{ev.Type, ev.Subject}], ev)
	}
	for marker, e := range h.events {
		if e.outcome == stored && len(rec.entries[marker]) == 0 {
			lost++
			if lost <= 5 && !d.mayLose {
				t.Errorf("event %s (id %q) was answered stored but is not in any stream", marker, e.id)
			}
		}
	}
	t.Logf("oracle: %d lost, %d doubled, %d phantom; %d events without id and without confirmation, %d of them stored; "+
		"%d lost events with ids re-sent by their client and accepted again",
		lost, doubled, phantom, countOutcome(h, maybe), maybeStored, h.reaccepted.Load())

	// Entries whose delivery reply was lost wait, pending, for their own consumer: it must pick
	// them up by itself within a second or two, not leave them to another consumer's reclaim
	// after PULSE_CLAIM_IDLE (30 s), which would keep a live count wrong meanwhile. Processes
	// that were killed and restarted have lost their counts, so only runs without kills say.
	if !d.restarted {
		for _, p := range d.all {
			if v := metric(t, p.url(), `pulse_consumer_reclaimed_total{group="counter"}`); v != "" && v != "0" {
				t.Errorf("%s reclaimed %s counter entries: some waited for PULSE_CLAIM_IDLE", p.name, v)
			}
		}
	}
	checkCounts(t, d.tp, kept)
	checkSearch(t, d, kept)
	if n, _ := d.tp.direct.XLen(ctx, events.FailedStream).Result(); n != 0 {
		t.Errorf("%d dead letters after transient faults, want none", n)
	}
}

func countOutcome(h *history, o outcome) int {
	n := 0
	for _, e := range h.events {
		if e.outcome == o {
			n++
		}
	}
	return n
}

// checkCounts compares windows, leaderboards and per-minute history with the stored events.
func checkCounts(t *testing.T, tp *topology, kept map[[2]string][]events.Event) {
	t.Helper()
	ctx := context.Background()
	ws, _ := events.ParseWindows(events.DefaultWindows)
	r := counter.NewReader(tp.direct, chaosLayout, ws)
	subjects := make([]string, chaosSubjects)
	for i := range subjects {
		subjects[i] = fmt.Sprintf("v%d", i)
	}
	for k := range kept { // and those of probes (TestFaultFailover)
		if !slices.Contains(subjects, k[1]) {
			subjects = append(subjects, k[1])
		}
	}
	times := func(typ, subject string) []int64 {
		var out []int64
		for _, ev := range kept[[2]string{typ, subject}] {
			out = append(out, ev.Time)
		}
		return out
	}
	for _, typ := range chaosTypes {
		at, counts, _, err := r.Windows(ctx, typ, subjects)
		if err != nil {
			t.Fatal(err)
		}
		wrong, counted := 0, 0
		for _, c := range counts {
			want := testenv.WindowCounts(at, times(typ, c.Subject), ws)
			if !slices.Equal(c.Counts, want) {
				if wrong++; wrong <= 5 {
					t.Errorf("%s %s at %d: counts %v, stored events give %v", typ, c.Subject, at, c.Counts, want)
				}
			}
			if want[len(want)-1] > 0 {
				counted++
			}
		}
		if counted == 0 {
			t.Errorf("%s: no subject counted: the check compared nothing", typ)
		}
		for w := range ws {
			at, top, err := r.Top(ctx, typ, w, len(subjects))
			if err != nil {
				t.Fatal(err)
			}
			var want []api.Entry
			for _, s := range subjects {
				if n := testenv.WindowCounts(at, times(typ, s), ws)[w]; n > 0 {
					want = append(want, api.Entry{Subject: s, Count: n})
				}
			}
			slices.SortFunc(want, func(a, b api.Entry) int {
				return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Subject, b.Subject))
			})
			if !slices.Equal(top, want) {
				t.Errorf("%s leaderboard %s at %d:\n got %v\nwant %v", typ, ws[w].Name, at, top, want)
			}
		}
		// History: per minute for the type, in total per subject.
		perMinute := map[int64]int64{}
		lo, hi := int64(1<<62), int64(0)
		for k, evs := range kept {
			if k[0] != typ {
				continue
			}
			for _, ev := range evs {
				perMinute[ev.Time/60_000]++
				lo, hi = min(lo, ev.Time), max(hi, ev.Time)
			}
		}
		rg, err := r.History(ctx, typ, "", lo-60_000, hi+60_000, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		for _, pt := range rg.Series {
			if want := perMinute[pt.T/60_000]; pt.Count != want {
				t.Errorf("%s history of minute %d: %d, stored events give %d", typ, pt.T, pt.Count, want)
			}
		}
		for _, s := range subjects {
			rg, err := r.History(ctx, typ, s, lo-60_000, hi+60_000, 0)
			if err != nil {
				t.Fatal(err)
			}
			if want := int64(len(times(typ, s))); rg.Count != want {
				t.Errorf("%s %s history: %d, stored events give %d", typ, s, rg.Count, want)
			}
		}
	}
}

// checkSearch compares search with the stored events: the total of every (type, subject)
// equals what is stored, and, for runs small enough to page through (deep pages are slow by
// design: MaxOffset), every stored event is found exactly once, and nothing else.
func checkSearch(t *testing.T, d *deployment, kept map[[2]string][]events.Event) {
	t.Helper()
	find := func(q url.Values) (hits []search.Doc, total int) {
		var res struct {
			Hits  []search.Doc `json:"hits"`
			Total int          `json:"total"`
		}
		resp, err := http.Get(d.indexer.url() + "/v1/search?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&res)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("search %v: %d %v", q, resp.StatusCode, err)
		}
		return res.Hits, res.Total
	}
	wrong := 0
	for k, evs := range kept {
		if _, total := find(url.Values{"type": {k[0]}, "subject": {k[1]}, "limit": {"0"}}); total != len(evs) && wrong < 5 {
			wrong++
			t.Errorf("search %s %s: total %d, %d events stored", k[0], k[1], total, len(evs))
		}
	}
	for _, typ := range chaosTypes {
		want := map[string]int{}
		for k, evs := range kept {
			if k[0] == typ {
				for _, ev := range evs {
					want[search.EventKey(ev.Type, ev.Subject, ev.ID)]++
				}
			}
		}
		if len(want) > 20_000 {
			continue
		}
		got := map[string]int{}
		for offset := 0; ; offset += 100 {
			hits, total := find(url.Values{"type": {typ}, "limit": {"100"}, "offset": {fmt.Sprint(offset)}, "sort": {"time:asc"}})
			for _, h := range hits {
				got[search.EventKey(h.Type, h.Subject, h.ID)]++
			}
			if len(hits) < 100 {
				if total != len(want) {
					t.Errorf("search %s: total %d, %d events stored", typ, total, len(want))
				}
				break
			}
		}
		missing, extra := 0, 0
		for k := range want {
			if got[k] != 1 {
				missing++
			}
		}
		for k := range got {
			if want[k] == 0 {
				extra++
			}
		}
		if missing > 0 || extra > 0 {
			t.Errorf("search %s: %d stored events not found once, %d hits of no stored event", typ, missing, extra)
		}
	}
}
