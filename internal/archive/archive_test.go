package archive

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/pulsehq/pulse/internal/events"
)

func TestKeyRoundTrip(t *testing.T) {
	h := time.Date(2026, 12, 4, 17, 0, 0, 0, time.UTC).Unix() / 3600
	span := Span{ID{1733300000000, 0}, ID{1733300000123, 5}}
	key := Key(h, 3, span)
	if want := "events/year=2026/month=12/day=04/hour=17/3-1733300000000-0-1733300000123-5.parquet"; key != want {
		t.Fatalf("key %q, want %q", key, want)
	}
	f, err := ParseKey(key)
	if err != nil || f.Partition != 3 || f.Span != span || f.Hour != h || f.Compacted {
		t.Fatalf("ParseKey = %+v, %v", f, err)
	}
	if f, err := ParseKey(CompactedKey(h, 3, span)); err != nil || !f.Compacted || f.Span != span {
		t.Fatalf("ParseKey(compacted) = %+v, %v", f, err)
	}
	if got, ok := HourOfKey(key); !ok || got != h {
		t.Fatalf("HourOfKey = %d %v, want %d", got, ok, h)
	}
	for _, bad := range []string{"events/x.parquet", "events/1-2-3.parquet", "a-1-2-3-4.txt", "events/1-2-3-4-5.parquet", HourPrefix(h) + "x-1-2-3-4.parquet"} {
		if _, err := ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) took a bad name", bad)
		}
	}
}

