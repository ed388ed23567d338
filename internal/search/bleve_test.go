package search_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2"

	"github.com/pulsehq/pulse/internal/search"
)

// TestBleveSecondOpenFails: one process owns an embedded index; another opener gets a clear
// error after the lock timeout instead of blocking forever.
func TestBleveSecondOpenFails(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "events")
	first, err := search.OpenBleve(search.BleveConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	_, err = search.OpenBleve(search.BleveConfig{Path: path, LockTimeout: 100 * time.Millisecond})
	if !errors.Is(err, search.ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
	t.Logf("second open: %v", err)
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := search.OpenBleve(search.BleveConfig{Path: path})
	if err != nil {
		t.Fatalf("reopen after close: %v", err)
	}
	_ = again.Close()
}

// TestBleveRebuildsOlderIndex: an index written by an older mapping (no mapping version, no
// id or word fields) is rebuilt from its stored documents on open, so that id lookups and
// highlights work on history, and documents keep their keys (indexing one again replaces it).
func TestBleveRebuildsOlderIndex(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "events")
	// What version 1 stored: the sort key with doc values, the document as JSON.
	im := bleve.NewIndexMapping()
	dm := bleve.NewDocumentStaticMapping()
	sk := bleve.NewKeywordFieldMapping()
	sk.DocValues = true
	dm.AddFieldMappingsAt("sk", sk)
	src := bleve.NewTextFieldMapping()
	src.Index, src.Store = false, true
	dm.AddFieldMappingsAt("src", src)
	im.DefaultMapping = dm
	old, err := bleve.New(path, im)
	if err != nil {
		t.Fatal(err)
	}
	const n = 12_345 // more than one page of the copy
	docs := make([]search.Doc, n)
	batch := old.NewBatch()
	for i := range docs {
		d := search.Doc{ID: fmt.Sprintf("e%d", i), Type: "video_liked", Subject: fmt.Sprintf("video-%d", i%10), Time: int64(1000 + i), Received: int64(1000 + i)}
		d.Key = search.EventKey(d.Type, d.Subject, d.ID)
		docs[i] = d
		b, _ := json.Marshal(d)
		if err := batch.Index(d.Key, map[string]any{"sk": fmt.Sprintf("%016x", uint64(d.Time)^(1<<63)) + d.Key, "src": string(b)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := errors.Join(old.Batch(batch), old.Close()); err != nil {
		t.Fatal(err)
	}

	e, err := search.OpenBleve(search.BleveConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	if err := e.Index(ctx, docs[:10]); err != nil { // the same keys again: replaced, not added
		t.Fatal(err)
	}
	res, err := e.Search(ctx, search.Query{Limit: 1})
	if err != nil || res.Total != n || res.Hits[0].ID != docs[n-1].ID {
		t.Fatalf("after the rebuild: %+v, %v; want %d documents, newest %s", res, err, n, docs[n-1].ID)
	}
	res, err = e.Search(ctx, search.Query{ID: "e77", Text: "video-7", Limit: 1})
	if err != nil || res.Total != 1 || res.Hits[0].Highlights["subject"] == nil {
		t.Fatalf("id lookup after the rebuild: %+v, %v", res, err)
	}
}
