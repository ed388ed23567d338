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
	"strconv"
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
// the trimmer cut entries every group had acknowledged. A Redis that comes back from a crash
// without its last writes (everysec, or a failover without WAIT) has lost entries the recorder
// read; reconcile takes them out of the record.
type recorder struct {
	tp      *topology
	mu      sync.Mutex
	entries map[string][]storedEvent // by marker
	ids     []map[string]string      // per partition: entry id → marker ("" for a replay)
	cursor  []string                 // per partition: the last id follow read
	lost    []storedEvent            // read, then lost by Redis
	below   []string                 // entries reconcile found under the cursor, described
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
	r := &recorder{tp: tp, entries: map[string][]storedEvent{}, stop: stop}
	for range chaosPartitions {
		r.ids = append(r.ids, map[string]string{})
		r.cursor = append(r.cursor, "")
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
		r.mu.Lock()
		last = r.add(p, res[0].Messages)
		r.cursor[p] = last
		r.mu.Unlock()
	}
}

// add records messages of partition p (once each: reconcile may have read them already) and
// returns the last one's ID. The caller holds r.mu.
func (r *recorder) add(p int, msgs []redis.XMessage) (last string) {
	for _, m := range msgs {
		last = m.ID
		if _, ok := r.ids[p][m.ID]; ok {
			continue
		}
		if r.cursor[p] != "" && !streamIDAbove(m.ID, r.cursor[p]) {
			// Only reconcile's scan finds these (follow reads above its cursor): an entry that
			// appeared under ids already served, which consumer groups skip as well.
			r.below = append(r.below, fmt.Sprintf("%s of partition %d (cursor %s): %v", m.ID, p, r.cursor[p], m.Values))
		}
		if _, ok := m.Values[failures.FieldReplayOf]; ok {
			r.ids[p][m.ID] = ""
			r.replays++ // a dead letter put back: the same stored event, delivered again
			continue
		}
		ev, marker := parseEntry(m)
		r.ids[p][m.ID] = marker
		r.entries[marker] = append(r.entries[marker], storedEvent{m.ID, ev})
	}
	return last
}

// parseEntry returns the event a stream entry holds and its marker.
func parseEntry(m redis.XMessage) (events.Event, string) {
	ev, err := events.FromValues(m.Values)
	var data struct{ M string }
	if err == nil {
		_ = json.Unmarshal(ev.Data, &data)
	}
	return ev, data.M
}

// snapshot records the streams as they are now, in one pass: the record of a deployment whose
// streams nothing has trimmed (deployOptions.indexerLater) and nothing writes any more.
func snapshot(t *testing.T, tp *topology) *recorder {
	t.Helper()
	r := newRecorder(tp, func() {})
	ctx := context.Background()
	for p := range chaosPartitions {
		if _, err := r.scan(ctx, p); err != nil {
			t.Fatalf("snapshot of partition %d: %v", p, err)
		}
	}
	return r
}

// scan reads partition p's stream as it is now into the record and returns the ids it holds.
// The caller holds r.mu, or owns r.
func (r *recorder) scan(ctx context.Context, p int) (map[string]bool, error) {
	held := map[string]bool{}
	for from := "-"; ; {
		msgs, err := r.tp.direct.XRangeN(ctx, chaosLayout.Stream(p), from, "+", 1000).Result()
		if err != nil {
			return nil, err
		}
		if len(msgs) == 0 {
			return held, nil
		}
		for _, m := range msgs {
			held[m.ID] = true
			// The same id holding another event: Redis lost the entry read under this id and
			// gave the id to a new one.
			if marker, ok := r.ids[p][m.ID]; ok && marker != "" {
				if _, now := parseEntry(m); now != marker {
					r.drop(p, m.ID)
				}
			}
		}
		from = "(" + r.add(p, msgs)
	}
}

// reconcile reports whether the record holds every entry ever added to the streams, and
// nothing else. Where the count is off, it compares the record with the stream: an entry the
// stream holds under the recorder's cursor is read in (a restart that lost the stream's last
// entries lets new ones take ids below those the recorder had read); an entry recorded that
// the stream no longer holds, and that no trim removed (its id is above the stream's max
// deleted id), was lost by Redis, and moves from the record to r.lost.
// Unless full, a partition whose count is right is taken as it is.
func (r *recorder) reconcile(ctx context.Context, full bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	ok := true
	for p := range chaosPartitions {
		info, err := r.tp.direct.XInfoStream(ctx, chaosLayout.Stream(p)).Result()
		if redis.HasErrorPrefix(err, "no such key") {
			// Never created, or lost whole: a stream with nothing added.
			info, err = &redis.XInfoStream{MaxDeletedEntryID: "0-0"}, nil
		}
		if err != nil {
			return false
		}
		if !full && int64(len(r.ids[p])) == info.EntriesAdded {
			continue
		}
		held, err := r.scan(ctx, p)
		if err != nil {
			return false
		}
		for id := range r.ids[p] {
			if held[id] || !streamIDAbove(id, info.MaxDeletedEntryID) {
				continue
			}
			r.drop(p, id)
		}
		ok = ok && int64(len(r.ids[p])) == info.EntriesAdded
	}
	return ok
}

