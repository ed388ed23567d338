package archive

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // the "duckdb" database/sql driver
)

// Engine answers questions over the archive with DuckDB, an embedded analytical engine that
// reads Parquet natively: it prunes by the hour folders first (only the files of the hours a
// range touches are read), then by row-group statistics.
type Engine struct {
	store *Store
	db    *sql.DB
}

// NewEngine returns an engine over store, with an in-memory DuckDB.
func NewEngine(store *Store) (*Engine, error) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, fmt.Errorf("duckdb: %w", err)
	}
	return &Engine{store: store, db: db}, nil
}

// Close releases DuckDB.
func (e *Engine) Close() error { return e.db.Close() }

// Store is the engine's store.
func (e *Engine) Store() *Store { return e.store }

// Files returns the local paths of the files holding events with time in [from, to) (unix ms).
func (e *Engine) Files(ctx context.Context, from, to int64) ([]string, error) {
	if to <= from {
		return nil, nil
	}
	first, last := HourOf(from), HourOf(to-1)
	// One listing per day, or per year for long ranges: few requests on a bucket, and no
	// listing of the days a range does not touch.
	var prefixes []string
	if last-first > 62*24 {
		for y := time.Unix(first*3600, 0).UTC().Year(); y <= time.Unix(last*3600, 0).UTC().Year(); y++ {
			prefixes = append(prefixes, fmt.Sprintf("%syear=%04d/", Root, y))
		}
	} else {
		for d := first - mod(first, 24); d <= last; d += 24 {
			prefixes = append(prefixes, dayPrefix(d))
		}
	}
	var files []File
	for _, p := range prefixes {
		fs, err := e.store.Files(ctx, p)
		if err != nil {
			return nil, err
		}
		files = append(files, fs...)
	}
	live, _ := Live(files)
	var keys []string
	for _, f := range live {
		if f.Hour >= first && f.Hour <= last {
			keys = append(keys, f.Key)
		}
	}
	return e.store.Local(ctx, keys)
}

// SQL runs query with a view "events" over every file of the archive (Hive columns year,
// month, day and hour included), for operators' own questions (pulse archive sql). A bucket's
// files are fetched to the local cache first. Close the rows before the next call.
func (e *Engine) SQL(ctx context.Context, query string) (*sql.Rows, error) {
	for attempt := 1; ; attempt++ {
		rows, err := e.sql(ctx, query)
		if err == nil || attempt == maxAttempts || !fileGone(err) {
			return rows, err
		}
		if err := pause(ctx, attempt); err != nil {
			return nil, err
		}
	}
}

func (e *Engine) sql(ctx context.Context, query string) (*sql.Rows, error) {
	files, err := e.store.Files(ctx, Root)
	if err != nil {
		return nil, err
	}
	live, _ := Live(files)
	if len(live) == 0 {
		return nil, errors.New("the archive holds no files yet")
	}
	keys := make([]string, len(live))
	for i, f := range live {
		keys[i] = f.Key
	}
	paths, err := e.store.Local(ctx, keys)
	if err != nil {
		return nil, err
	}
	src := strings.Replace(source(paths), "])", "], hive_partitioning = true)", 1)
	// Not a temporary view: the database's connections share it, whichever runs the query.
	if _, err := e.db.ExecContext(ctx, "CREATE OR REPLACE VIEW events AS SELECT * FROM "+src); err != nil {
		return nil, fmt.Errorf("archive view: %w", err)
	}
	rows, err := e.db.QueryContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("archive sql: %w", err)
	}
	return rows, nil
}

// HourOfKey reads the unix hour of a file's folder.
func HourOfKey(key string) (int64, bool) {
	var y, mo, d, h int
	if _, err := fmt.Sscanf(key, Root+"year=%04d/month=%02d/day=%02d/hour=%02d/", &y, &mo, &d, &h); err != nil {
		return 0, false
	}
	return time.Date(y, time.Month(mo), d, h, 0, 0, 0, time.UTC).Unix() / 3600, true
}

func mod(a, b int64) int64 { return (a%b + b) % b }

// Filter selects events: of one type (or any when Type is ""), of one subject (or any when
// Subject is nil), with time in [From, To) unix ms.
type Filter struct {
	Types    []string
	Subject  *string
	From, To int64
}

// where builds the filter's SQL condition and arguments.
func (f Filter) where() (string, []any) {
	conds := []string{`epoch_ms("time") >= ?`, `epoch_ms("time") < ?`}
	args := []any{f.From, f.To}
	if len(f.Types) > 0 {
		conds = append(conds, "type IN (?"+strings.Repeat(", ?", len(f.Types)-1)+")")
		for _, t := range f.Types {
			args = append(args, t)
		}
	}
	if f.Subject != nil {
		conds = append(conds, "subject = ?")
		args = append(args, *f.Subject)
	}
	return strings.Join(conds, " AND "), args
}

