package main

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/pulsehq/pulse/internal/archive"
	"github.com/pulsehq/pulse/internal/events"
)

// archiveRun is the archive query benchmark: one month of events laid out as the archiver
// writes them, counted by DuckDB.
type archiveRun struct {
	events  int
	layouts []archiveLayout
}

// archiveLayout is one way the month's files can lie, and the answer times over it.
type archiveLayout struct {
	name     string
	files    int
	bytes    int64
	countAPI time.Duration // /v1/counts?type=…&step=1d over the month: Engine.Counts, listing included
	byTypeDy time.Duration // every type by day, in one SQL query over the same files
}

// archiveTypes are the benchmark's event types.
var archiveTypes = []string{"like", "view", "share", "comment"}

// measureArchive writes n events spread over November 2026 in three layouts (one file per
// partition and 5 minutes: what the archiver's default roll writes at this rate, before
// compaction; one per partition and hour: the archive once compacted; and a single file, the
// ceiling) and times the count queries over each.
func measureArchive(ctx context.Context, dir string, n int) (*archiveRun, error) {
	month := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	hours := 30 * 24
	run := &archiveRun{events: n}
	rng := rand.New(rand.NewPCG(1, 2))
	roll5m := filepath.Join(dir, "archive-5m")
	hourly := filepath.Join(dir, "archive-1h")
	files5m, filesH := 0, 0
	for h := range hours {
		start := month.Add(time.Duration(h) * time.Hour).UnixMilli()
		per := n / hours
		slots := map[[2]int][]archive.Row{} // (partition, 5-minute slot)
		byPart := map[int][]archive.Row{}
		for i := range per {
			typ := archiveTypes[rng.IntN(len(archiveTypes))]
			subj := "video-" + strconv.Itoa(rng.IntN(10_000))
			t := start + rng.Int64N(3_600_000)
			r := archive.RowOf(events.Event{ID: fmt.Sprintf("b%d-%d", h, i), Type: typ, Subject: subj, Time: t, Received: t + 20})
			p := events.Partition(typ, subj, events.DefaultPartitions)
			slot := int((t - start) / 300_000)
			slots[[2]int{p, slot}] = append(slots[[2]int{p, slot}], r)
			byPart[p] = append(byPart[p], r)
		}
		hour := archive.HourOf(start)
		for k, rows := range slots {
			span := archive.Span{First: archive.ID{Ms: uint64(start + int64(k[1])*300_000)}, Last: archive.ID{Ms: uint64(start + int64(k[1]+1)*300_000 - 1)}}
			if err := writeFile(filepath.Join(roll5m, archive.Key(hour, k[0], span)), rows); err != nil {
				return nil, err
			}
			files5m++
		}
		for p, rows := range byPart {
			span := archive.Span{First: archive.ID{Ms: uint64(start)}, Last: archive.ID{Ms: uint64(start + 3_599_999)}}
			if err := writeFile(filepath.Join(hourly, archive.Key(hour, p, span)), rows); err != nil {
				return nil, err
			}
			filesH++
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	// The ceiling: the same rows in one file (DuckDB copies them over, sorted by time).
	single := filepath.Join(dir, "archive-1", "events", "year=2026", "month=11", "day=01", "hour=00", "0-0-0-1-0.parquet")
	if err := os.MkdirAll(filepath.Dir(single), 0o755); err != nil {
		return nil, err
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, fmt.Sprintf(`COPY (SELECT * FROM read_parquet('%s/events/*/*/*/*/*.parquet') ORDER BY "time") TO '%s' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 1000000)`, hourly, single)); err != nil {
		return nil, fmt.Errorf("single file: %w", err)
	}
	for _, l := range []struct {
		name, dir string
		files     int
	}{
		{"one file per partition and 5 minutes (the default roll at 3.9 events/s, not compacted)", roll5m, files5m},
		{"one file per partition and hour (the same, compacted: the default once an hour has ended)", hourly, filesH},
		{"one file (ceiling)", filepath.Join(dir, "archive-1"), 1},
	} {
		lay, err := timeLayout(ctx, l.dir, month)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", l.name, err)
		}
		lay.name, lay.files = l.name, l.files
		run.layouts = append(run.layouts, lay)
	}
	return run, nil
}

func writeFile(path string, rows []archive.Row) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := archive.WriteRows(f, rows); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// timeLayout times, over the archive in dir, the count of one type by day (the /v1/counts
// path) and of every type by day, each the better of two runs (the first warms the page cache).
func timeLayout(ctx context.Context, dir string, month time.Time) (archiveLayout, error) {
	var lay archiveLayout
	st, err := archive.Open(ctx, dir, "")
	if err != nil {
		return lay, err
	}
	defer st.Close()
	objs, err := st.List(ctx, archive.Root)
	if err != nil {
		return lay, err
	}
	for _, o := range objs {
		lay.bytes += o.Size
	}
	eng, err := archive.NewEngine(st)
	if err != nil {
		return lay, err
	}
	defer eng.Close()
	f := archive.Filter{Types: []string{"like"}, From: month.UnixMilli(), To: month.AddDate(0, 1, 0).UnixMilli()}
	best := func(do func() error) (time.Duration, error) {
		var min time.Duration
		for i := range 2 {
			start := time.Now()
			if err := do(); err != nil {
				return 0, err
			}
			if d := time.Since(start); i == 0 || d < min {
				min = d
			}
		}
		return min, nil
	}
	if lay.countAPI, err = best(func() error { _, err := eng.Counts(ctx, f, 24*time.Hour); return err }); err != nil {
		return lay, err
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return lay, err
	}
	defer db.Close()
	q := fmt.Sprintf(`SELECT type, epoch_ms("time") // 86400000 AS day, count(*) FROM read_parquet('%s/events/*/*/*/*/*.parquet') GROUP BY ALL`, dir)
	lay.byTypeDy, err = best(func() error {
		rows, err := db.QueryContext(ctx, q)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
		}
		return rows.Err()
	})
	return lay, err
}