// drop moves the entry id of partition p from the record to r.lost. The caller holds r.mu.
func (r *recorder) drop(p int, id string) {
	marker := r.ids[p][id]
	delete(r.ids[p], id)
	if i := slices.IndexFunc(r.entries[marker], func(e storedEvent) bool { return e.entryID == id }); i >= 0 {
		r.lost = append(r.lost, r.entries[marker][i])
		r.entries[marker] = slices.Delete(r.entries[marker], i, i+1)
		if len(r.entries[marker]) == 0 {
			delete(r.entries, marker)
		}
	}
}

// streamIDAbove reports whether stream entry id a is above b ("<ms>-<seq>" each).
func streamIDAbove(a, b string) bool {
	parse := func(id string) (ms, seq uint64) {
		m, s, _ := strings.Cut(id, "-")
		ms, _ = strconv.ParseUint(m, 10, 64)
		seq, _ = strconv.ParseUint(s, 10, 64)
		return ms, seq
	}
	am, as := parse(a)
	bm, bs := parse(b)
	return am > bm || am == bm && as > bs
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

// behind says which groups have not caught up, and where the record and the streams
// disagree, for a failure message. It only reports: the caller has reconciled.
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
	// What the last reconcile could not explain: ids the stream counts as added that neither
	// it nor a trim accounts for, or a record that read more than was ever added.
	rec.mu.Lock()
	for p := range chaosPartitions {
		info, err := tp.direct.XInfoStream(ctx, chaosLayout.Stream(p)).Result()
		if err == nil && int64(len(rec.ids[p])) != info.EntriesAdded {
			out = append(out, fmt.Sprintf("the recorder holds %d entries of %s, which has had %d (last id %s, length %d, max deleted id %s)",
				len(rec.ids[p]), chaosLayout.Stream(p), info.EntriesAdded, info.LastGeneratedID, info.Length, info.MaxDeletedEntryID))
		}
	}
	rec.mu.Unlock()
	return strings.Join(out, "; ")
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
		settled = counted > 0 && quiet(ctx, d.tp, events.GroupCounter, events.GroupIndexer, indexer.FailuresGroup) && rec.reconcile(ctx, false)
		if !settled {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if !settled {
		t.Fatalf("no quiescence %s after the workload: %s", scale().settle, behind(ctx, d.tp, rec))
	}
	// Counts that agree can still hide an entry lost and another found under the cursor.
	if !rec.reconcile(ctx, true) {
		t.Fatalf("the record does not match the streams: %s", behind(ctx, d.tp, rec))
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
		"%d lost events with ids re-sent by their client and accepted again; %d entries read, then lost by Redis; %d found under the recorder's cursor",
		lost, doubled, phantom, countOutcome(h, maybe), maybeStored, h.reaccepted.Load(), len(rec.lost), len(rec.below))
	for _, b := range rec.below[:min(len(rec.below), 5)] {
		t.Logf("found under the recorder's cursor: %s", b)
	}

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
	checkSearch(t, d, kept, rec.lost)
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
// design: MaxOffset), every stored event is found exactly once, and nothing else but events
// the streams lost (gone): the index lives outside Redis and may keep them (docs/reliability.md).
func checkSearch(t *testing.T, d *deployment, kept map[[2]string][]events.Event, gone []storedEvent) {
	t.Helper()
	stored := map[string]bool{}
	for _, evs := range kept {
		for _, ev := range evs {
			stored[search.EventKey(ev.Type, ev.Subject, ev.ID)] = true
		}
	}
	mayKeep := map[string]bool{}     // search keys of lost events that nothing stored again
	mayKeepBy := map[[2]string]int{} // how many of them per (type, subject)
	for _, g := range gone {
		if k := search.EventKey(g.ev.Type, g.ev.Subject, g.ev.ID); !stored[k] && !mayKeep[k] {
			mayKeep[k] = true
			mayKeepBy[[2]string{g.ev.Type, g.ev.Subject}]++
		}
	}
	// within: a total is right if it counts every stored event, and perhaps lost ones.
	within := func(total, stored, lost int) bool { return total >= stored && total <= stored+lost }
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
		if _, total := find(url.Values{"type": {k[0]}, "subject": {k[1]}, "limit": {"0"}}); !within(total, len(evs), mayKeepBy[k]) && wrong < 5 {
			wrong++
			t.Errorf("search %s %s: total %d, %d events stored", k[0], k[1], total, len(evs))
		}
	}
	for _, typ := range chaosTypes {
		want := map[string]int{}
		lost := 0
		for k, evs := range kept {
			if k[0] == typ {
				for _, ev := range evs {
					want[search.EventKey(ev.Type, ev.Subject, ev.ID)]++
				}
			}
		}
		for k, n := range mayKeepBy {
			if k[0] == typ {
				lost += n
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
				if !within(total, len(want), lost) {
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
		for k, n := range got {
			if want[k] == 0 && (!mayKeep[k] || n > 1) {
				extra++
			}
		}
		if missing > 0 || extra > 0 {
			t.Errorf("search %s: %d stored events not found once, %d hits of no stored event", typ, missing, extra)
		}
	}
}