func TestLive(t *testing.T) {
	h := int64(500_000)
	file := func(p int, first, last uint64, compacted bool) File {
		s := Span{ID{first, 0}, ID{last, 0}}
		key := Key(h, p, s)
		if compacted {
			key = CompactedKey(h, p, s)
		}
		f, err := ParseKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	a, b, c := file(0, 1, 10, false), file(0, 11, 20, false), file(0, 21, 30, false)
	m := file(0, 1, 20, true)      // merged a and b; removing them was interrupted
	other := file(1, 5, 15, false) // another partition: never superseded by m
	m2 := file(0, 1, 30, true)     // a later compaction of m and c
	live, sup := Live([]File{a, b, c, m, other})
	if !reflect.DeepEqual(live, []File{c, m, other}) || !reflect.DeepEqual(sup, []File{a, b}) {
		t.Errorf("Live = %v / %v", live, sup)
	}
	live, sup = Live([]File{a, m, c, m2})
	if !reflect.DeepEqual(live, []File{m2}) || len(sup) != 3 {
		t.Errorf("Live after a second compaction = %v / %v", live, sup)
	}
}

func TestSpanContains(t *testing.T) {
	s := Span{ID{10, 2}, ID{12, 0}}
	for _, c := range []struct {
		id   ID
		want bool
	}{{ID{10, 1}, false}, {ID{10, 2}, true}, {ID{11, 99}, true}, {ID{12, 0}, true}, {ID{12, 1}, false}} {
		if got := s.Contains(c.id); got != c.want {
			t.Errorf("Contains(%v) = %v, want %v", c.id, got, c.want)
		}
	}
}

// TestStoreAndEngine writes files through the store and reads them back with parquet-go and
// with DuckDB.
func TestStoreAndEngine(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := Open(ctx, "file://"+dir, "")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	base := time.Date(2026, 12, 4, 17, 0, 0, 0, time.UTC).UnixMilli()
	var rows []Row
	for i := range 120 {
		e := events.Event{ID: "e" + string(rune('a'+i%26)) + time.Duration(i).String(), Type: "like", Subject: "video-1",
			Time: base + int64(i)*60_000, Received: base + int64(i)*60_000 + 5, Data: []byte(`{"n":1}`)}
		if i%3 == 0 {
			e.Subject, e.Data, e.Source = "video-2", nil, "app"
		}
		rows = append(rows, RowOf(e))
	}
	h := HourOf(base)
	for i, part := range [][]Row{rows[:60], rows[60:]} {
		key := Key(h+int64(i), 0, Span{ID{1, 0}, ID{2, 0}})
		if err := st.Put(ctx, key, func(w io.Writer) error { return WriteRows(w, part) }); err != nil {
			t.Fatal(err)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, staging, "*")); len(left) != 0 {
		t.Fatalf("staging files left: %v", left)
	}
	objs, err := st.List(ctx, Root)
	if err != nil || len(objs) != 2 {
		t.Fatalf("list = %v, %v", objs, err)
	}
	f, err := os.Open(filepath.Join(dir, objs[0].Key))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	back, err := ReadRows(f, objs[0].Size)
	if err != nil || len(back) != 60 || !reflect.DeepEqual(back, rows[:60]) {
		t.Fatalf("read back %d rows (%v): %+v vs %+v", len(back), err, back[:1], rows[:1])
	}

	eng, err := NewEngine(st)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	v2 := "video-2"
	for _, c := range []struct {
		name string
		f    Filter
		step time.Duration
		want map[int64]int64
	}{
		{"all", Filter{From: base, To: base + 2*3_600_000}, 0, map[int64]int64{0: 120}},
		{"type", Filter{Types: []string{"like"}, From: base, To: base + 2*3_600_000}, time.Hour, map[int64]int64{0: 60, 1: 60}},
		{"subject", Filter{Types: []string{"like"}, Subject: &v2, From: base, To: base + 2*3_600_000}, time.Hour, map[int64]int64{0: 20, 1: 20}},
		{"part", Filter{From: base + 30*60_000, To: base + 90*60_000}, 30 * time.Minute, map[int64]int64{0: 30, 1: 30}},
		{"other type", Filter{Types: []string{"view"}, From: base, To: base + 2*3_600_000}, 0, map[int64]int64{}},
		{"outside", Filter{From: base - 3_600_000, To: base}, 0, map[int64]int64{}},
	} {
		got, err := eng.Counts(ctx, c.f, c.step)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if len(got) != len(c.want) {
			t.Errorf("%s: counts %v, want %v", c.name, got, c.want)
		}
		for k, n := range c.want {
			if got[k] != n {
				t.Errorf("%s: counts %v, want %v", c.name, got, c.want)
			}
		}
	}
	var n int
	err = eng.Rows(ctx, Filter{From: base, To: base + 2*3_600_000}, func(r Row) error {
		if !reflect.DeepEqual(r, rows[n]) {
			t.Errorf("row %d: %+v, want %+v", n, r, rows[n])
		}
		n++
		return nil
	})
	if err != nil || n != 120 {
		t.Fatalf("rows: %d, %v", n, err)
	}
	// A file removed after it was listed (compaction): the engine must know DuckDB's words for it.
	_, err = eng.db.QueryContext(ctx, "SELECT count(*) FROM "+source([]string{filepath.Join(dir, "gone.parquet")}))
	if err == nil || !fileGone(err) {
		t.Errorf("a missing file is not recognised: %v", err)
	}
	var minutes int64
	if err := eng.Minutes(ctx, Filter{From: base, To: base + 2*3_600_000}, func(m MinuteCount) error { minutes += m.Count; return nil }); err != nil || minutes != 120 {
		t.Fatalf("minutes: %d, %v", minutes, err)
	}
}

// TestQueryAfterCompaction: files listed for a query are compacted away before DuckDB opens
// them; the query runs again over a new listing and counts every row once.
func TestQueryAfterCompaction(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	base := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC).UnixMilli()
	h := HourOf(base)
	rows := make([]Row, 10)
	for i := range rows {
		rows[i] = RowOf(events.Event{ID: "q" + time.Duration(i).String(), Type: "like", Subject: "v", Time: base + int64(i), Received: base})
	}
	a, b := Key(h, 0, Span{ID{1, 0}, ID{5, 0}}), Key(h, 0, Span{ID{6, 0}, ID{9, 0}})
	for key, part := range map[string][]Row{a: rows[:4], b: rows[4:]} {
		if err := st.Put(ctx, key, func(w io.Writer) error { return WriteRows(w, part) }); err != nil {
			t.Fatal(err)
		}
	}
	eng, err := NewEngine(st)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	runs := 0
	var total int64
	f := Filter{From: base, To: base + 3_600_000}
	err = eng.run(ctx, f, func(src string) (string, []any) {
		if runs++; runs == 1 { // the archiver compacts between the listing and the query
			if err := st.Put(ctx, CompactedKey(h, 0, Span{ID{1, 0}, ID{9, 0}}), func(w io.Writer) error { return WriteRows(w, rows) }); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{a, b} {
				if err := st.Delete(ctx, k); err != nil {
					t.Fatal(err)
				}
			}
		}
		total = 0
		return `SELECT count(*) FROM ` + src, nil
	}, func(r *sql.Rows) error { return r.Scan(&total) })
	if err != nil || runs != 2 || total != 10 {
		t.Fatalf("runs %d, total %d, err %v: want 2 runs and 10 rows", runs, total, err)
	}
}

// TestListWhileFilesGo: files removed while the store lists them (a compaction deleting the
// files it merged) do not fail the listing; it waits the deletes out.
func TestListWhileFilesGo(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := Open(ctx, dir, "")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const n = 3000
	hour := filepath.Join(dir, "events", "year=2026", "month=12", "day=04", "hour=10")
	if err := os.MkdirAll(hour, 0o755); err != nil {
		t.Fatal(err)
	}
	names := make([]string, n)
	for i := range names {
		names[i] = filepath.Join(hour, fmt.Sprintf("%d.parquet", i))
		if err := os.WriteFile(names[i], nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, name := range names[1:] {
			_ = os.Remove(name)
		}
	}()
	for lists := 1; ; lists++ {
		objs, err := st.List(ctx, "events/")
		if err != nil {
			t.Fatalf("listing %d: %v", lists, err)
		}
		select {
		case <-done:
			if objs, err = st.List(ctx, "events/"); err != nil || len(objs) != 1 {
				t.Fatalf("after the deletes: %d files, %v; want the one left", len(objs), err)
			}
			t.Logf("%d listings while %d files were removed", lists, n-1)
			return
		default:
		}
	}
}
