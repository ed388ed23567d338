package archive

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/testenv"
)

// TestS3Store writes, lists and queries an archive in an S3-compatible bucket on loopback: the
// engine reads cached copies of the objects.
func TestS3Store(t *testing.T) {
	ctx := context.Background()
	cache := t.TempDir()
	st, err := Open(ctx, testenv.StartS3(t, "archive"), cache)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	base := time.Date(2026, 12, 4, 17, 0, 0, 0, time.UTC).UnixMilli()
	rows := make([]Row, 50)
	for i := range rows {
		rows[i] = RowOf(events.Event{ID: "s3-" + time.Duration(i).String(), Type: "like", Subject: "video-1", Time: base + int64(i)*60_000, Received: base})
	}
	key := Key(HourOf(base), 2, Span{ID{5, 0}, ID{9, 1}})
	if err := st.Put(ctx, key, func(w io.Writer) error { return WriteRows(w, rows) }); err != nil {
		t.Fatal(err)
	}
	objs, err := st.List(ctx, HourPrefix(HourOf(base))+FilePrefix(2))
	if err != nil || len(objs) != 1 || objs[0].Key != key {
		t.Fatalf("list = %v, %v", objs, err)
	}
	// A failed write leaves no object.
	failed := Key(HourOf(base), 2, Span{ID{10, 0}, ID{11, 0}})
	if err := st.Put(ctx, failed, func(w io.Writer) error { _, _ = w.Write([]byte("half")); return io.ErrUnexpectedEOF }); err == nil {
		t.Fatal("a failed write was reported stored")
	}
	if objs, _ := st.List(ctx, Root); len(objs) != 1 {
		t.Fatalf("after a failed write: %v", objs)
	}
	eng, err := NewEngine(st)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	n, err := eng.Count(ctx, Filter{Types: []string{"like"}, From: base, To: base + 3_600_000})
	if err != nil || n != 50 {
		t.Fatalf("count = %d, %v", n, err)
	}
	if _, err := os.Stat(filepath.Join(cache, filepath.FromSlash(key))); err != nil {
		t.Fatalf("no cached copy: %v", err)
	}
}
