package search_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

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