// source is the read_parquet call over paths.
func source(paths []string) string {
	var b strings.Builder
	b.WriteString("read_parquet([")
	for i, p := range paths {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("'" + strings.ReplaceAll(p, "'", "''") + "'")
	}
	b.WriteString("])")
	return b.String()
}

// Counts counts f's events per step: the map's key is the index of the step from f.From
// ((time − From) / step). step ≤ 0 counts the whole range under key 0.
func (e *Engine) Counts(ctx context.Context, f Filter, step time.Duration) (map[int64]int64, error) {
	stepMs := max(step.Milliseconds(), f.To-f.From)
	if step > 0 {
		stepMs = step.Milliseconds()
	}
	where, args := f.where()
	out := map[int64]int64{}
	err := e.run(ctx, f, func(src string) (string, []any) {
		clear(out) // a run that lost a file to compaction returned no row, but to be sure
		return `SELECT (epoch_ms("time") - ?) // ? AS b, count(*) FROM ` + src + ` WHERE ` + where + ` GROUP BY b`,
			append([]any{f.From, stepMs}, args...)
	}, func(rows *sql.Rows) error {
		var b, n int64
		if err := rows.Scan(&b, &n); err != nil {
			return err
		}
		out[b] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("archive counts: %w", err)
	}
	return out, nil
}

// run runs the query that build makes over the files holding f's range, calling scan for each
// row. Compaction removes files once the compacted file holding their rows is in place: one
// listed here may be gone when DuckDB opens it. The query then runs again over a new listing,
// provided it has not returned a row yet (an aggregate or a sort returns none before it has
// read every file).
func (e *Engine) run(ctx context.Context, f Filter, build func(src string) (string, []any), scan func(*sql.Rows) error) error {
	for attempt := 1; ; attempt++ {
		paths, err := e.Files(ctx, f.From, f.To)
		if err != nil {
			return err
		}
		if len(paths) == 0 {
			return nil
		}
		q, args := build(source(paths))
		n, err := e.query(ctx, q, args, scan)
		if err == nil || n > 0 || attempt == maxAttempts || !fileGone(err) {
			return err
		}
		if err := pause(ctx, attempt); err != nil {
			return err
		}
	}
}

// pause waits a little longer after each attempt, for a compaction pass to end.
func pause(ctx context.Context, attempt int) error {
	t := time.NewTimer(time.Duration(attempt) * 200 * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// maxAttempts bounds the runs of one query that lost a file to compaction.
const maxAttempts = 5

func (e *Engine) query(ctx context.Context, q string, args []any, scan func(*sql.Rows) error) (n int, err error) {
	rows, err := e.db.QueryContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}

// fileGone reports whether DuckDB failed for a file that was removed after it was listed.
func fileGone(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "No files found") || strings.Contains(msg, "No such file or directory")
}

// MinuteCount is the number of events of (Type, Subject) in one minute.
type MinuteCount struct {
	Type, Subject string
	Minute        int64 // unix minute
	Count         int64
}

// Minutes calls fn for every (type, subject, minute) of f's events, in no order.
func (e *Engine) Minutes(ctx context.Context, f Filter, fn func(MinuteCount) error) error {
	where, args := f.where()
	err := e.run(ctx, f, func(src string) (string, []any) {
		return `SELECT type, subject, epoch_ms("time") // 60000 AS m, count(*) FROM ` + src + ` WHERE ` + where + ` GROUP BY ALL`, args
	}, func(rows *sql.Rows) error {
		var m MinuteCount
		if err := rows.Scan(&m.Type, &m.Subject, &m.Minute, &m.Count); err != nil {
			return err
		}
		return fn(m)
	})
	if err != nil {
		return fmt.Errorf("archive minutes: %w", err)
	}
	return nil
}

// Count is the number of f's events.
func (e *Engine) Count(ctx context.Context, f Filter) (int64, error) {
	c, err := e.Counts(ctx, f, 0)
	return c[0], err
}

// Rows calls fn for every one of f's events, in time order.
func (e *Engine) Rows(ctx context.Context, f Filter, fn func(Row) error) error {
	where, args := f.where()
	err := e.run(ctx, f, func(src string) (string, []any) {
		return `SELECT id, type, subject, epoch_ms("time"), epoch_ms(received), source, CAST(data AS VARCHAR) FROM ` +
			src + ` WHERE ` + where + ` ORDER BY "time", id`, args
	}, func(rows *sql.Rows) error {
		var r Row
		var t, recv int64
		if err := rows.Scan(&r.ID, &r.Type, &r.Subject, &t, &recv, &r.Source, &r.Data); err != nil {
			return err
		}
		r.Time, r.Received = time.UnixMilli(t).UTC(), time.UnixMilli(recv).UTC()
		return fn(r)
	})
	if err != nil {
		return fmt.Errorf("archive rows: %w", err)
	}
	return nil
}
