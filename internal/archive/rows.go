package archive

import (
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/pulsehq/pulse/internal/events"
)

// Row is one archived event: the columns of every file.
type Row struct {
	ID       string    `parquet:"id"`
	Type     string    `parquet:"type,dict"`
	Subject  string    `parquet:"subject"`
	Time     time.Time `parquet:"time,timestamp(millisecond)"`
	Received time.Time `parquet:"received,timestamp(millisecond)"`
	Source   *string   `parquet:"source,optional,dict"` // nil: absent (null)
	Data     *string   `parquet:"data,optional,json"`   // the event's data object as JSON text; nil: absent
}

// RowOf is e's row.
func RowOf(e events.Event) Row {
	r := Row{
		ID: e.ID, Type: e.Type, Subject: e.Subject,
		Time: time.UnixMilli(e.Time).UTC(), Received: time.UnixMilli(e.Received).UTC(),
	}
	if e.Source != "" {
		r.Source = &e.Source
	}
	if len(e.Data) > 0 {
		d := string(e.Data)
		r.Data = &d
	}
	return r
}

// Event is the row as an event.
func (r Row) Event() events.Event {
	e := events.Event{
		ID: r.ID, Type: r.Type, Subject: r.Subject,
		Time: r.Time.UnixMilli(), Received: r.Received.UnixMilli(),
	}
	if r.Source != nil {
		e.Source = *r.Source
	}
	if r.Data != nil {
		e.Data = []byte(*r.Data)
	}
	return e
}

// Size estimates the bytes a row holds in memory, to roll files by size.
func (r Row) Size() int {
	n := 80 + len(r.ID) + len(r.Type) + len(r.Subject)
	if r.Source != nil {
		n += len(*r.Source)
	}
	if r.Data != nil {
		n += len(*r.Data)
	}
	return n
}

// rowGroupRows bounds a row group. Engines scan, prune and parallelize by row group: large
// ones (a roll's file is usually one) compress and scan best.
const rowGroupRows = 1 << 20

// WriteRows writes rows as one Parquet file, zstd-compressed, sorted by time so that a row
// group's time statistics prune range scans.
func WriteRows(w io.Writer, rows []Row) error {
	rows = slices.Clone(rows)
	slices.SortStableFunc(rows, func(a, b Row) int { return a.Time.Compare(b.Time) })
	pw := parquet.NewGenericWriter[Row](w, parquet.Compression(&parquet.Zstd), parquet.MaxRowsPerRowGroup(rowGroupRows))
	if _, err := pw.Write(rows); err != nil {
		return fmt.Errorf("parquet write: %w", err)
	}
	if err := pw.Close(); err != nil { // the footer: without it the file is unreadable
		return fmt.Errorf("parquet close: %w", err)
	}
	return nil
}

// ReadRows reads every row of one file.
func ReadRows(r io.ReaderAt, size int64) ([]Row, error) {
	rows, err := parquet.Read[Row](r, size)
	if err != nil {
		return nil, fmt.Errorf("parquet read: %w", err)
	}
	return rows, nil
}
